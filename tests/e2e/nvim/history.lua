-- End-to-end test of the build history in real Neovim (issue 18), against
-- the real server and Docker Engine 26 (BuildKit 0.13 keeps build records;
-- Engine 20.10's 0.8 does not). Skips, saying so, when the Engine 26 socket
-- of scripts/test-env is absent.
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=… nvim --headless --clean -u NONE --cmd 'set rtp^=editors/nvim' \
--     -c 'luafile tests/e2e/nvim/history.lua'
-- Log: TEST_OUTPUT/nvim-history.log; the report buffer is saved as
-- TEST_OUTPUT/nvim-history-report.md.
--
-- Steps and expected values (by hand): a Dockerfile whose only stage is
-- named after a nonce is built; :BuildkitBuildHistory offers the builds of
-- `default`, among them `✔ <stage> · <time> · <duration> · 1/2 cached`
-- (FROM cached, the RUN with the nonce ran); choosing it opens the read-only
-- markdown buffer buildkit://build/<ref> with the target and a step table
-- where the RUN `ran`.

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local log, fail, eq, contains, wait_for = H.log, H.fail, H.eq, H.contains, H.wait_for

local ENGINE26 = '/run/buildkit-lsp/engine26.sock'

local function main()
  local t0 = vim.loop.hrtime()
  log('neovim %d.%d.%d, server %s', vim.version().major, vim.version().minor, vim.version().patch, H.server)
  if vim.fn.getftype(ENGINE26) ~= 'socket' then
    log('SKIP: no Engine 26 at %s (scripts/test-env starts it)', ENGINE26)
    return
  end
  vim.env.DOCKER_HOST = 'unix://' .. ENGINE26
  local nonce = string.format('%x%x', os.time(), math.random(0, 0xffffff))
  local stage = 'st' .. nonce
  local ws = vim.fn.tempname()
  vim.fn.mkdir(ws, 'p')
  vim.fn.writefile({ 'FROM busybox:test AS ' .. stage, 'RUN echo ' .. nonce .. ' > /n' }, ws .. '/Dockerfile')
  local docker_config = vim.fn.tempname()
  vim.fn.mkdir(docker_config, 'p')
  vim.env.DOCKER_CONFIG = docker_config
  vim.env.BUILDKIT_LSP_STATE_DIR = vim.fn.tempname()
  local builds = require('buildkit_lsp.builds')
  local state_file = vim.fn.tempname() .. '-builders.json'
  builds.state_file = function()
    return state_file
  end
  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = {}
    for i, item in ipairs(items) do
      offered[i] = opts.format_item(item)
    end
    for i, label in ipairs(offered) do
      if label:sub(1, #('✔ ' .. stage .. ' · ')) == '✔ ' .. stage .. ' · ' then
        on_choice(items[i], i)
        return
      end
    end
    on_choice(nil, nil)
  end

  vim.cmd('filetype on')
  local plugin = require('buildkit_lsp')
  plugin.setup({ cmd = { H.server }, settings = { buildkit = {} } })
  vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/Dockerfile'))
  local bufnr = vim.api.nvim_get_current_buf()
  wait_for(10000, 'the server to initialize', function()
    local client = plugin.get_client(bufnr)
    return client ~= nil and client.initialized == true
  end)
  local done = false
  builds.build(bufnr, stage, function()
    done = true
  end)
  wait_for(120000, 'the build to end', function()
    return done
  end)
  eq(builds.last_result and builds.last_result.ok, true, 'the build succeeded')

  local report
  local t = vim.loop.hrtime()
  builds.history(bufnr, function(buf)
    report = buf
  end)
  wait_for(30000, 'the report buffer', function()
    return report ~= nil
  end, function()
    return vim.inspect(offered)
  end)
  log('history (%.0f ms) offered %d builds, first %s', (vim.loop.hrtime() - t) / 1e6, #offered, offered[1])
  local lines = vim.api.nvim_buf_get_lines(report, 0, -1, false)
  local text = table.concat(lines, '\n')
  contains(vim.api.nvim_buf_get_name(report), 'buildkit://build/', 'report buffer name')
  eq({ vim.bo[report].modifiable, vim.bo[report].filetype }, { false, 'markdown' }, 'report buffer is read-only markdown')
  contains(lines[1], '# Build ', 'report title')
  contains(text, '| target | `' .. stage .. '` |', 'report target')
  contains(text, '| status | completed |', 'report status')
  contains(text, 'RUN echo ' .. nonce .. ' > /n | ran |', 'the RUN step ran')
  vim.fn.mkdir(H.out_dir, 'p')
  vim.fn.writefile(lines, H.out_dir .. '/nvim-history-report.md')
  log('report:\n%s', text)
  log('PASS nvim history e2e in %.0f ms', (vim.loop.hrtime() - t0) / 1e6)
end

H.run('nvim-history.log', main)
