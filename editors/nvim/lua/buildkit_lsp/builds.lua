-- buildkit_lsp.builds: builders and builds in Neovim (issue 7). Builder
-- selection with vim.ui.select (remembered per workspace root in a JSON file
-- under stdpath('data') and sent back as init_options.builder), builds and
-- their cancellation, the `buildkit://build-log` scratch buffer fed by
-- `buildkit/buildLog`, throttled work-done progress in the message area, and
-- `vim.g.buildkit_builder` for statuslines. The server does the work; this
-- file only turns its commands and notifications into Neovim UI.

local M = {}

-- Progress messages shown at most this often (begin and end always show).
M.progress_interval_ms = 200
-- Everything the progress display showed, newest last (for statuslines and tests).
M.progress_seen = {}
local progress_seen_max = 200
-- Builds started from this Neovim and not finished yet, by buildKey.
M.running = {}
-- buildId -> { uri, target } of builds whose log arrived and that did not end yet.
M.log_builds = {}
-- The result of the last build started here that ended (buildkit.build's answer).
M.last_result = nil

local LOG_NAME = 'buildkit://build-log'
local decode = vim.json and vim.json.decode or vim.fn.json_decode
local encode = vim.json and vim.json.encode or vim.fn.json_encode
local uv = vim.loop

local function plugin()
  return require('buildkit_lsp')
end

local function notify(message, level)
  vim.notify('buildkit-lsp: ' .. message, level or vim.log.levels.INFO)
end

local function is_bake_file(name)
  local base = vim.fn.fnamemodify(name or '', ':t')
  return base == 'docker-bake.hcl'
    or base == 'docker-bake.json'
    or base == 'docker-bake.override.hcl'
    or base == 'docker-bake.override.json'
end
M.is_bake_file = is_bake_file

--- The Compose file names the server reads builds from.
M.COMPOSE_FILE_NAMES = {
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
  'compose.override.yaml',
  'compose.override.yml',
  'docker-compose.override.yaml',
  'docker-compose.override.yml',
}

--- Whether a path names a Compose file.
function M.is_compose_file(name)
  return vim.tbl_contains(M.COMPOSE_FILE_NAMES, vim.fn.fnamemodify(name or '', ':t'))
end

-- --- remembered builder per root ---------------------------------------------

--- The JSON file holding { [root] = builder name }.
function M.state_file()
  return vim.fn.stdpath('data') .. '/buildkit_lsp/builders.json'
end

local function read_state()
  local file = io.open(M.state_file(), 'r')
  if not file then
    return {}
  end
  local text = file:read('*a')
  file:close()
  local ok, value = pcall(decode, text)
  if ok and type(value) == 'table' then
    return value
  end
  -- A damaged file only loses the remembered choices.
  return {}
end

--- The builder remembered for a workspace root, or nil.
function M.remembered_builder(root)
  local name = read_state()[root]
  if type(name) == 'string' and name ~= '' then
    return name
  end
  return nil
end

--- Remembers the builder of a workspace root (nil forgets it).
function M.remember_builder(root, name)
  local state = read_state()
  state[root] = name
  vim.fn.mkdir(vim.fn.fnamemodify(M.state_file(), ':h'), 'p')
  local file, err = io.open(M.state_file(), 'w')
  if not file then
    notify('cannot remember the builder: ' .. tostring(err), vim.log.levels.WARN)
    return
  end
  file:write(encode(next(state) == nil and vim.empty_dict() or state))
  file:close()
end

-- --- requests ------------------------------------------------------------------

-- Runs a server command; on_result(err, result) on the main loop.
local function execute(client, command, arguments, bufnr, on_result)
  local params = { command = command, arguments = arguments }
  return plugin().client_request(client, 'workspace/executeCommand', params, function(err, result)
    on_result(err, result)
  end, bufnr)
end

local function client_for(bufnr)
  local client = plugin().get_client(bufnr)
  if not client then
    notify('not attached to this buffer', vim.log.levels.ERROR)
  end
  return client
end

local function error_text(err)
  if type(err) == 'table' and err.message then
    return err.message
  end
  return vim.inspect(err)
end

-- --- builder selection -------------------------------------------------------

--- Builder label as in the server's showMessageRequest: `name (driver, status)`.
function M.builder_label(builder)
  local label = string.format('%s (%s, %s)', builder.name, builder.driver or 'unknown', builder.status or 'unknown')
  if builder.selected then
    label = label .. ' *'
  end
  return label
end

--- Lists the builders (buildkit.listBuilders) and calls on_list(builders) with a Lua list.
function M.list_builders(bufnr, on_list)
  local client = client_for(bufnr)
  if not client then
    return
  end
  execute(client, 'buildkit.listBuilders', {}, bufnr, function(err, result)
    if err then
      notify('listing builders: ' .. error_text(err), vim.log.levels.ERROR)
      return
    end
    local builders = {}
    for _, b in ipairs(type(result) == 'table' and result or {}) do
      if type(b) == 'table' and type(b.name) == 'string' then
        table.insert(builders, b)
      end
    end
    on_list(builders)
  end)
end

--- vim.ui.select over the builders, then buildkit.useBuilder; the choice is
--- remembered for the buffer's workspace root. on_done(result) if given.
function M.select_builder(bufnr, on_done)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  M.list_builders(bufnr, function(builders)
    if #builders == 0 then
      notify('no builder found (create one with :BuildkitCreateBuilder)', vim.log.levels.WARN)
      return
    end
    vim.ui.select(builders, { prompt = 'BuildKit builder for this workspace', format_item = M.builder_label }, function(choice)
      if not choice then
        return
      end
      local client = client_for(bufnr)
      if not client then
        return
      end
      execute(client, 'buildkit.useBuilder', { choice.name }, bufnr, function(err, result)
        if err then
          notify('selecting ' .. choice.name .. ': ' .. error_text(err), vim.log.levels.ERROR)
          return
        end
        M.remember_builder(client.config.root_dir, choice.name)
        if on_done then
          on_done(result)
        end
      end)
    end)
  end)
end

-- The last builderChanged per client: (name, driver, reachable).
local last_builder = {}

--- After a generic server command: builders selected by
--- `buildkit.useBuilderGlobally NAME` or `buildkit.createBuilder {use=true}`
--- are remembered for the root like :BuildkitSelectBuilder's choice.
function M.after_command(client, command, arguments, result)
  if type(result) ~= 'table' or type(result.name) ~= 'string' then
    return
  end
  local first = type(arguments) == 'table' and arguments[1] or nil
  local selects = command == 'buildkit.useBuilderGlobally'
    or (command == 'buildkit.createBuilder' and type(first) == 'table' and first.use == true)
  if selects and client.config and client.config.root_dir then
    M.remember_builder(client.config.root_dir, result.name)
  end
end

--- buildkit/builderChanged: vim.g.buildkit_builder for statuslines, and a
--- message when the builder changes or stops/starts answering (not for the
--- first report after start, nor for repeats).
function M.on_builder_changed(_, params, ctx)
  if type(params) ~= 'table' or type(params.name) ~= 'string' then
    return
  end
  local label = string.format('%s (%s)', params.name, params.driver or 'unknown')
  vim.g.buildkit_builder = label
  vim.g.buildkit_builder_status = params.status
  local key = ctx and ctx.client_id or 0
  local before = last_builder[key]
  local reachable = params.reachable ~= false
  last_builder[key] = { label = label, reachable = reachable }
  if not reachable then
    if not before or before.reachable or before.label ~= label then
      local why = type(params.message) == 'string' and (': ' .. params.message) or ''
      notify(string.format('builder %s does not answer%s', label, why), vim.log.levels.WARN)
    end
  elseif before and (not before.reachable or before.label ~= label) then
    notify(string.format('builder %s, %s', label, params.status or 'unknown'))
  end
end

-- --- build log buffer ----------------------------------------------------------

--- The `buildkit://build-log` scratch buffer (created on first use).
function M.log_buffer()
  local existing = vim.fn.bufnr(LOG_NAME)
  if existing ~= -1 and vim.api.nvim_buf_is_valid(existing) then
    return existing
  end
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, LOG_NAME)
  vim.bo[bufnr].buftype = 'nofile'
  vim.bo[bufnr].bufhidden = 'hide'
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].modifiable = false
  return bufnr
end

--- Appends complete lines to the log buffer and keeps its windows at the end.
function M.append_log(text)
  local bufnr = M.log_buffer()
  local lines = vim.split(text, '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  if #lines == 0 then
    return
  end
  vim.bo[bufnr].modifiable = true
  local count = vim.api.nvim_buf_line_count(bufnr)
  local empty = count == 1 and vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] == ''
  if empty then
    vim.api.nvim_buf_set_lines(bufnr, 0, 1, false, lines)
  else
    vim.api.nvim_buf_set_lines(bufnr, count, count, false, lines)
  end
  vim.bo[bufnr].modifiable = false
  local last = vim.api.nvim_buf_line_count(bufnr)
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    vim.api.nvim_win_set_cursor(win, { last, 0 })
  end
end

--- Opens the log buffer in a split (or focuses its window).
function M.open_log()
  local bufnr = M.log_buffer()
  local wins = vim.fn.win_findbuf(bufnr)
  if #wins > 0 then
    vim.api.nvim_set_current_win(wins[1])
    return
  end
  vim.cmd('botright split')
  vim.api.nvim_win_set_buf(0, bufnr)
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
end

--- buildkit/buildLog: the text goes to the log buffer.
function M.on_build_log(_, params)
  if type(params) ~= 'table' or type(params.text) ~= 'string' then
    return
  end
  if type(params.buildId) == 'string' then
    M.log_builds[params.buildId] = { uri = params.uri, target = params.target }
  end
  M.append_log(params.text)
end

-- --- progress --------------------------------------------------------------------

local progress_titles = {}
local progress_last_shown = 0

local function show_progress(line)
  table.insert(M.progress_seen, line)
  if #M.progress_seen > progress_seen_max then
    table.remove(M.progress_seen, 1)
  end
  vim.api.nvim_echo({ { line, 'Comment' } }, false, {})
end

--- Wraps Neovim's own `$/progress` handler: work-done progress of the server
--- is echoed as `title: [3/7] RUN … (42%)`, at most every
--- progress_interval_ms; begin and end always.
function M.progress_handler(default)
  return function(err, result, ctx, config)
    if default then
      default(err, result, ctx, config)
    end
    if type(result) ~= 'table' or type(result.value) ~= 'table' then
      return
    end
    local value = result.value
    local key = tostring(ctx and ctx.client_id) .. ':' .. tostring(result.token)
    if value.kind == 'begin' then
      progress_titles[key] = value.title or 'buildkit-lsp'
    end
    local title = progress_titles[key] or 'buildkit-lsp'
    local now = uv.now()
    if value.kind == 'report' and now - progress_last_shown < M.progress_interval_ms then
      return
    end
    progress_last_shown = now
    local line = title
    if type(value.message) == 'string' and value.message ~= '' then
      line = line .. ': ' .. value.message
    end
    if type(value.percentage) == 'number' then
      line = string.format('%s (%d%%)', line, value.percentage)
    end
    if value.kind == 'end' then
      progress_titles[key] = nil
    end
    show_progress(line)
  end
end

-- --- builds ----------------------------------------------------------------------

local function build_key(arg)
  return (arg.uri or '') .. '#' .. (arg.bakeTarget or arg.target or '')
end

local function short_id(id)
  return (id:gsub('^sha256:', '')):sub(1, 12)
end

--- One line saying how a build ended (the same words as the VS Code extension).
function M.build_summary(result)
  local what = type(result.target) == 'string' and result.target or 'Dockerfile'
  local where = ''
  if type(result.builder) == 'string' and result.builder ~= '' then
    where = ' on ' .. result.builder
    if type(result.driver) == 'string' and result.driver ~= '' then
      where = where .. ' (' .. result.driver .. ')'
    end
  end
  local seconds = string.format('%.1f', (tonumber(result.durationMs) or 0) / 1000)
  if result.cancelled == true then
    return string.format('Build of %s%s cancelled after %s s', what, where, seconds)
  end
  if result.ok ~= true then
    local why = type(result.error) == 'string' and result.error or 'unknown error'
    return string.format('Build of %s%s failed after %s s: %s', what, where, seconds, why)
  end
  local parts = {}
  if type(result.imageId) == 'string' then
    table.insert(parts, 'image ' .. short_id(result.imageId))
  end
  -- The docker driver reports the image id as the digest too; say it once.
  if type(result.digest) == 'string' and result.digest ~= result.imageId then
    table.insert(parts, 'digest ' .. result.digest)
  end
  if type(result.tags) == 'table' and #result.tags > 0 then
    table.insert(parts, 'tags ' .. table.concat(result.tags, ', '))
  end
  local line = string.format(
    'Built %s%s in %s s, %d/%d steps cached',
    what,
    where,
    seconds,
    tonumber(result.cachedSteps) or 0,
    tonumber(result.totalSteps) or 0
  )
  if #parts > 0 then
    line = line .. ': ' .. table.concat(parts, ', ')
  end
  return line
end

--- Runs buildkit.build with one argument table ({uri, target?, bakeTarget?});
--- on_done(err, result) when the build ends.
function M.build_with(bufnr, arg, on_done)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = client_for(bufnr)
  if not client then
    return
  end
  local key = build_key(arg)
  M.running[key] = arg
  local name = arg.bakeTarget or arg.target or 'Dockerfile'
  M.append_log(string.format('── build %s of %s ──', name, vim.uri_to_fname(arg.uri)))
  execute(client, 'buildkit.build', { arg }, bufnr, function(err, result)
    M.running[key] = nil
    if err then
      local message = string.format('build of %s: %s', name, error_text(err))
      M.append_log(message)
      notify(message, vim.log.levels.ERROR)
    elseif type(result) == 'table' then
      M.last_result = result
      if type(result.buildId) == 'string' then
        M.log_builds[result.buildId] = nil
      end
      -- The server shows the result itself (window/showMessage); the log
      -- buffer gets it as its last line.
      M.append_log(M.build_summary(result))
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

--- :BuildkitBuild [target]: the buffer's Dockerfile (or a target stage), or a
--- bake file's target.
function M.build(bufnr, target, on_done)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local arg = { uri = vim.uri_from_bufnr(bufnr) }
  if target and target ~= '' then
    local name = vim.api.nvim_buf_get_name(bufnr)
    if is_bake_file(name) or M.is_compose_file(name) then
      arg.bakeTarget = target
    else
      arg.target = target
    end
  end
  M.build_with(bufnr, arg, on_done)
end

--- :BuildkitCancelBuild: the builds of the current file; from the log buffer,
--- every build whose log is still open.
function M.cancel(bufnr, on_done)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local arguments = {}
  if vim.api.nvim_buf_get_name(bufnr) == LOG_NAME or vim.fn.bufname(bufnr) == LOG_NAME then
    for build_id in pairs(M.log_builds) do
      table.insert(arguments, { buildId = build_id })
    end
  else
    table.insert(arguments, { uri = vim.uri_from_bufnr(bufnr) })
  end
  -- The log buffer has no client: use any buildkit-lsp client.
  local client = plugin().get_client(bufnr) or plugin().any_client()
  if not client or #arguments == 0 then
    notify('no build to cancel', vim.log.levels.WARN)
    return
  end
  local total = 0
  local pending = #arguments
  for _, argument in ipairs(arguments) do
    execute(client, 'buildkit.cancelBuild', { argument }, nil, function(err, result)
      if err then
        notify('cancel: ' .. error_text(err), vim.log.levels.ERROR)
      elseif type(result) == 'table' and type(result.cancelled) == 'number' then
        total = total + result.cancelled
      end
      pending = pending - 1
      if pending == 0 then
        notify(total > 0 and string.format('cancelled %d build(s)', total) or 'no build of this file is running')
        if on_done then
          on_done(total)
        end
      end
    end)
  end
end

-- --- wiring ------------------------------------------------------------------------

--- Handlers for the client config (merged into its `handlers`).
function M.handlers()
  return {
    ['buildkit/buildLog'] = M.on_build_log,
    ['buildkit/builderChanged'] = M.on_builder_changed,
    ['$/progress'] = M.progress_handler(vim.lsp.handlers['$/progress']),
  }
end

-- Code lenses run vim.lsp.commands before asking the server: the builder
-- lens gets vim.ui.select, the build lenses the log buffer and a result message.
local function register_lens_commands()
  vim.lsp.commands['buildkit.selectBuilder'] = function(_, ctx)
    M.select_builder(ctx and ctx.bufnr)
  end
  vim.lsp.commands['buildkit.build'] = function(command, ctx)
    local arg = type(command.arguments) == 'table' and command.arguments[1] or nil
    if type(arg) ~= 'table' or type(arg.uri) ~= 'string' then
      arg = { uri = vim.uri_from_bufnr(ctx and ctx.bufnr or 0) }
    end
    M.build_with(ctx and ctx.bufnr, arg)
  end
end

-- --- build history (issue 18) ------------------------------------------------

--- Opens a build's report (markdown) in a read-only scratch buffer named
--- buildkit://build/<ref>; returns the buffer.
function M.open_report(reference, markdown)
  local name = 'buildkit://build/' .. reference
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(markdown, '\n', { plain = true }))
  vim.bo[buf].modifiable = false
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].filetype = 'markdown'
  vim.api.nvim_set_current_buf(buf)
  return buf
end

--- :BuildkitBuildHistory: the recent builds of the workspace's builder in
--- vim.ui.select; the chosen one opens as a report buffer. on_done(buf)
--- when it is open (tests).
function M.history(bufnr, on_done)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = client_for(bufnr)
  if not client then
    return
  end
  execute(client, 'buildkit.buildHistory', {}, bufnr, function(err, result)
    if err then
      notify('build history: ' .. error_text(err), vim.log.levels.ERROR)
      return
    end
    local builds = type(result) == 'table' and result.builds or {}
    if #builds == 0 then
      notify('builder ' .. tostring(result and result.builder) .. ' has no build records')
      return
    end
    vim.ui.select(builds, {
      prompt = 'Builds on ' .. tostring(result.builder),
      format_item = function(b)
        return b.label
      end,
    }, function(choice)
      if not choice then
        return
      end
      execute(client, 'buildkit.buildReport', { { ref = choice.ref } }, bufnr, function(rerr, report)
        if rerr then
          notify('build report: ' .. error_text(rerr), vim.log.levels.ERROR)
          return
        end
        local buf = M.open_report(report.ref, report.markdown)
        if on_done then
          on_done(buf)
        end
      end)
    end)
  end)
end

-- User commands this module defines; the generic per-server-command ones
-- must not overwrite them.
M.user_commands = { 'BuildkitSelectBuilder', 'BuildkitBuild', 'BuildkitCancelBuild', 'BuildkitBuildLog', 'BuildkitBuildHistory' }

function M.setup()
  register_lens_commands()
  vim.api.nvim_create_user_command('BuildkitSelectBuilder', function()
    M.select_builder(0)
  end, { desc = 'buildkit-lsp: choose the builder of this workspace' })
  vim.api.nvim_create_user_command('BuildkitBuild', function(opts)
    M.build(0, opts.fargs[1])
  end, { nargs = '?', desc = 'buildkit-lsp: build this Dockerfile [target stage] or bake file [target]' })
  vim.api.nvim_create_user_command('BuildkitCancelBuild', function()
    M.cancel(0)
  end, { desc = 'buildkit-lsp: cancel the builds of this file' })
  vim.api.nvim_create_user_command('BuildkitBuildLog', function()
    M.open_log()
  end, { desc = 'buildkit-lsp: open the build log buffer' })
  vim.api.nvim_create_user_command('BuildkitBuildHistory', function()
    M.history(0)
  end, { desc = "buildkit-lsp: the builder's recent builds; open one's report" })
end

return M
