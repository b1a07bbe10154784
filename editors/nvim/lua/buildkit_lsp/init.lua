-- buildkit_lsp: starts the buildkit-lsp language server for Dockerfile buffers
-- in Neovim 0.7 (vim.lsp.start_client + buf_attach_client) and newer
-- (vim.lsp.start), turns on code lens refresh, and exposes the server's
-- `buildkit.*` commands as user commands. Language features themselves come
-- from the server; this file only wires the client. Builders and builds
-- (selection, build log, progress): buildkit_lsp/builds.lua. Workspace
-- trust and project settings: buildkit_lsp/trust.lua.

local builds = require('buildkit_lsp.builds')
local trust = require('buildkit_lsp.trust')

local M = {}

local defaults = {
  -- Command that starts the server on stdio (no subcommand = serve).
  cmd = { 'buildkit-lsp' },
  filetypes = { 'dockerfile' },
  -- The first folder upwards holding one of these is the workspace root;
  -- without any, the Dockerfile's own folder.
  root_markers = { 'docker-bake.hcl', 'docker-bake.json', 'compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml', '.git' },
  -- Sent as `buildkit.*` through workspace/configuration and
  -- workspace/didChangeConfiguration; keys are documented in docs/lsp.md.
  settings = { buildkit = {} },
  -- Request code lenses on BufEnter/CursorHold/InsertLeave and answer the
  -- server's workspace/codeLens/refresh.
  codelens = true,
  -- Show inlay hints (the last build's result per instruction, FROM images
  -- expanded) on Neovim 0.10 and later.
  inlay_hints = true,
  -- Also attach to bake files (docker-bake.hcl/.json, docker-bake.override.*),
  -- whatever their filetype, for their build lenses and diagnostics.
  bake_files = true,
  -- Also attach to Compose files (compose.yaml, docker-compose.yml and
  -- their .override companions), whatever their filetype (`yaml`,
  -- `yaml.docker-compose`): build lenses, capability diagnostics and the
  -- Compose language features. Other YAML files are left alone.
  compose_files = true,
  -- Debounce of didChange notifications on the client side, in ms.
  debounce_text_changes = 50,
  -- Extra client capabilities, merged over Neovim's own.
  capabilities = nil,
  -- Called as on_attach(client, bufnr) after the plugin's own set-up.
  on_attach = nil,
  -- Whether a workspace is trusted: true (builds as configured), false
  -- (Restricted Mode: analysis only; :BuildkitTrust lifts it), or
  -- function(root) -> boolean. See buildkit_lsp/trust.lua.
  trusted = true,
  -- Project-local `buildkit` settings in this JSON file at the root, merged
  -- over `settings`; `build`/`buildOnSave` only once trusted with vim.secure
  -- (Neovim 0.9+). false: not read.
  project_settings = '.buildkit-lsp.json',
  name = 'buildkit-lsp',
}

M.config = nil
-- Neovim 0.7 has no vim.lsp.start: we reuse one client per root ourselves.
local clients_by_root = {}
local group = nil

local has_011 = vim.fn.has('nvim-0.11') == 1

-- Neovim 0.11 turned client methods into `client:method()`; before that they
-- are closures called with a dot.
local function client_request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

M.client_request = client_request

local function client_notify(client, method, params)
  if has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

local function client_stopped(client)
  if has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

-- vim.json encodes an empty Lua table as [], but settings sections are
-- objects: replace empty tables with vim.empty_dict() recursively.
local function as_object(value)
  if type(value) ~= 'table' then
    return value
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  local out = {}
  for k, v in pairs(value) do
    out[k] = as_object(v)
  end
  return out
end

local function find_root(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return vim.loop.cwd()
  end
  local dir = vim.fn.fnamemodify(name, ':p:h')
  local current = dir
  while true do
    for _, marker in ipairs(M.config.root_markers) do
      if vim.loop.fs_stat(current .. '/' .. marker) then
        return current
      end
    end
    local parent = vim.fn.fnamemodify(current, ':h')
    if parent == current then
      return dir
    end
    current = parent
  end
end

--- The buildkit-lsp client attached to a buffer, if any.
function M.get_client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local attached = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr }) or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(attached) do
    if client.name == M.config.name then
      return client
    end
  end
  return nil
end

--- Any running buildkit-lsp client (for buffers without one, e.g. the build log).
function M.any_client()
  local all = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  for _, client in pairs(all) do
    if client.name == M.config.name and not client_stopped(client) then
      return client
    end
  end
  return nil
end

local function refresh_codelens(bufnr)
  if bufnr ~= vim.api.nvim_get_current_buf() then
    -- 0.7's refresh() only covers the current buffer; others refresh on BufEnter.
    return
  end
  if vim.fn.has('nvim-0.10') == 1 then
    vim.lsp.codelens.refresh({ bufnr = bufnr })
  else
    vim.lsp.codelens.refresh()
  end
end

-- Server → client request: lenses changed (builders, configuration).
local function on_codelens_refresh(_, _, ctx)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.get_client(bufnr)
  if client and client.id == ctx.client_id then
    refresh_codelens(bufnr)
  end
  return vim.NIL
end

--- The server's advertised `buildkit.*` commands.
function M.server_commands(client)
  local provider = client.server_capabilities and client.server_capabilities.executeCommandProvider
  if type(provider) ~= 'table' or type(provider.commands) ~= 'table' then
    return {}
  end
  local out = {}
  for _, name in ipairs(provider.commands) do
    if type(name) == 'string' and name:sub(1, 9) == 'buildkit.' then
      table.insert(out, name)
    end
  end
  return out
end

-- "buildkit.selectBuilder" -> "BuildkitSelectBuilder"
local function user_command_name(command)
  local rest = command:sub(10):gsub('[^%w]+(%w)', function(c)
    return c:upper()
  end)
  return 'Buildkit' .. rest:sub(1, 1):upper() .. rest:sub(2)
end

-- Each extra word of the command line is one argument: JSON when it parses
-- (numbers, objects, strings in quotes), else the word as a string.
local function parse_arguments(words)
  local decode = vim.json and vim.json.decode or vim.fn.json_decode
  local args = {}
  for _, word in ipairs(words) do
    local ok, value = pcall(decode, word)
    if ok and value ~= nil then
      table.insert(args, value)
    else
      table.insert(args, word)
    end
  end
  return args
end

-- Commands such as buildkit.ignoreRuleEverywhere answer with the setting the
-- choice belongs in. Keep it in the client's settings (later
-- workspace/configuration pulls return it) and tell the user where to persist it.
local function remember_setting(client, setting, value)
  if setting:sub(1, 9) ~= 'buildkit.' then
    return
  end
  local node = client.config.settings
  local keys = vim.split(setting, '.', { plain = true })
  for i = 1, #keys - 1 do
    if type(node[keys[i]]) ~= 'table' then
      node[keys[i]] = {}
    end
    node = node[keys[i]]
  end
  node[keys[#keys]] = value
  vim.notify(
    string.format('buildkit-lsp: %s = %s for this session; add it to setup{ settings = … } to keep it', setting, vim.inspect(value)),
    vim.log.levels.INFO
  )
end

--- Runs a server command (`buildkit.` prefix optional) on the current
--- buffer's server; the result, if any, is shown with vim.notify.
function M.execute(command, arguments, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = M.get_client(bufnr)
  if not client then
    vim.notify('buildkit-lsp is not attached to this buffer', vim.log.levels.ERROR)
    return
  end
  if command:sub(1, 9) ~= 'buildkit.' then
    command = 'buildkit.' .. command
  end
  local params = { command = command }
  if arguments and #arguments > 0 then
    params.arguments = arguments
  end
  client_request(client, 'workspace/executeCommand', params, function(err, result)
    if err then
      vim.notify(command .. ': ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif type(result) == 'table' and type(result.setting) == 'string' and result.value ~= nil then
      remember_setting(client, result.setting, result.value)
    elseif result ~= nil and result ~= vim.NIL then
      builds.after_command(client, command, arguments, result)
      vim.notify(type(result) == 'string' and result or vim.inspect(result), vim.log.levels.INFO)
    end
  end, bufnr)
end

local function complete_commands()
  local client = M.get_client(0)
  if not client then
    return {}
  end
  local out = {}
  for _, name in ipairs(M.server_commands(client)) do
    table.insert(out, name:sub(10))
  end
  return out
end

local function define_commands(client)
  -- One :BuildkitFooBar per advertised buildkit.fooBar, acting on the current
  -- buffer, except the ones builds.lua defines with their own UI.
  for _, command in ipairs(M.server_commands(client)) do
    local name = user_command_name(command)
    if not vim.tbl_contains(builds.user_commands, name) then
      vim.api.nvim_create_user_command(name, function(opts)
        M.execute(command, parse_arguments(opts.fargs))
      end, { nargs = '*', desc = 'buildkit-lsp: ' .. command, force = true })
    end
  end
end

local function on_attach(client, bufnr)
  define_commands(client)
  if M.config.codelens and client.server_capabilities and client.server_capabilities.codeLensProvider then
    vim.api.nvim_create_autocmd({ 'BufEnter', 'CursorHold', 'InsertLeave' }, {
      group = group,
      buffer = bufnr,
      callback = function()
        refresh_codelens(bufnr)
      end,
    })
    refresh_codelens(bufnr)
  end
  local caps = client.server_capabilities or {}
  if M.config.inlay_hints and caps.inlayHintProvider and vim.fn.has('nvim-0.10') == 1 then
    vim.lsp.inlay_hint.enable(true, { bufnr = bufnr })
  end
  if M.config.on_attach then
    M.config.on_attach(client, bufnr)
  end
end

local function client_config(root)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.workspace = capabilities.workspace or {}
  -- We answer workspace/codeLens/refresh (handler below), also on 0.7.
  capabilities.workspace.codeLens = { refreshSupport = true }
  if M.config.capabilities then
    capabilities = vim.tbl_deep_extend('force', capabilities, M.config.capabilities)
  end
  local handlers = builds.handlers()
  handlers['workspace/codeLens/refresh'] = on_codelens_refresh
  -- The builder chosen for this root with :BuildkitSelectBuilder (absent:
  -- the server takes the one buildx would pick).
  local builder = builds.remembered_builder(root)
  local settings = M.config.settings
  if M.config.project_settings then
    local project, message = trust.read_project_settings(root .. '/' .. M.config.project_settings)
    if message then
      vim.notify(message, vim.log.levels.WARN)
    end
    if project then
      settings = vim.tbl_deep_extend('force', {}, settings, { buildkit = project })
    end
  end
  return {
    name = M.config.name,
    cmd = M.config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    settings = as_object(settings),
    capabilities = capabilities,
    flags = { debounce_text_changes = M.config.debounce_text_changes },
    handlers = handlers,
    -- trusted = false: Restricted Mode (the server refuses builds).
    init_options = { builder = builder, trusted = trust.trusted_for(M.config.trusted, root) },
    on_init = function(client)
      -- Servers that do not pull workspace/configuration still get settings.
      client_notify(client, 'workspace/didChangeConfiguration', { settings = client.config.settings })
    end,
    on_attach = on_attach,
  }
end

--- Starts (or reuses) the server for a buffer and attaches it. Returns the client id.
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local root = find_root(bufnr)
  if vim.lsp.start then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or client_stopped(client) then
    id = vim.lsp.start_client(client_config(root))
    if not id then
      vim.notify('buildkit-lsp: could not start ' .. table.concat(M.config.cmd, ' '), vim.log.levels.ERROR)
      return nil
    end
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- Whether the plugin attaches to a buffer: a Dockerfile filetype or a bake file.
function M.wants(bufnr)
  if vim.tbl_contains(M.config.filetypes, vim.bo[bufnr].filetype) then
    return true
  end
  if M.config.compose_files and builds.is_compose_file(vim.api.nvim_buf_get_name(bufnr)) then
    return true
  end
  return M.config.bake_files and builds.is_bake_file(vim.api.nvim_buf_get_name(bufnr))
end

--- Stops every buildkit-lsp client and starts them again for open Dockerfiles.
function M.restart()
  local all = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  for _, client in pairs(all) do
    if client.name == M.config.name then
      if has_011 then
        client:stop()
      else
        client.stop()
      end
    end
  end
  clients_by_root = {}
  -- Give the old processes a moment to exit before new ones start.
  vim.defer_fn(function()
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) and M.wants(bufnr) then
        M.start(bufnr)
      end
    end
  end, 200)
end

--- setup{ cmd = {...}, settings = { buildkit = {...} }, ... }: see `defaults`.
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', {}, defaults, opts or {})
  group = vim.api.nvim_create_augroup('buildkit_lsp', { clear = true })

  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.start(args.buf)
    end,
  })

  vim.api.nvim_create_user_command('Buildkit', function(opts)
    if #opts.fargs == 0 then
      vim.notify('usage: :Buildkit COMMAND [ARG…]; commands: ' .. table.concat(complete_commands(), ', '))
      return
    end
    local command = table.remove(opts.fargs, 1)
    M.execute(command, parse_arguments(opts.fargs))
  end, {
    nargs = '*',
    desc = 'Run a buildkit-lsp server command',
    complete = function(arglead, cmdline)
      -- Only the first argument is a command name.
      if #vim.split(cmdline, '%s+') > 2 then
        return {}
      end
      return vim.tbl_filter(function(name)
        return name:sub(1, #arglead) == arglead
      end, complete_commands())
    end,
  })
  vim.api.nvim_create_user_command('BuildkitCodeLensRun', function()
    vim.lsp.codelens.run()
  end, { desc = 'Run the buildkit-lsp code lens on the cursor line' })
  vim.api.nvim_create_user_command('BuildkitRestart', function()
    M.restart()
  end, { desc = 'Restart buildkit-lsp' })
  vim.api.nvim_create_user_command('BuildkitTrust', function()
    local client = M.get_client(0)
    if not client then
      vim.notify('buildkit-lsp is not attached to this buffer', vim.log.levels.ERROR)
      return
    end
    -- Builds and bake evaluation from now on, without a restart.
    client_notify(client, 'buildkit/setTrust', { trusted = true })
    vim.notify('buildkit-lsp: workspace ' .. (client.config.root_dir or '') .. ' trusted for this session')
  end, { desc = 'Trust the workspace: let buildkit-lsp build (ends Restricted Mode)' })
  builds.setup()
  if M.config.bake_files then
    -- Bake files by name, whatever a later `*.hcl` rule says: HCL and JSON
    -- highlighting, and the server answers them as bake files.
    vim.filetype.add({
      filename = {
        ['docker-bake.hcl'] = 'hcl',
        ['docker-bake.override.hcl'] = 'hcl',
        ['docker-bake.json'] = 'json',
        ['docker-bake.override.json'] = 'json',
      },
    })
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
      group = group,
      pattern = { 'docker-bake.hcl', 'docker-bake.json', 'docker-bake.override.hcl', 'docker-bake.override.json' },
      callback = function(args)
        M.start(args.buf)
      end,
    })
  end

  if M.config.compose_files then
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
      group = group,
      pattern = builds.COMPOSE_FILE_NAMES,
      callback = function(args)
        M.start(args.buf)
      end,
    })
  end

  -- setup() may run after Dockerfiles were opened (lazy loading).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and M.wants(bufnr) then
      M.start(bufnr)
    end
  end
end

return M
