-- Real typing in Insert mode -> ghost text -> the plugin's accept key inserts it.
-- Parameters (see test_nvim.py): plugin, cmd, init_options or settings, encoding, file, keys,
-- accept_key.
-- The driver fails only when something does not happen in time; pytest asserts on the report.
local h = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)),
  'harness.lua'))
local p = h.params

vim.opt.rtp:prepend(p.plugin)
require('deskmate').setup({
  cmd = p.cmd,
  init_options = p.init_options,
  settings = p.settings,
  accept_key = p.accept_key,
})
if p.encoding then
  -- Offer only this position encoding, so the server has to use it.
  vim.lsp.config('deskmate', { capabilities = { general = { positionEncodings = { p.encoding } } } })
end

local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')

---@param buf integer
---@return table? the ghost text extmark: row, col (0-based bytes), text, lines below, pos
local function ghost(buf)
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
    local d = m[4]
    if d.virt_text then
      local text = table.concat(vim.tbl_map(function(c) return c[1] end, d.virt_text))
      local below = vim.tbl_map(function(line)
        return table.concat(vim.tbl_map(function(c) return c[1] end, line))
      end, d.virt_lines or {})
      return { row = m[2], col = m[3], text = text, lines = below, pos = d.virt_text_pos }
    end
  end
end

h.run(40000, function()
  vim.cmd.edit(vim.fn.fnameescape(p.file))
  local buf = vim.api.nvim_get_current_buf()
  local client = h.wait_for_client(buf)
  h.report.offset_encoding = client.offset_encoding
  h.report.inline_completion_provider = client.server_capabilities.inlineCompletionProvider ~= nil
  h.log('attached (%s), typing', client.offset_encoding)

  vim.api.nvim_feedkeys(vim.keycode(p.keys), 'nt', false)
  local g
  if not h.wait_until(10000, function()
    g = ghost(buf)
    return g
  end) then
    h.fail(('no ghost text; mode=%s lines=%s'):format(vim.api.nvim_get_mode().mode,
      vim.inspect(h.lines(buf))))
  end
  local row = vim.api.nvim_win_get_cursor(0)[1]
  h.report.mode = vim.api.nvim_get_mode().mode
  h.report.ghost = g
  h.report.cursor = vim.api.nvim_win_get_cursor(0)
  h.report.typed_line = vim.api.nvim_get_current_line()
  h.log('ghost text %q at %d:%d', g.text, g.row, g.col)

  -- The plugin's accept key (remappable keys, as if typed), not a direct get() call.
  vim.api.nvim_feedkeys(vim.keycode(p.accept_key), 'mt', false)
  if not h.wait_until(5000, function()
    return vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1] ~= h.report.typed_line
  end) then
    h.fail('the accept key did not change the line: ' .. vim.inspect(h.lines(buf)))
  end
  h.report.accepted_line = vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1]
  h.report.accepted_cursor = vim.api.nvim_win_get_cursor(0)
  h.log('accepted: %q', h.report.accepted_line)

  -- No ghost text now: the same key falls back to its own meaning.
  vim.api.nvim_feedkeys(vim.keycode(p.accept_key), 'mt', false)
  if not h.wait_until(5000, function()
    return vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1] ~= h.report.accepted_line
  end) then
    h.fail('the accept key without ghost text did nothing: ' .. vim.inspect(h.lines(buf)))
  end
  h.report.fallback_line = vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1]
  h.report.lines = h.lines(buf)

  vim.api.nvim_feedkeys(vim.keycode('<Esc>'), 'nt', false)
  h.stop(client)
end)
