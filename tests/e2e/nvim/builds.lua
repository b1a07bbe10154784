-- End-to-end test of builder selection and builds in real Neovim (issue 7),
-- against the real server and the test Docker Engine (docker driver).
--
-- Run by scripts/test-editors as:
--   BUILDKIT_LSP=… nvim --headless --clean -u NONE --cmd 'set rtp^=editors/nvim' \
--     -c 'luafile tests/e2e/nvim/builds.lua'
-- Exits 0 when every check passes, 1 (cquit) on the first failure. Log:
-- TEST_OUTPUT/nvim-builds.log; the build log buffer and the diagnostics are
-- saved as TEST_OUTPUT/nvim-build-screen.txt (the headless "screenshot").
--
-- Fixture tests/e2e/fixtures/build (copied to a temp folder, with a fresh
-- nonce.txt so the RUN step is never cached):
--   Dockerfile       0 FROM busybox:test AS build
--                    1 COPY nonce.txt /nonce.txt
--                    2 RUN echo "built $(cat /nonce.txt) $((6 * 7))" > /built.txt && cat /built.txt && sleep 3
--                    4 FROM busybox:test AS final …
--   docker-bake.hcl  target "app" (the Dockerfile, tag buildkit-lsp-e2e:dev) and
--                    target "cache" (stage build, cache-to type=registry)
--   fail/Dockerfile  2 RUN exit 3
-- Expected by hand: the buildx store is isolated (DOCKER_CONFIG in a temp
-- folder), so the only builder is the docker context's `default` (docker,
-- running); the docker driver cannot export a registry cache, and buildx
-- refuses such a build, so BuilderCacheExport is an error on line 0 (FROM of
-- stage `build`, the "cache" target); the build prints `built <nonce> 42`; the failing build
-- puts BuildFailed on `RUN exit 3` (line 2, columns 0-10).

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local log, fail, eq, contains, wait_for = H.log, H.fail, H.eq, H.contains, H.wait_for

-- The server commands each part of this test needs (the protocol of issue 7).
local SELECTION_COMMANDS = { 'buildkit.listBuilders', 'buildkit.selectBuilder', 'buildkit.useBuilder' }
local BUILD_COMMANDS = { 'buildkit.build', 'buildkit.cancelBuild' }

-- Fails naming the commands the server does not advertise.
local function require_commands(plugin, client, wanted)
  local advertised = plugin.server_commands(client)
  local missing = {}
  for _, command in ipairs(wanted) do
    if not vim.tbl_contains(advertised, command) then
      table.insert(missing, command)
    end
  end
  if #missing > 0 then
    fail('server feature missing: %s not advertised in executeCommandProvider (have %s)', table.concat(missing, ', '), table.concat(advertised, ', '))
  end
end

-- vim.ui.select stand-in: picks the first item whose label `choose` accepts
-- and records every prompt with its labels.
local selects = {}
local choose = function()
  return false
end
vim.ui.select = function(items, opts, on_choice)
  local labels = {}
  for i, item in ipairs(items) do
    labels[i] = opts and opts.format_item and opts.format_item(item) or tostring(item)
  end
  table.insert(selects, { prompt = opts and opts.prompt, labels = labels })
  for i, label in ipairs(labels) do
    if choose(label) then
      on_choice(items[i], i)
      return
    end
  end
  on_choice(nil, nil)
end

local function lens_titles(bufnr)
  local out = {}
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr) or {}) do
    if lens.command and lens.command.title then
      table.insert(out, { lens.range.start.line, lens.command.title })
    end
  end
  table.sort(out, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
  return out
end

local function refresh_lenses()
  if vim.fn.has('nvim-0.10') == 1 then
    vim.lsp.codelens.refresh({ bufnr = 0 })
  else
    vim.lsp.codelens.refresh()
  end
end

-- Waits for the lenses of the current buffer to satisfy predicate, asking again every 500 ms.
local function wait_for_lenses(bufnr, what, predicate)
  local last = 0
  wait_for(20000, what, function()
    local now = vim.loop.now()
    if now - last > 500 then
      last = now
      refresh_lenses()
    end
    return predicate(lens_titles(bufnr))
  end, function()
    return vim.inspect(lens_titles(bufnr))
  end)
end

-- The line-0 lens that builds the whole Dockerfile: `▶ Build` or `▶ Build (tags)`.
local function is_build_lens(title)
  return title == '▶ Build' or (title:sub(1, #'▶ Build (') == '▶ Build (')
end

local function find_diagnostic(bufnr, code)
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.code == code then
      return d
    end
  end
  return nil
end

local function diagnostics_text(bufnr)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(out, string.format('%d:%d-%d:%d %s %s: %s', d.lnum, d.col, d.end_lnum, d.end_col, tostring(d.source), tostring(d.code), d.message))
  end
  return table.concat(out, '\n')
end

-- Runs the lens on `line` whose title `wanted` accepts, as a user would
-- (cursor on the line, :BuildkitCodeLensRun, choice among the line's lenses).
local function run_lens(line, wanted)
  vim.api.nvim_win_set_cursor(0, { line + 1, 0 })
  choose = wanted
  vim.cmd('BuildkitCodeLensRun')
end

local function main()
  local t0 = vim.loop.hrtime()
  log('neovim %d.%d.%d, server %s', vim.version().major, vim.version().minor, vim.version().patch, H.server)
  if vim.fn.executable(H.server) ~= 1 then
    fail('server binary %s is not executable (cargo build first)', H.server)
  end

  local ws = H.copy_fixture('build')
  local nonce = string.format('%x%x', os.time(), math.random(0, 0xffffff))
  vim.fn.writefile({ nonce }, ws .. '/nonce.txt')
  -- A buildx store of our own: the only builder is the docker context's default.
  local docker_config = vim.fn.tempname()
  vim.fn.mkdir(docker_config, 'p')
  vim.env.DOCKER_CONFIG = docker_config
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
  local client
  wait_for(10000, 'the server to initialize', function()
    client = plugin.get_client(bufnr)
    return client ~= nil and client.initialized == true
  end)
  eq(client.config.root_dir, ws, 'workspace root (the folder holding docker-bake.hcl)')
  -- No builder chosen yet; the workspace is trusted (setup{ trusted } default).
  eq(client.config.init_options, { trusted = true }, 'init_options before any builder was chosen')

  -- The issue-7 server side must be there; name what is missing.
  require_commands(plugin, client, SELECTION_COMMANDS)

  -- :BuildkitSelectBuilder lists the builders and selects `default`.
  local t = vim.loop.hrtime()
  choose = function(label)
    return label:sub(1, #'default (docker, ') == 'default (docker, '
  end
  vim.cmd('BuildkitSelectBuilder')
  -- The state file is written once buildkit.useBuilder answered.
  wait_for(10000, 'the picker and the choice in the state file', function()
    return #selects == 1 and vim.fn.filereadable(state_file) == 1
  end, function()
    return vim.inspect(selects)
  end)
  log('builder selected after %.0f ms; picker %s', (vim.loop.hrtime() - t) / 1e6, vim.inspect(selects))
  eq(selects[1].labels, { 'default (docker, running) *' }, 'builders offered by :BuildkitSelectBuilder')
  wait_for(10000, 'vim.g.buildkit_builder from buildkit/builderChanged', function()
    return vim.g.buildkit_builder == 'default (docker)'
  end, function()
    return tostring(vim.g.buildkit_builder)
  end)
  eq(vim.json.decode(table.concat(vim.fn.readfile(state_file), '\n')), { [ws] = 'default' }, 'remembered builders')

  -- The capability warning: the "cache" target exports a registry cache.
  wait_for(20000, 'BuilderCacheExport on the Dockerfile', function()
    return find_diagnostic(bufnr, 'BuilderCacheExport') ~= nil
  end, function()
    return diagnostics_text(bufnr)
  end)
  local warning = find_diagnostic(bufnr, 'BuilderCacheExport')
  log('capability warning: %d:%d %s', warning.lnum, warning.col, warning.message)
  -- An error: buildx refuses such a build on the docker driver.
  eq({ warning.lnum, warning.severity, warning.source }, { 0, vim.diagnostic.severity.ERROR, 'buildkit-lsp' }, 'BuilderCacheExport line, severity, source')
  contains(warning.message, 'bake target "cache"', 'BuilderCacheExport names the bake target')
  contains(warning.message, 'not supported for the docker driver', 'BuilderCacheExport message')

  -- Lenses: protocol titles on line 0 (stage build) and line 4 (stage final).
  -- The ⚒ lens names the builder once the selection reached the server.
  wait_for_lenses(bufnr, 'the build lenses', function(lenses)
    for _, l in ipairs(lenses) do
      if l[1] == 0 and l[2] == '⚒ default (docker)' then
        return #lenses >= 4
      end
    end
    return false
  end)
  local lenses = lens_titles(bufnr)
  log('lenses: %s', vim.inspect(lenses))
  local build_title
  local others = {}
  for _, l in ipairs(lenses) do
    if l[1] == 0 and is_build_lens(l[2]) then
      build_title = l[2]
    else
      table.insert(others, l)
    end
  end
  if not build_title then
    fail('no "▶ Build" lens on line 0: %s', vim.inspect(lenses))
  end
  -- Sorted by line, then by bytes: '▶' (U+25B6) before '⚒' (U+2692).
  eq(others, { { 0, '▶ Build stage build' }, { 0, '⚒ default (docker)' }, { 4, '▶ Build stage final' } }, 'other lenses')

  -- The ⚒ lens opens the same picker (vim.lsp.commands), not the server's
  -- window/showMessageRequest.
  local before = #selects
  run_lens(0, function(label)
    return label == '⚒ default (docker)' or label:sub(1, #'default (docker, ') == 'default (docker, '
  end)
  wait_for(10000, 'the builder picker from the ⚒ lens', function()
    return #selects == before + 2
  end, function()
    return vim.inspect(selects)
  end)
  eq(selects[#selects], { prompt = 'BuildKit builder for this workspace', labels = { 'default (docker, running) *' } }, 'picker of the ⚒ lens')

  -- Click ▶ Build: progress, log buffer with the RUN output, success.
  require_commands(plugin, client, BUILD_COMMANDS)
  t = vim.loop.hrtime()
  run_lens(0, function(label)
    return label == build_title
  end)
  wait_for(90000, 'the build to end', function()
    return builds.last_result ~= nil
  end, function()
    return table.concat(vim.api.nvim_buf_get_lines(builds.log_buffer(), 0, -1, false), '\n')
  end)
  local result = builds.last_result
  local built_tags = result.tags
  local log_lines = vim.api.nvim_buf_get_lines(builds.log_buffer(), 0, -1, false)
  local log_text = table.concat(log_lines, '\n')
  log('build ended after %.0f ms: %s', (vim.loop.hrtime() - t) / 1e6, vim.inspect(result))
  if result.ok ~= true then
    fail('build failed: %s\nlog:\n%s', tostring(result.error), log_text)
  end
  eq({ result.builder, result.driver, result.cancelled }, { 'default', 'docker', false }, 'build result builder, driver, cancelled')
  if not (type(result.totalSteps) == 'number' and result.cachedSteps < result.totalSteps) then
    fail('the RUN step with a new nonce cannot be cached: %s', vim.inspect(result))
  end
  eq(vim.api.nvim_buf_get_name(builds.log_buffer()), 'buildkit://build-log', 'log buffer name')
  contains(log_text, 'built ' .. nonce .. ' 42', 'the RUN output in the log buffer')
  contains(log_lines[#log_lines], 'Built ', 'the summary line ends the log')
  contains(log_lines[#log_lines], ' on default (docker) in ', 'the summary line names the builder')
  local begin_seen, end_seen
  for _, line in ipairs(builds.progress_seen) do
    if line:find('^Building .- on default %(docker%)') then
      begin_seen = begin_seen or line
      if line:find('done in', 1, true) then
        end_seen = line
      end
    end
  end
  log('progress: %d lines shown, first %s, last %s', #builds.progress_seen, tostring(begin_seen), tostring(end_seen))
  if not begin_seen or not end_seen then
    fail('work-done progress "Building … on default (docker)" through "done in": %s', vim.inspect(builds.progress_seen))
  end

  -- :BuildkitCancelBuild during the RUN step (a new nonce makes it run
  -- again, and it sleeps 3 s after printing): the build ends cancelled
  -- within 2 s.
  vim.fn.writefile({ nonce .. '-2' }, ws .. '/nonce.txt')
  builds.last_result = nil
  vim.cmd('BuildkitBuild')
  wait_for(60000, 'the RUN output of the build to cancel', function()
    local text = table.concat(vim.api.nvim_buf_get_lines(builds.log_buffer(), 0, -1, false), '\n')
    return text:find('built ' .. nonce .. '-2 42', 1, true) ~= nil
  end)
  t = vim.loop.hrtime()
  vim.cmd('BuildkitCancelBuild')
  wait_for(10000, 'the cancelled build to end', function()
    return builds.last_result ~= nil
  end)
  local cancel_ms = (vim.loop.hrtime() - t) / 1e6
  log('cancelled build ended %.0f ms after :BuildkitCancelBuild: %s', cancel_ms, vim.inspect(builds.last_result))
  eq({ builds.last_result.ok, builds.last_result.cancelled }, { false, true }, 'cancelled build result')
  if cancel_ms > 2000 then
    fail('the cancelled build took %.0f ms to end (at most 2000)', cancel_ms)
  end

  -- The failing Dockerfile: its ▶ Build lens ends in BuildFailed on RUN exit 3.
  vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/fail/Dockerfile'))
  local fail_buf = vim.api.nvim_get_current_buf()
  wait_for(10000, 'the client on fail/Dockerfile', function()
    return plugin.get_client(fail_buf) ~= nil
  end)
  eq(plugin.get_client(fail_buf).id, client.id, 'one client per workspace root')
  wait_for_lenses(fail_buf, 'the ▶ Build lens of fail/Dockerfile', function(l)
    for _, lens in ipairs(l) do
      if lens[1] == 0 and is_build_lens(lens[2]) then
        return true
      end
    end
    return false
  end)
  builds.last_result = nil
  t = vim.loop.hrtime()
  run_lens(0, is_build_lens)
  wait_for(90000, 'the failing build to end', function()
    return builds.last_result ~= nil
  end)
  local failed = builds.last_result
  log('failing build ended after %.0f ms: %s', (vim.loop.hrtime() - t) / 1e6, vim.inspect(failed))
  eq({ failed.ok, failed.cancelled }, { false, false }, 'failing build result')
  wait_for(10000, 'BuildFailed on fail/Dockerfile', function()
    return find_diagnostic(fail_buf, 'BuildFailed') ~= nil
  end, function()
    return diagnostics_text(fail_buf)
  end)
  local failure = find_diagnostic(fail_buf, 'BuildFailed')
  log('failure diagnostic: %s', diagnostics_text(fail_buf))
  eq(
    { failure.lnum, failure.col, failure.end_lnum, failure.end_col, failure.severity, failure.source },
    { 2, 0, 2, 10, vim.diagnostic.severity.ERROR, 'buildkit' },
    'BuildFailed range (RUN exit 3), severity, source'
  )
  if not failure.message:find('exit code:? 3') then
    fail('BuildFailed message names exit code 3: %q', failure.message)
  end

  -- The headless "screenshot": what the log buffer and diagnostics show.
  local screen = { '== buildkit://build-log ==' }
  vim.list_extend(screen, vim.api.nvim_buf_get_lines(builds.log_buffer(), 0, -1, false))
  table.insert(screen, '== diagnostics of Dockerfile ==')
  vim.list_extend(screen, vim.split(diagnostics_text(bufnr), '\n', { plain = true }))
  table.insert(screen, '== diagnostics of fail/Dockerfile ==')
  vim.list_extend(screen, vim.split(diagnostics_text(fail_buf), '\n', { plain = true }))
  vim.fn.mkdir(H.out_dir, 'p')
  vim.fn.writefile(screen, H.out_dir .. '/nvim-build-screen.txt')

  -- :BuildkitBuildLog shows the log buffer in a window.
  vim.cmd('BuildkitBuildLog')
  eq(vim.api.nvim_buf_get_name(0), 'buildkit://build-log', ':BuildkitBuildLog opens the log buffer')
  vim.cmd('wincmd p')

  -- A restarted client starts the server with the remembered builder.
  plugin.restart()
  local restarted
  wait_for(10000, 'the restarted client', function()
    restarted = plugin.get_client(fail_buf)
    return restarted ~= nil and restarted.id ~= client.id and restarted.initialized == true
  end)
  eq(restarted.config.init_options, { builder = 'default', trusted = true }, 'init_options of the restarted client')

  -- The bake file gets the server too (any filetype): a lens per target
  -- block (lines 7 and 12) and the same finding on the cache-to attribute
  -- (line 15, after its two-space indent).
  vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/docker-bake.hcl'))
  local bake_buf = vim.api.nvim_get_current_buf()
  wait_for(10000, 'the client on docker-bake.hcl', function()
    return plugin.get_client(bake_buf) ~= nil
  end)
  wait_for_lenses(bake_buf, 'the bake target lenses', function(l)
    return #l >= 2
  end)
  eq(lens_titles(bake_buf), { { 7, '▶ Bake target app' }, { 12, '▶ Bake target cache' } }, 'bake file lenses')
  wait_for(20000, 'BuilderCacheExport on the bake file', function()
    return find_diagnostic(bake_buf, 'BuilderCacheExport') ~= nil
  end, function()
    return diagnostics_text(bake_buf)
  end)
  local on_attribute = find_diagnostic(bake_buf, 'BuilderCacheExport')
  eq({ on_attribute.lnum, on_attribute.col, on_attribute.severity }, { 15, 2, vim.diagnostic.severity.ERROR }, 'BuilderCacheExport on cache-to in the bake file')
  local related = on_attribute.user_data and on_attribute.user_data.lsp and on_attribute.user_data.lsp.relatedInformation
  if type(related) ~= 'table' or #related == 0 or not tostring(related[1].location.uri):find('/Dockerfile$') then
    fail('the bake file finding links the Dockerfile in relatedInformation: %s', vim.inspect(related))
  end

  -- ▶ Bake target app builds the bake target: its tag.
  builds.last_result = nil
  run_lens(7, function(label)
    return label == '▶ Bake target app'
  end)
  wait_for(90000, 'the bake target build to end', function()
    return builds.last_result ~= nil
  end)
  log('bake target build: %s', vim.inspect(builds.last_result))
  eq({ builds.last_result.ok, builds.last_result.tags }, { true, { 'buildkit-lsp-e2e:dev' } }, 'bake target app build: ok, tags')

  -- Last, so everything above is checked first: the lens promised the bake
  -- target's tag, so the build must give the image that tag.
  eq(build_title, '▶ Build (buildkit-lsp-e2e:dev)', 'the ▶ Build lens title (bake target "app" tags)')
  if not vim.deep_equal(built_tags, { 'buildkit-lsp-e2e:dev' }) then
    fail(
      'server feature missing: the ▶ Build lens promises tag buildkit-lsp-e2e:dev (bake target "app"), but the build result has tags %s: buildkit.build does not apply the bake configuration',
      vim.inspect(built_tags)
    )
  end

  log('PASS nvim builds e2e in %.0f ms', (vim.loop.hrtime() - t0) / 1e6)
end

H.run('nvim-builds.log', main)
