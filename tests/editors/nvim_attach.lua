-- `vim.lsp.enable('deskmate')` with nothing but `lsp/deskmate.lua` on the runtimepath (no
-- setup()): opening a Python file starts the server with the default `cmd` and attaches.
-- Parameters (see test_nvim.py): rtp, file.
local h = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)),
  'harness.lua'))
local p = h.params

vim.opt.rtp:prepend(p.rtp)
vim.lsp.enable('deskmate')

h.run(30000, function()
  vim.cmd.edit(vim.fn.fnameescape(p.file))
  local buf = vim.api.nvim_get_current_buf()
  local client = h.wait_for_client(buf)
  h.report = {
    name = client.name,
    cmd = client.config.cmd,
    root_dir = client.root_dir,
    filetype = vim.bo[buf].filetype,
    inline_completion_provider = client.server_capabilities.inlineCompletionProvider ~= nil,
    server_name = client.server_info and client.server_info.name,
  }
  h.log('attached: %s', vim.inspect(h.report))
  h.stop(client)
end)
