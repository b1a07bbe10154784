-- End-to-end test of bake files in real Neovim (issue 15), headless, on
-- both Neovims, with the real server (no Docker needed: nothing builds).
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=target/debug/buildkit-lsp nvim --headless --clean -u NONE \
--     --cmd 'set rtp^=editors/nvim' -c 'luafile tests/e2e/nvim/bake.lua'
--
-- Workspace: tests/e2e/fixtures/bake (docker-bake.hcl with one target
-- building the `runtime` stage of its Dockerfile; its `=` not aligned).
-- Expected: the plugin sets the `hcl` filetype and attaches; completion in
-- the `target` value offers the Dockerfile's stages; hover on `dockerfile`
-- documents it; definition of `runtime` opens the Dockerfile on its FROM
-- line; formatting aligns the target's `=`.

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local log, fail, eq, wait_for, request = H.log, H.fail, H.eq, H.wait_for, H.request

local function main()
  local dir = H.copy_fixture('bake')
  require('buildkit_lsp').setup({
    cmd = { H.server },
    settings = { buildkit = { diagnostics = { debounceMs = 0 } } },
  })
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/docker-bake.hcl'))
  local bufnr = vim.api.nvim_get_current_buf()
  eq(vim.bo[bufnr].filetype, 'hcl', 'filetype of docker-bake.hcl')
  wait_for(10000, 'the client to attach', function()
    local client = require('buildkit_lsp').get_client(bufnr)
    return client ~= nil and client.initialized ~= false
  end)
  local doc = vim.lsp.util.make_text_document_params(bufnr)

  -- Completion inside `target = "r|untime"`: the Dockerfile's stages.
  local items = request(bufnr, 'textDocument/completion', { textDocument = doc, position = { line = 6, character = 13 } })
  items = items and (items.items or items) or {}
  local labels = {}
  for _, i in ipairs(items) do
    table.insert(labels, i.label)
  end
  eq(labels, { 'build', 'runtime' }, 'stage completion')

  local hover = request(bufnr, 'textDocument/hover', { textDocument = doc, position = { line = 5, character = 4 } })
  H.contains(hover and hover.contents and hover.contents.value, 'dockerfile', 'hover on dockerfile')
  H.contains(hover.contents.value, 'relative to the context', 'hover text')

  local locations = request(bufnr, 'textDocument/definition', { textDocument = doc, position = { line = 6, character = 14 } })
  local loc = locations and (locations[1] or locations)
  if not loc or not loc.uri then
    fail('no definition: %s', vim.inspect(locations))
  end
  eq(vim.uri_to_fname(loc.uri), dir .. '/Dockerfile', 'definition file')
  eq(loc.range.start.line, 3, 'definition line (FROM … AS runtime)')

  local edits = request(bufnr, 'textDocument/formatting', { textDocument = doc, options = { tabSize = 2, insertSpaces = true } })
  vim.lsp.util.apply_text_edits(edits, bufnr, 'utf-16')
  eq(vim.api.nvim_buf_get_lines(bufnr, 5, 8, false), {
    '  dockerfile = "Dockerfile"',
    '  target     = "runtime"',
    '  tags       = ["example/app:${TAG}"]',
  }, 'formatted target')
  -- A formatted file gets no edit.
  eq(request(bufnr, 'textDocument/formatting', { textDocument = doc, options = { tabSize = 2, insertSpaces = true } }), {}, 'second formatting')

  -- Jump: the definition opens the Dockerfile.
  vim.cmd('edit ' .. vim.fn.fnameescape(vim.uri_to_fname(loc.uri)))
  eq(vim.fn.expand('%:t'), 'Dockerfile', 'opened file')
  log('PASS nvim bake e2e')
end

H.run('nvim-bake.log', main)
