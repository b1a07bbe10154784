-- Unit tests of editors/nvim/lua/buildkit_lsp/builds.lua that need no server:
-- result summaries, builder labels, bake file names, the log buffer, the
-- progress throttle and the remembered builders. Run headless by
-- scripts/test-editors on both Neovim versions; log TEST_OUTPUT/nvim-units.log.
-- Expected strings are written by hand from the protocol's result shapes.

local H = dofile(vim.fn.getcwd() .. '/tests/e2e/nvim/helpers.lua')
local eq, fail = H.eq, H.fail

local function main()
  local builds = require('buildkit_lsp.builds')

  -- Summaries: the same words as the VS Code extension (test/builds.test.js).
  local ok = {
    ok = true,
    target = 'final',
    builder = 'default',
    driver = 'docker',
    imageId = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    digest = vim.NIL,
    tags = { 'app:dev', 'app:latest' },
    durationMs = 4249,
    cachedSteps = 3,
    totalSteps = 7,
    error = vim.NIL,
    cancelled = false,
  }
  eq(
    builds.build_summary(ok),
    'Built final on default (docker) in 4.2 s, 3/7 steps cached: image 0123456789ab, tags app:dev, app:latest',
    'summary of a successful build'
  )
  local same = vim.tbl_extend('force', ok, { tags = {}, digest = ok.imageId })
  eq(builds.build_summary(same), 'Built final on default (docker) in 4.2 s, 3/7 steps cached: image 0123456789ab', 'digest equal to the image id is not repeated')
  local failed = vim.tbl_extend('force', ok, {
    ok = false,
    target = vim.NIL,
    durationMs = 900,
    error = 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
  })
  eq(
    builds.build_summary(failed),
    'Build of Dockerfile on default (docker) failed after 0.9 s: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
    'summary of a failed build without target'
  )
  local cancelled = vim.tbl_extend('force', ok, { ok = false, cancelled = true, durationMs = 1500 })
  eq(builds.build_summary(cancelled), 'Build of final on default (docker) cancelled after 1.5 s', 'summary of a cancelled build')

  -- Builder labels as the server's showMessageRequest titles, * = selected.
  eq(builds.builder_label({ name = 'ci', driver = 'docker-container', status = 'inactive', selected = true }), 'ci (docker-container, inactive) *', 'selected builder label')
  eq(builds.builder_label({ name = 'x' }), 'x (unknown, unknown)', 'label of a builder without driver and status')

  -- Bake files by buildx's default names only.
  for name, expected in pairs({
    ['/w/docker-bake.hcl'] = true,
    ['/w/docker-bake.override.json'] = true,
    ['/w/docker-bake.yaml'] = false,
    ['/w/my-docker-bake.hcl'] = false,
    ['/w/Dockerfile'] = false,
  }) do
    eq(builds.is_bake_file(name), expected, 'is_bake_file(' .. name .. ')')
  end

  -- The log buffer: complete lines appended, the first replaces the empty line.
  local log = builds.log_buffer()
  eq(vim.api.nvim_buf_get_name(log), 'buildkit://build-log', 'log buffer name')
  eq({ vim.bo[log].buftype, vim.bo[log].modifiable, vim.bo[log].swapfile }, { 'nofile', false, false }, 'log buffer options')
  builds.on_build_log(nil, { buildId = 'b1', uri = 'file:///w/Dockerfile', target = vim.NIL, builder = 'default', text = '#1 [1/2] FROM busybox\n#1 DONE 0.1s\n' })
  builds.on_build_log(nil, { buildId = 'b1', uri = 'file:///w/Dockerfile', target = vim.NIL, builder = 'default', text = '#2 [2/2] RUN true\n' })
  eq(vim.api.nvim_buf_get_lines(log, 0, -1, false), { '#1 [1/2] FROM busybox', '#1 DONE 0.1s', '#2 [2/2] RUN true' }, 'log buffer lines')
  eq(builds.log_builds.b1, { uri = 'file:///w/Dockerfile', target = vim.NIL }, 'the build whose log is open')
  eq(builds.log_buffer(), log, 'one log buffer')

  -- Progress: begin and end always shown, reports at most every interval.
  builds.progress_interval_ms = 60000
  local handler = builds.progress_handler(nil)
  local ctx = { client_id = 1 }
  handler(nil, { token = 't', value = { kind = 'begin', title = 'Building final on default (docker)', percentage = 0 } }, ctx)
  handler(nil, { token = 't', value = { kind = 'report', message = '[1/7] FROM busybox', percentage = 14 } }, ctx)
  handler(nil, { token = 't', value = { kind = 'end', message = 'done in 4.2 s (3 cached)' } }, ctx)
  eq(builds.progress_seen, {
    'Building final on default (docker) (0%)',
    'Building final on default (docker): done in 4.2 s (3 cached)',
  }, 'progress lines shown within one interval')

  -- Remembered builders: one JSON object keyed by root.
  local state = vim.fn.tempname() .. '.json'
  builds.state_file = function()
    return state
  end
  eq(builds.remembered_builder('/w'), nil, 'no state file yet')
  builds.remember_builder('/w', 'ci')
  builds.remember_builder('/other', 'default')
  eq(vim.json.decode(table.concat(vim.fn.readfile(state), '\n')), { ['/w'] = 'ci', ['/other'] = 'default' }, 'state file')
  eq(builds.remembered_builder('/w'), 'ci', 'remembered builder')
  -- Generic commands that select a builder are remembered too.
  local fake_client = { config = { root_dir = '/w' } }
  builds.after_command(fake_client, 'buildkit.useBuilderGlobally', { 'ci' }, { name = 'ci', driver = 'docker-container' })
  eq(builds.remembered_builder('/w'), 'ci', 'useBuilderGlobally is remembered')
  builds.after_command(fake_client, 'buildkit.createBuilder', { { name = 'new' } }, { name = 'new', driver = 'docker-container' })
  eq(builds.remembered_builder('/w'), 'ci', 'createBuilder without use is not')
  builds.after_command(fake_client, 'buildkit.createBuilder', { { name = 'new', use = true } }, { name = 'new', driver = 'docker-container' })
  eq(builds.remembered_builder('/w'), 'new', 'createBuilder with use is')
  builds.after_command(fake_client, 'buildkit.stopBuilder', { 'new' }, { name = 'new', status = 'stopped' })
  eq(builds.remembered_builder('/w'), 'new', 'other commands change nothing')

  vim.fn.writefile({ 'not json' }, state)
  eq(builds.remembered_builder('/w'), nil, 'a damaged state file remembers nothing')
  if vim.fn.exists(':BuildkitSelectBuilder') ~= 0 then
    fail('user commands exist before setup()')
  end

  -- Workspace trust (buildkit_lsp/trust.lua): setup{ trusted } and the
  -- project settings file, whose build keys need vim.secure's trust.
  local trust = require('buildkit_lsp.trust')
  eq(trust.trusted_for(nil, '/w'), true, 'trusted unless told otherwise')
  eq(trust.trusted_for(false, '/w'), false, 'trusted = false: Restricted Mode')
  eq(trust.trusted_for(function(root)
    return root == '/mine'
  end, '/w'), false, 'trusted = function(root)')
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local project = dir .. '/.buildkit-lsp.json'
  eq({ trust.read_project_settings(project) }, {}, 'no project settings file')
  vim.fn.writefile({ '{"buildkit": {"checks": {"skip": ["StageNameCasing"]}}}' }, project)
  eq({ trust.read_project_settings(project) }, { { checks = { skip = { 'StageNameCasing' } } } }, 'analysis settings need no trust')
  vim.fn.writefile({ '{"buildkit": {"checks": {"skip": ["X"]}, "buildOnSave": true, "build": {"tags": ["t"]}}}' }, project)
  local has_secure = vim.secure ~= nil and vim.secure.trust ~= nil
  if has_secure then
    -- A private trust database (stdpath('state')/trust).
    vim.env.XDG_STATE_HOME = dir .. '/state'
    vim.fn.mkdir(vim.fn.stdpath('state'), 'p')
    vim.secure.trust({ action = 'deny', path = project })
  end
  local settings, message = trust.read_project_settings(project)
  eq(settings, { checks = { skip = { 'X' } } }, 'build keys of an untrusted file are dropped')
  if not (message or ''):find('sets build, buildOnSave, ignored until the file is trusted', 1, true) then
    fail('message names the dropped keys: ' .. tostring(message))
  end
  if has_secure then
    -- `allow` trusts a buffer's contents (as :trust does).
    vim.cmd('edit ' .. vim.fn.fnameescape(project))
    vim.secure.trust({ action = 'allow', bufnr = vim.api.nvim_get_current_buf() })
    vim.cmd('bwipeout')
    settings, message = trust.read_project_settings(project)
    eq(settings, { checks = { skip = { 'X' } }, buildOnSave = true, build = { tags = { 't' } } }, 'a trusted file keeps its build keys')
    eq(message, nil, 'no message for a trusted file')
  elseif not message:find('Neovim 0.9+', 1, true) then
    fail('without vim.secure the message says what is needed: ' .. message)
  end

  H.log('PASS nvim units')
end

H.run('nvim-units.log', main)
