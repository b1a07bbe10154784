-- Workspace trust for buildkit-lsp in Neovim (docs/threat-model.md).
--
-- Two things decide what a project can make the server run:
-- * `setup{ trusted = … }`: true (the default: builds as configured), false
--   (Restricted Mode for every root: analysis only, the server refuses
--   builds and builder management and does not evaluate bake files), or a
--   function(root) returning a boolean. Sent as initializationOptions.trusted;
--   :BuildkitTrust lifts Restricted Mode without a restart (buildkit/setTrust).
-- * The project settings file (`setup{ project_settings = '.buildkit-lsp.json' }`)
--   at the root: its `buildkit` settings are merged over setup{ settings }.
--   The keys that make the server build (`build`, `buildOnSave`) are used only
--   when the file is trusted through vim.secure (Neovim 0.9+: a prompt the
--   first time and after every change; `:trust` / `:trust ++deny`). Without
--   vim.secure (Neovim < 0.9) they are always dropped.

local M = {}

-- Project settings keys that make the server build.
M.EXECUTING_KEYS = { 'build', 'buildOnSave' }

local decode = vim.json and vim.json.decode or vim.fn.json_decode

local function read_all(path)
  local fd = io.open(path, 'r')
  if not fd then
    return nil
  end
  local text = fd:read('*a')
  fd:close()
  return text
end

--- The `buildkit` settings of a project settings file, or nil when there is
--- none. The keys in EXECUTING_KEYS are kept only if vim.secure trusts the
--- file as it is now. Returns the settings and a message for the user (or nil).
function M.read_project_settings(path)
  if vim.loop.fs_stat(path) == nil then
    return nil, nil
  end
  local text = read_all(path)
  if text == nil then
    return nil, 'buildkit-lsp: cannot read ' .. path
  end
  local ok, decoded = pcall(decode, text)
  if not ok or type(decoded) ~= 'table' then
    return nil, 'buildkit-lsp: ' .. path .. ' is not a JSON object; ignored'
  end
  local section = type(decoded.buildkit) == 'table' and decoded.buildkit or decoded
  local executing = {}
  for _, key in ipairs(M.EXECUTING_KEYS) do
    if section[key] ~= nil then
      table.insert(executing, key)
    end
  end
  if #executing == 0 then
    return section, nil
  end
  local trusted = false
  if vim.secure and vim.secure.read then
    -- Prompts the first time (and after each change of the file); nil when
    -- denied or dismissed.
    trusted = vim.secure.read(path) == text
  end
  if trusted then
    return section, nil
  end
  for _, key in ipairs(executing) do
    section[key] = nil
  end
  local how = (vim.secure and vim.secure.read) and 'trust it with :trust' or 'this needs Neovim 0.9+ (vim.secure)'
  return section,
    string.format('buildkit-lsp: %s sets %s, ignored until the file is trusted (%s)', path, table.concat(executing, ', '), how)
end

--- Whether the workspace at `root` is trusted, from setup{ trusted = … }.
function M.trusted_for(option, root)
  if type(option) == 'function' then
    return option(root) == true
  end
  return option ~= false
end

return M
