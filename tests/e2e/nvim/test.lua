-- End-to-end test of editors/nvim in real Neovim (0.7+), headless; run on
-- Debian's 0.7.2 (start_client path) and 0.11.4 (vim.lsp.start path).
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=target/debug/buildkit-lsp timeout 90 nvim --headless --clean -u NONE \
--     --cmd 'set rtp^=editors/nvim' -c 'luafile tests/e2e/nvim/test.lua'
-- Exits 0 when every check passes, 1 (cquit) on the first failure.
--
-- Fixture (tests/e2e/fixtures/workspace/Dockerfile), expected values worked out
-- by hand from BuildKit's rules:
--   0 FROM busybox:test as Build      FromAsCasing ('as' vs 'FROM'), StageNameCasing ('Build')
--   1 ARG GREETING=hello
--   2 RUN echo "$GREETING" > /greeting
--   3
--   4 FROM busybox:test AS final
--   5 COPY --from=Build /greeting /greeting
--   6 workdir /srv                     ConsistentInstructionCasing (6 upper vs 1 lower)
--   7 CMD ["cat", "/greeting"]

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local repo, server = H.repo, H.server
local log, fail, eq, contains, wait_for, request = H.log, H.fail, H.eq, H.contains, H.wait_for, H.request

-- Hover contents come as MarkupContent, MarkedString or a list of them.
local function hover_text(result)
  if result == nil or result == vim.NIL then
    return nil
  end
  local lines = vim.lsp.util.convert_input_to_markdown_lines(result.contents)
  return table.concat(lines, '\n')
end

local function completion_labels(result)
  if result == nil or result == vim.NIL then
    return {}
  end
  local items = result.items or result
  local labels = {}
  for _, item in ipairs(items) do
    labels[item.label] = true
  end
  return labels
end

local function sorted_diagnostics(bufnr)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(out, { lnum = d.lnum, code = d.code, message = d.message, source = d.source })
  end
  table.sort(out, function(a, b)
    if a.lnum ~= b.lnum then
      return a.lnum < b.lnum
    end
    return tostring(a.code) < tostring(b.code)
  end)
  return out
end

local function lines_and_codes(diags)
  local out = {}
  for _, d in ipairs(diags) do
    table.insert(out, { d.lnum, d.code })
  end
  return out
end

local function main()
  local t0 = vim.loop.hrtime()
  log(
    'neovim %s (plugin path: %s), server %s',
    tostring(vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch),
    vim.lsp.start and 'vim.lsp.start' or 'vim.lsp.start_client + buf_attach_client',
    server
  )
  if vim.fn.executable(server) ~= 1 then
    fail('server binary %s is not executable (cargo build first)', server)
  end

  -- A private copy: the rename edits the buffer, never the fixture.
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local fixture = repo .. '/tests/e2e/fixtures/workspace/Dockerfile'
  local path = dir .. '/Dockerfile'
  vim.fn.writefile(vim.fn.readfile(fixture), path)

  vim.cmd('filetype on')
  local plugin = require('buildkit_lsp')
  plugin.setup({ cmd = { server }, settings = { buildkit = {} } })

  vim.cmd('edit ' .. vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  eq(vim.bo[bufnr].filetype, 'dockerfile', 'filetype of Dockerfile')

  local client
  wait_for(10000, 'the server to initialize', function()
    client = plugin.get_client(bufnr)
    return client ~= nil and client.initialized == true
  end)
  log('initialized after %.0f ms', (vim.loop.hrtime() - t0) / 1e6)

  -- Diagnostics: rule codes, lines, BuildKit's messages, our source.
  local ok3 = vim.wait(10000, function()
    return #vim.diagnostic.get(bufnr) >= 3
  end, 20)
  if not ok3 then
    fail('timed out waiting for three diagnostics; have %s', vim.inspect(sorted_diagnostics(bufnr)))
  end
  local diags = sorted_diagnostics(bufnr)
  log('diagnostics: %s', vim.inspect(diags))
  eq(lines_and_codes(diags), {
    { 0, 'FromAsCasing' },
    { 0, 'StageNameCasing' },
    { 6, 'ConsistentInstructionCasing' },
  }, 'diagnostics (line, code)')
  -- Ranges: `as` is bytes 18-20 of line 0, `Build` 21-26, `workdir` 0-7 of line 6.
  local ranges = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    ranges[d.code] = { d.lnum, d.col, d.end_lnum, d.end_col }
  end
  eq(ranges, {
    FromAsCasing = { 0, 18, 0, 20 },
    StageNameCasing = { 0, 21, 0, 26 },
    ConsistentInstructionCasing = { 6, 0, 6, 7 },
  }, 'diagnostic ranges')
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    eq(d.severity, vim.diagnostic.severity.WARN, d.code .. ' severity')
    local href = d.user_data and d.user_data.lsp and d.user_data.lsp.codeDescription and d.user_data.lsp.codeDescription.href
    contains(href, 'https://docs.docker.com/go/dockerfile/rule/', d.code .. ' codeDescription')
  end
  contains(diags[1].message, "'as' and 'FROM' keywords' casing do not match", 'FromAsCasing message')
  contains(diags[2].message, "Stage name 'Build' should be lowercase", 'StageNameCasing message')
  contains(diags[3].message, "Command 'workdir' should match the case of the command majority (uppercase)",
    'ConsistentInstructionCasing message')
  for _, d in ipairs(diags) do
    eq(d.source, 'buildkit-lsp', 'diagnostic source')
  end

  local uri = vim.uri_from_bufnr(bufnr)
  local function at(line, character)
    return { textDocument = { uri = uri }, position = { line = line, character = character } }
  end

  -- Hover on the RUN keyword: instruction documentation.
  local hover_result = request(bufnr, 'textDocument/hover', at(2, 1))
  local hover = hover_text(hover_result)
  log('hover RUN: %s', tostring(hover))
  contains(hover, '**RUN**', 'hover on RUN')
  contains(hover, 'https://docs.docker.com/reference/dockerfile/#run', 'hover on RUN links the reference')
  eq(hover_result.range, { start = { line = 2, character = 0 }, ['end'] = { line = 2, character = 3 } }, 'hover range of RUN')

  -- Hover on $GREETING: its value and where it is defined (line 2, 1-based).
  local var_result = request(bufnr, 'textDocument/hover', at(2, 12))
  local hover_var = hover_text(var_result)
  log('hover $GREETING: %s', tostring(hover_var))
  contains(hover_var, '`hello`', 'hover on $GREETING shows the value')
  contains(hover_var, 'Defined on line 2', 'hover on $GREETING shows where it is defined')
  -- `$GREETING` spans bytes 10-19 of `RUN echo "$GREETING" …`; the name alone 11-19.
  local vr = var_result.range
  if not (vr.start.line == 2 and (vr.start.character == 10 or vr.start.character == 11) and vr['end'].character == 19) then
    fail('hover range of $GREETING: %s', vim.inspect(vr))
  end

  -- Completion at the start of the empty line 3: instructions.
  local instr = completion_labels(request(bufnr, 'textDocument/completion', at(3, 0)))
  for _, label in ipairs({ 'FROM', 'RUN', 'COPY', 'ARG' }) do
    if not instr[label] then
      fail('completion on an empty line lacks %s; got %s', label, vim.inspect(vim.tbl_keys(instr)))
    end
  end

  -- Completion right after `--from=` on line 5: the stage names.
  local stages = completion_labels(request(bufnr, 'textDocument/completion', at(5, 12)))
  log('completion after --from=: %s', vim.inspect(vim.tbl_keys(stages)))
  if not (stages['Build'] or stages['build']) then
    fail('completion after --from= lacks stage Build; got %s', vim.inspect(vim.tbl_keys(stages)))
  end

  -- Document symbols: one per stage, the first from line 0, the second from line 4.
  local symbols = request(bufnr, 'textDocument/documentSymbol', { textDocument = { uri = uri } })
  log('symbols: %s', vim.inspect(symbols))
  eq(type(symbols), 'table', 'documentSymbol result type')
  local function pos(l, c)
    return { line = l, character = c }
  end
  local function shape(list)
    local out = {}
    for _, sym in ipairs(list or {}) do
      local children = {}
      for _, child in ipairs(sym.children or {}) do
        table.insert(children, child.name)
      end
      table.insert(out, { name = sym.name, range = sym.range, selection = sym.selectionRange, children = children })
    end
    return out
  end
  -- Stage ranges by hand: line 2 is 32 characters long, line 7 is 24.
  eq(shape(symbols), {
    {
      name = 'Build',
      range = { start = pos(0, 0), ['end'] = pos(2, 32) },
      selection = { start = pos(0, 21), ['end'] = pos(0, 26) },
      children = { 'FROM', 'ARG', 'RUN' },
    },
    {
      name = 'final',
      range = { start = pos(4, 0), ['end'] = pos(7, 24) },
      selection = { start = pos(4, 21), ['end'] = pos(4, 26) },
      children = { 'FROM', 'COPY', 'WORKDIR', 'CMD' },
    },
  }, 'document symbols')

  -- Rename the stage `Build` (line 0, col 21) to `builder`: both the
  -- definition and the --from= reference change, nothing else.
  local edit = request(bufnr, 'textDocument/rename', vim.tbl_extend('force', at(0, 21), { newName = 'builder' }))
  if edit == nil or edit == vim.NIL then
    fail('rename returned no WorkspaceEdit')
  end
  -- Exactly two edits: `Build` at 0:21-26 and after `COPY --from=` at 5:12-17.
  local edits = {}
  for _, list in pairs(edit.changes or {}) do
    for _, e in ipairs(list) do
      table.insert(edits, { e.range.start.line, e.range.start.character, e.range['end'].line, e.range['end'].character, e.newText })
    end
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    for _, e in ipairs(change.edits or {}) do
      table.insert(edits, { e.range.start.line, e.range.start.character, e.range['end'].line, e.range['end'].character, e.newText })
    end
  end
  table.sort(edits, function(a, b)
    return a[1] < b[1]
  end)
  eq(edits, { { 0, 21, 0, 26, 'builder' }, { 5, 12, 5, 17, 'builder' } }, 'rename edits')
  vim.lsp.util.apply_workspace_edit(edit, client.offset_encoding or 'utf-16')
  eq(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), {
    'FROM busybox:test as builder',
    'ARG GREETING=hello',
    'RUN echo "$GREETING" > /greeting',
    '',
    'FROM busybox:test AS final',
    'COPY --from=builder /greeting /greeting',
    'workdir /srv',
    'CMD ["cat", "/greeting"]',
  }, 'buffer after rename')

  -- The edit went through didChange: StageNameCasing is gone, the others stay.
  if not vim.wait(10000, function()
    return #vim.diagnostic.get(bufnr) == 2
  end, 20) then
    fail('timed out waiting for two diagnostics after the rename; have %s', vim.inspect(sorted_diagnostics(bufnr)))
  end
  eq(lines_and_codes(sorted_diagnostics(bufnr)), {
    { 0, 'FromAsCasing' },
    { 6, 'ConsistentInstructionCasing' },
  }, 'diagnostics after rename')

  -- User commands: one per advertised buildkit.* command (docs/lsp.md lists them).
  for _, name in ipairs({ 'Buildkit', 'BuildkitIgnoreRuleEverywhere', 'BuildkitReloadSettings', 'BuildkitServerInfo' }) do
    eq(vim.fn.exists(':' .. name), 2, 'user command :' .. name)
  end
  -- :BuildkitIgnoreRuleEverywhere runs buildkit.ignoreRuleEverywhere on the
  -- server (the rule disappears) and keeps the returned setting in the client.
  vim.cmd('BuildkitIgnoreRuleEverywhere ConsistentInstructionCasing')
  if not vim.wait(10000, function()
    return #vim.diagnostic.get(bufnr) == 1
  end, 20) then
    fail('ConsistentInstructionCasing still reported after ignoring it; have %s', vim.inspect(sorted_diagnostics(bufnr)))
  end
  eq(lines_and_codes(sorted_diagnostics(bufnr)), { { 0, 'FromAsCasing' } }, 'diagnostics after ignoring a rule')
  if not vim.wait(5000, function()
    local b = client.config.settings.buildkit
    return b and b.checks and b.checks.skip ~= nil
  end, 20) then
    fail('client settings did not receive buildkit.checks.skip: %s', vim.inspect(client.config.settings))
  end
  eq(client.config.settings.buildkit.checks.skip, { 'ConsistentInstructionCasing' }, 'client setting buildkit.checks.skip')

  -- Range formatting of line 0 only: `as` becomes `AS` there, while
  -- `workdir` on line 6 (outside the range) stays as written.
  local fmt = request(bufnr, 'textDocument/rangeFormatting', {
    textDocument = { uri = uri },
    range = { start = pos(0, 0), ['end'] = pos(0, 28) },
    options = { tabSize = 4, insertSpaces = true },
  })
  log('rangeFormatting edits: %s', vim.inspect(fmt))
  eq(#fmt, 1, 'one range formatting edit')
  vim.lsp.util.apply_text_edits(fmt, bufnr, client.offset_encoding or 'utf-16')
  eq(vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1], 'FROM busybox:test AS builder', 'line 0 after range formatting')
  eq(vim.api.nvim_buf_get_lines(bufnr, 6, 7, false)[1], 'workdir /srv', 'line 6 untouched by range formatting')
  if not vim.wait(10000, function()
    return #vim.diagnostic.get(bufnr) == 0
  end, 20) then
    fail('FromAsCasing still reported after range formatting; have %s', vim.inspect(sorted_diagnostics(bufnr)))
  end

  log('PASS nvim e2e in %.0f ms', (vim.loop.hrtime() - t0) / 1e6)
end

H.run('nvim-e2e.log', main)
