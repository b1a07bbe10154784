-- End-to-end test of Compose files in real Neovim (issue 16), against the
-- real server and the test Docker Engine (docker driver).
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=… nvim --headless --clean -u NONE --cmd 'set rtp^=editors/nvim' \
--     -c 'luafile tests/e2e/nvim/compose.lua'
-- Exits 0 when every check passes, 1 (cquit) on the first failure. Log:
-- TEST_OUTPUT/nvim-compose.log.
--
-- Fixture tests/e2e/fixtures/compose (copied to a temp folder with a fresh
-- nonce.txt):
--   compose.yaml  1 web:    build (target base), image buildkit-lsp-e2e-compose:dev
--                 6 cache:  build with 10 `- type=local,dest=…` under cache_to
-- Expected by hand: the only builder is the docker context's `default`
-- (docker driver), which exports only inline cache, so BuilderCacheExport is
-- an error on line 10, columns 8-53 (the `- type=local…` item); each service
-- with a build gets `▶ Build service <name>` on its name; completion under
-- `build:` offers `cache_from` with the schema's description; running the
-- `web` lens builds and prints `compose <nonce> 42`.

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local log, fail, eq, wait_for = H.log, H.fail, H.eq, H.wait_for

local function main()
  log('neovim %d.%d.%d, server %s', vim.version().major, vim.version().minor, vim.version().patch, H.server)
  local ws = H.copy_fixture('compose')
  local nonce = string.format('%x%x', os.time(), math.random(0, 0xffffff))
  vim.fn.writefile({ nonce }, ws .. '/nonce.txt')
  local docker_config = vim.fn.tempname()
  vim.fn.mkdir(docker_config, 'p')
  vim.env.DOCKER_CONFIG = docker_config

  vim.cmd('filetype on')
  local plugin = require('buildkit_lsp')
  plugin.setup({ cmd = { H.server }, settings = { buildkit = {} } })
  vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/compose.yaml'))
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  wait_for(10000, 'the server to attach to compose.yaml', function()
    client = plugin.get_client(bufnr)
    return client ~= nil and client.initialized == true
  end)
  eq(client.config.root_dir, ws, 'workspace root (the folder holding compose.yaml)')

  -- The capability diagnostic on the YAML value.
  local found
  wait_for(20000, 'BuilderCacheExport on compose.yaml', function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.code == 'BuilderCacheExport' then
        found = d
        return true
      end
    end
    return false
  end, function()
    return vim.inspect(vim.diagnostic.get(bufnr))
  end)
  eq({ found.lnum, found.col, found.end_lnum, found.end_col }, { 10, 8, 10, 53 }, 'diagnostic range')
  H.contains(found.message, 'Cache export (type=local) is not supported for the docker driver', 'message')

  -- The lenses.
  local titles
  wait_for(20000, 'the service lenses', function()
    if vim.fn.has('nvim-0.10') == 1 then
      vim.lsp.codelens.refresh({ bufnr = 0 })
    else
      vim.lsp.codelens.refresh()
    end
    titles = {}
    for _, lens in ipairs(vim.lsp.codelens.get(bufnr) or {}) do
      if lens.command then
        table.insert(titles, { lens.range.start.line, lens.command.title })
      end
    end
    table.sort(titles, function(a, b)
      return a[1] < b[1]
    end)
    return #titles == 2
  end, function()
    return vim.inspect(titles)
  end)
  eq(titles, { { 1, '▶ Build service web' }, { 6, '▶ Build service cache' } }, 'lenses')

  -- Completion under build:.
  local result = H.request(bufnr, 'textDocument/completion', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = 5, character = 6 },
  })
  local items = result.items or result
  local cache_from
  for _, item in ipairs(items) do
    if item.label == 'cache_from' then
      cache_from = item
    end
  end
  if not cache_from then
    fail('cache_from not offered: %s', vim.inspect(vim.tbl_map(function(i)
      return i.label
    end, items)))
  end
  H.contains(cache_from.documentation.value, 'cache', 'cache_from documentation')

  -- Run the web lens's command, as the lens would.
  local web
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
    if lens.command and lens.command.title == '▶ Build service web' then
      web = lens.command
    end
  end
  local answer
  client.request('workspace/executeCommand', { command = web.command, arguments = web.arguments }, function(err, res)
    answer = { err = err, res = res }
  end, bufnr)
  wait_for(120000, 'the web service build', function()
    return answer ~= nil
  end)
  if answer.err then
    fail('build failed: %s', vim.inspect(answer.err))
  end
  eq(answer.res.ok, true, 'build result ok')
  eq(answer.res.tags, { 'buildkit-lsp-e2e-compose:dev' }, 'image tag from the service')
  log('compose e2e passed')
end

H.run('nvim-compose.log', main)
