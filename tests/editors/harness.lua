-- Shared by the Neovim drivers in this folder: parameters in, a report out, a coroutine that
-- waits on Neovim's event loop, and an exit code nvim reports to pytest (`qa!` / `cq!`).
-- Run a driver as `nvim --headless --clean -n -c 'luafile DRIVER'` (not `nvim -l`: there,
-- Insert-mode feedkeys block on stdin and nvim exits 0 without running the rest).
local M = {}

local t0 = vim.uv.hrtime()
vim.o.showmode = false -- keep '-- INSERT --' out of the output

---@return integer milliseconds since the driver started
function M.ms()
  return math.floor((vim.uv.hrtime() - t0) / 1e6)
end

---@param fmt string
function M.log(fmt, ...)
  io.stdout:write(('[%5dms] ' .. fmt .. '\n'):format(M.ms(), ...))
  io.stdout:flush()
end

--- The JSON document pytest wrote to $DESKMATE_NVIM_PARAMS.
---@type table<string, any>
M.params = vim.json.decode(table.concat(vim.fn.readfile(assert(vim.env.DESKMATE_NVIM_PARAMS)), '\n'))

--- Observations for pytest to assert on, written to `params.report` when the driver ends.
---@type table<string, any>
M.report = {}

local done = false

---@param code integer 0 quits with `qa!`, anything else with `cq!`
---@param msg? string
function M.finish(code, msg)
  if done then
    return
  end
  done = true
  if msg then
    io.stdout:write(msg .. '\n')
    io.stdout:flush()
  end
  if M.params.report then
    vim.fn.writefile({ vim.json.encode(M.report) }, M.params.report)
  end
  vim.schedule(function()
    vim.cmd(code == 0 and 'qa!' or 'cq!')
  end)
end

local co ---@type thread

local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    M.finish(1, 'FAIL: driver error: ' .. tostring(err))
  end
end

--- Yield to Neovim's event loop for `n` milliseconds.
---@param n integer
function M.sleep(n)
  vim.defer_fn(resume, n)
  coroutine.yield()
end

--- Poll `pred` every 20 ms until it returns a truthy value or `timeout` ms pass.
---@param timeout integer
---@param pred fun(): any
---@return boolean
function M.wait_until(timeout, pred)
  local deadline = M.ms() + timeout
  while M.ms() < deadline do
    if pred() then
      return true
    end
    M.sleep(20)
  end
  return false
end

--- Run `body` as a coroutine on the event loop; it fails the run by calling `M.fail` (or by
--- raising) and passes by returning. The whole run fails after `timeout` ms.
---@param timeout integer
---@param body fun()
function M.run(timeout, body)
  vim.defer_fn(function()
    M.finish(1, ('FAIL: driver timed out after %d ms'):format(timeout))
  end, timeout)
  co = coroutine.create(function()
    local ok, err = xpcall(body, debug.traceback)
    if ok then
      M.log('PASS')
      M.finish(0)
    else
      M.finish(1, tostring(err))
    end
  end)
  vim.schedule(resume)
end

--- Abort the run with a message (raises, so the rest of the body does not run).
---@param msg string
function M.fail(msg)
  error('FAIL: ' .. msg, 0)
end

--- Lines of buffer `buf`.
---@param buf integer
---@return string[]
function M.lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

--- Wait until the `deskmate` client is attached to `buf` and initialized.
---@param buf integer
---@return vim.lsp.Client
function M.wait_for_client(buf)
  local client ---@type vim.lsp.Client?
  if not M.wait_until(15000, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'deskmate' })[1]
    return client and client.initialized
  end) then
    M.fail('the deskmate client did not attach; clients: '
      .. vim.inspect(vim.tbl_map(function(c) return c.name end, vim.lsp.get_clients())))
  end
  return assert(client)
end

--- Stop `client` and wait for the server process to exit.
---@param client vim.lsp.Client
function M.stop(client)
  client:stop()
  if not M.wait_until(5000, function() return client:is_stopped() end) then
    M.fail('the server did not stop')
  end
end

return M
