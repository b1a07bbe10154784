-- End-to-end test of the build insight in real Neovim (issue 18), against
-- the real server and the test Docker Engine (docker driver).
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=… nvim --headless --clean -u NONE --cmd 'set rtp^=editors/nvim' \
--     -c 'luafile tests/e2e/nvim/insight.lua'
-- Exits 0 when every check passes, 1 (cquit) on the first failure. Log:
-- TEST_OUTPUT/nvim-insight.log; the buffer with its inlay hints is saved as
-- TEST_OUTPUT/nvim-insight-screen.txt (the headless "screenshot"). Inlay
-- hints exist from Neovim 0.10: on older ones the test says so and passes.
--
-- Fixture tests/e2e/fixtures/insight (copied to a temp folder, with a fresh
-- nonce.txt so the first RUN is never cached):
--   0 FROM busybox:test  1 COPY nonce.txt /nonce.txt  2 RUN cat /nonce.txt
--   3 COPY b.txt /b.txt  4 RUN cat /b.txt
-- Expected by hand: build, change b.txt, build again: lines 0-2 `cached`,
-- line 3 `ran … s: b.txt changed`, line 4 `ran … s: an earlier step ran`.

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local log, fail, eq, wait_for = H.log, H.fail, H.eq, H.wait_for

-- line (0-based) → label of the buffer's inlay hints from buildkit-lsp.
local function hints(bufnr)
  local out = {}
  for _, item in ipairs(vim.lsp.inlay_hint.get({ bufnr = bufnr })) do
    local label = item.inlay_hint.label
    if type(label) == 'table' then
      local parts = {}
      for _, p in ipairs(label) do
        table.insert(parts, p.value)
      end
      label = table.concat(parts)
    end
    out[item.inlay_hint.position.line] = label
  end
  return out
end

local function build(builds, bufnr)
  local done = false
  builds.last_result = nil
  builds.build(bufnr, nil, function()
    done = true
  end)
  wait_for(120000, 'the build to end', function()
    return done
  end)
  if not (builds.last_result and builds.last_result.ok) then
    fail('build failed: %s', vim.inspect(builds.last_result))
  end
end

local function main()
  local t0 = vim.loop.hrtime()
  log('neovim %d.%d.%d, server %s', vim.version().major, vim.version().minor, vim.version().patch, H.server)
  if vim.fn.has('nvim-0.10') == 0 then
    log('SKIP: Neovim before 0.10 has no inlay hints')
    return
  end
  local ws = H.copy_fixture('insight')
  local nonce = string.format('%x%x', os.time(), math.random(0, 0xffffff))
  vim.fn.writefile({ nonce }, ws .. '/nonce.txt')
  local docker_config = vim.fn.tempname()
  vim.fn.mkdir(docker_config, 'p')
  vim.env.DOCKER_CONFIG = docker_config
  vim.env.BUILDKIT_LSP_STATE_DIR = vim.fn.tempname()
  local builds = require('buildkit_lsp.builds')
  local state_file = vim.fn.tempname() .. '-builders.json'
  builds.state_file = function()
    return state_file
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
  eq(vim.lsp.inlay_hint.is_enabled({ bufnr = bufnr }), true, 'inlay hints enabled by the plugin')

  build(builds, bufnr)
  wait_for(10000, "the first build's hints", function()
    return hints(bufnr)[2] ~= nil
  end, function()
    return vim.inspect(hints(bufnr))
  end)
  log('first build: %s', vim.inspect(hints(bufnr)))

  vim.fn.writefile({ 'b changed ' .. nonce }, ws .. '/b.txt')
  local t = vim.loop.hrtime()
  build(builds, bufnr)
  -- The server's workspace/inlayHint/refresh makes Neovim ask again.
  -- (The first build's hints name b.txt too: wait for the COPY before it
  -- to say cached.)
  wait_for(10000, "the second build's hints", function()
    local h = hints(bufnr)
    return h[1] == 'cached' and (h[3] or ''):find('b.txt changed', 1, true) ~= nil
  end, function()
    return vim.inspect(hints(bufnr))
  end)
  local h = hints(bufnr)
  log('second build (%.0f ms): %s', (vim.loop.hrtime() - t) / 1e6, vim.inspect(h))
  eq({ h[0], h[1], h[2] }, { 'cached', 'cached', 'cached' }, 'lines 0-2')
  if not h[3]:match('^ran [0-9.]+ s: b%.txt changed$') then
    fail('line 3: %q', h[3])
  end
  if not h[4]:match('^ran [0-9.]+ s: an earlier step ran$') then
    fail('line 4: %q', h[4])
  end

  -- The headless screenshot: each line with the hint Neovim draws after it.
  local screen = {}
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    table.insert(screen, h[i - 1] and (line .. '  ' .. h[i - 1]) or line)
  end
  vim.fn.mkdir(H.out_dir, 'p')
  vim.fn.writefile(screen, H.out_dir .. '/nvim-insight-screen.txt')
  log('screen:\n%s', table.concat(screen, '\n'))
  log('PASS nvim insight e2e in %.0f ms', (vim.loop.hrtime() - t0) / 1e6)
end

H.run('nvim-insight.log', main)
