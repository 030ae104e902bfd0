--- Deskmate for Neovim: registers the `deskmate` language server (its defaults live in
--- `lsp/deskmate.lua`) and shows its suggestions as ghost text with Neovim 0.12's
--- `vim.lsp.inline_completion`. All the work happens in the server; this module only wires
--- Neovim's built-in LSP client to it.
local M = {}

---@class deskmate.Opts
---Command that starts the server (default: `{ 'deskmate', 'serve' }`).
---@field cmd? string[]
---Filetypes to attach to (default: every filetype).
---@field filetypes? string[]
---Markers of the workspace root (default: `{ { '.deskmate.toml', '.git' } }`).
---@field root_markers? (string|string[])[]
---Sent as `initializationOptions`: the same structure as `.deskmate.toml`.
---@field init_options? table<string, any>
---The `deskmate` section answered to `workspace/configuration`: the same structure as
---`.deskmate.toml`; it overrides `init_options`.
---@field settings? table<string, any>
---Show ghost text (`vim.lsp.inline_completion.enable()`, default: true).
---@field inline_completion? boolean
---Insert-mode key that accepts the ghost text and otherwise keeps its own meaning, e.g.
---`'<Tab>'` (default: no mapping; call `vim.lsp.inline_completion.get()` yourself).
---@field accept_key? string

--- Accept the ghost text in the current buffer if there is one, else type `key`.
---@param key string an Insert-mode key, e.g. `'<Tab>'`
function M.map_accept(key)
  vim.keymap.set('i', key, function()
    if vim.lsp.inline_completion.get() then
      return ''
    end
    return key
  end, { expr = true, replace_keycodes = true, desc = 'Deskmate: accept the suggestion' })
end

--- Register and enable the `deskmate` server, and turn on ghost text.
---@param opts? deskmate.Opts
function M.setup(opts)
  opts = opts or {}
  vim.validate('opts', opts, 'table')
  vim.validate('cmd', opts.cmd, 'table', true)
  vim.validate('filetypes', opts.filetypes, 'table', true)
  vim.validate('root_markers', opts.root_markers, 'table', true)
  vim.validate('init_options', opts.init_options, 'table', true)
  vim.validate('settings', opts.settings, 'table', true)
  vim.validate('inline_completion', opts.inline_completion, 'boolean', true)
  vim.validate('accept_key', opts.accept_key, 'string', true)
  if not (vim.lsp.inline_completion and vim.lsp.config) then
    vim.notify('deskmate: needs Neovim 0.12 or newer', vim.log.levels.ERROR)
    return
  end

  ---@type vim.lsp.Config
  local config = {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = opts.init_options,
    settings = opts.settings and { deskmate = opts.settings },
  }
  vim.lsp.config('deskmate', config)

  local cmd = (vim.lsp.config.deskmate or {}).cmd
  if not cmd then
    vim.notify('deskmate: no `cmd`: is the plugin folder (with lsp/deskmate.lua) on the '
      .. 'runtimepath?', vim.log.levels.ERROR)
    return
  elseif type(cmd) == 'table' and vim.fn.executable(cmd[1]) == 0 then
    vim.notify(('deskmate: %q is not executable; install deskmate or set `cmd`'):format(cmd[1]),
      vim.log.levels.WARN)
  end
  vim.lsp.enable('deskmate')

  if opts.inline_completion ~= false then
    vim.lsp.inline_completion.enable()
  end
  if opts.accept_key then
    M.map_accept(opts.accept_key)
  end
end

return M
