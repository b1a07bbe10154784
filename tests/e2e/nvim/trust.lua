-- End-to-end test of Restricted Mode in real Neovim (issue 20), headless, on
-- both Neovims, with the real server (no Docker needed: nothing builds).
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=target/debug/buildkit-lsp nvim --headless --clean -u NONE \
--     --cmd 'set rtp^=editors/nvim' -c 'luafile tests/e2e/nvim/trust.lua'
--
-- Workspace: tests/e2e/fixtures/workspace/Dockerfile (FromAsCasing and
-- StageNameCasing on line 0, ConsistentInstructionCasing on line 6) and a
-- project settings file .buildkit-lsp.json that skips StageNameCasing and
-- turns on buildOnSave, which vim.secure has been told to deny (0.10+) or
-- cannot be asked about (0.7). setup{ trusted = function(root) … false }.
-- Expected: init_options.trusted = false; the skip applies (two warnings),
-- buildOnSave is dropped; the lens reads `🔒 Build (Restricted Mode)`;
-- buildkit.build answers -32010 with data.restricted; after :BuildkitTrust
-- the lens reads `▶ Build` and serverInfo says trusted, same client.

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local log, fail, eq, wait_for, request = H.log, H.fail, H.eq, H.wait_for, H.request

local function lens_titles(bufnr)
  local lenses = request(bufnr, 'textDocument/codeLens', { textDocument = vim.lsp.util.make_text_document_params(bufnr) })
  local titles = {}
  for _, l in ipairs(lenses or {}) do
    table.insert(titles, l.command and l.command.title or '?')
  end
  return titles
end

local function main()
  local dir = H.copy_fixture('workspace')
  local project = dir .. '/.buildkit-lsp.json'
  vim.fn.writefile({ '{"buildkit": {"checks": {"skip": ["StageNameCasing"]}, "buildOnSave": true}}' }, project)
  if vim.secure and vim.secure.trust then
    vim.env.XDG_STATE_HOME = dir .. '/state'
    vim.fn.mkdir(vim.fn.stdpath('state'), 'p')
    vim.secure.trust({ action = 'deny', path = project })
  end
  local asked = {}
  require('buildkit_lsp').setup({
    cmd = { H.server },
    trusted = function(root)
      table.insert(asked, root)
      return false
    end,
    settings = { buildkit = { diagnostics = { debounceMs = 0 } } },
  })
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/Dockerfile'))
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  wait_for(10000, 'the client to attach', function()
    client = require('buildkit_lsp').get_client(bufnr)
    return client ~= nil and client.initialized ~= false
  end)
  eq(asked, { dir }, 'setup{ trusted } asked about the root')
  eq(client.config.init_options.trusted, false, 'init_options.trusted')
  eq(client.config.settings.buildkit.buildOnSave, nil, 'buildOnSave from the untrusted project file is dropped')

  -- Analysis answers, with the project file's analysis setting.
  wait_for(15000, 'two warnings', function()
    return #vim.diagnostic.get(bufnr) == 2
  end, function()
    return vim.inspect(vim.diagnostic.get(bufnr))
  end)
  local codes = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(codes, d.code)
  end
  table.sort(codes)
  eq(codes, { 'ConsistentInstructionCasing', 'FromAsCasing' }, 'diagnostics in Restricted Mode (StageNameCasing skipped)')

  local titles = lens_titles(bufnr)
  log('lenses in Restricted Mode: %s', vim.inspect(titles))
  if not vim.tbl_contains(titles, '🔒 Build (Restricted Mode)') then
    fail('no locked build lens: %s', vim.inspect(titles))
  end

  local responses = vim.lsp.buf_request_sync(bufnr, 'workspace/executeCommand', {
    command = 'buildkit.build',
    arguments = { { uri = vim.uri_from_bufnr(bufnr) } },
  }, 10000)
  local response = responses and select(2, next(responses))
  -- 0.7 names the field `error`, later versions `err`.
  local err = response and (response.err or response.error)
  if not err then
    fail('buildkit.build was not refused: %s', vim.inspect(response))
  end
  eq(err.code, -32010, 'refusal code')
  eq(err.data, { restricted = true, command = 'buildkit.build' }, 'refusal data')
  log('refused: %s', err.message)

  -- :BuildkitTrust lifts it on the running server.
  local id = client.id
  vim.cmd('BuildkitTrust')
  wait_for(10000, 'the ▶ Build lens', function()
    return vim.tbl_contains(lens_titles(bufnr), '▶ Build')
  end, function()
    return vim.inspect(lens_titles(bufnr))
  end)
  local info = request(bufnr, 'workspace/executeCommand', { command = 'buildkit.serverInfo', arguments = {} })
  eq(info.trusted, true, 'serverInfo.trusted after :BuildkitTrust')
  eq(require('buildkit_lsp').get_client(bufnr).id, id, 'the same client (no restart)')
  log('PASS nvim trust e2e')
end

H.run('nvim-trust.log', main)
