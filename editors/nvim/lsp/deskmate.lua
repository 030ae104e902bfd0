-- Deskmate's language server for Neovim 0.11+ `vim.lsp.enable('deskmate')`.
-- `require('deskmate').setup{}` layers the user's options over this table; without setup(),
-- `vim.lsp.config('deskmate', {...})` does the same.

---@type vim.lsp.Config
return {
  -- `deskmate` comes from `pip install deskmate` (or the project's virtualenv).
  cmd = { 'deskmate', 'serve' },
  -- No `filetypes`: Deskmate completes any language, so it attaches to every file buffer.
  -- The workspace is the nearest folder holding either marker (equal priority, so a
  -- `.deskmate.toml` in a subproject of a git repository wins over the repository root).
  root_markers = { { '.deskmate.toml', '.git' } },
}
