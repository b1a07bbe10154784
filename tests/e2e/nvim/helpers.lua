-- Shared helpers of the Neovim end-to-end tests (test.lua, builds.lua):
-- logging to stderr and to TEST_OUTPUT/<name>.log, assertions that fail with
-- the expected and actual values, waiting, synchronous LSP requests, and the
-- xpcall/cquit wrapper that turns the first failure into exit status 1.
-- Loaded with dofile(), so the tests need nothing on 'runtimepath'.

local H = {}

H.repo = vim.fn.getcwd()
H.server = os.getenv('BUILDKIT_LSP') or (H.repo .. '/target/debug/buildkit-lsp')
H.out_dir = os.getenv('TEST_OUTPUT') or (H.repo .. '/test-output')
local log_lines = {}

function H.log(fmt, ...)
  local line = string.format(fmt, ...)
  for _, part in ipairs(vim.split(line, '\n', { plain = true })) do
    table.insert(log_lines, part)
  end
  io.stderr:write(line .. '\n')
end

-- Notifications (the plugin's and the server's window/showMessage) go to the
-- test log, one line each: headless Neovim would print them without a newline.
vim.notify = function(message, level)
  H.log('notify[%s]: %s', tostring(level), tostring(message))
end

function H.fail(fmt, ...)
  error(string.format(fmt, ...), 0)
end

function H.eq(actual, expected, what)
  if not vim.deep_equal(actual, expected) then
    H.fail('%s:\n  expected %s\n  actual   %s', what, vim.inspect(expected), vim.inspect(actual))
  end
end

function H.contains(haystack, needle, what)
  if type(haystack) ~= 'string' or not haystack:find(needle, 1, true) then
    H.fail('%s: expected %s to contain %q', what, vim.inspect(haystack), needle)
  end
end

--- Waits up to ms for predicate(); on timeout fails with what and, if given, describe().
function H.wait_for(ms, what, predicate, describe)
  local ok = vim.wait(ms, predicate, 20)
  if not ok then
    H.fail('timed out after %d ms waiting for %s%s', ms, what, describe and ('; have ' .. describe()) or '')
  end
end

function H.request(bufnr, method, params)
  local started = vim.loop.hrtime()
  local responses, err = vim.lsp.buf_request_sync(bufnr, method, params, 10000)
  if not responses then
    H.fail('%s: no response (%s)', method, tostring(err))
  end
  for _, response in pairs(responses) do
    if response.err then
      H.fail('%s: server error %s', method, vim.inspect(response.err))
    end
    H.log('  %s answered in %.1f ms', method, (vim.loop.hrtime() - started) / 1e6)
    return response.result
  end
  H.fail('%s: empty response table', method)
end

--- Copies a fixture folder (recursively) into a fresh temporary folder; returns its path.
function H.copy_fixture(name)
  local dir = vim.fn.tempname()
  local src = H.repo .. '/tests/e2e/fixtures/' .. name
  local function copy(from, to)
    vim.fn.mkdir(to, 'p')
    for _, entry in ipairs(vim.fn.readdir(from)) do
      local path = from .. '/' .. entry
      if vim.fn.isdirectory(path) == 1 then
        copy(path, to .. '/' .. entry)
      else
        vim.fn.writefile(vim.fn.readfile(path, 'b'), to .. '/' .. entry, 'b')
      end
    end
  end
  copy(src, dir)
  return dir
end

--- Runs main() under xpcall, writes TEST_OUTPUT/<log_name>, exits 0 or 1.
function H.run(log_name, main)
  local ok, err = xpcall(main, debug.traceback)
  if not ok then
    H.log('FAIL: %s', tostring(err))
  end
  vim.fn.mkdir(H.out_dir, 'p')
  vim.fn.writefile(log_lines, H.out_dir .. '/' .. log_name)
  if ok then
    vim.cmd('qall!')
  else
    vim.cmd('cquit 1')
  end
end

return H
