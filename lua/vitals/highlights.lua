---@mod vitals.highlights Highlight groups, defined with `default = true`
---
---The host names groups by meaning (VitalsTitle, VitalsService3, VitalsFlameError, …);
---this file gives them colours. Each is defined with `default = true`, so a colour scheme
---or the user's own `:highlight` wins, and they are defined again after `:colorscheme`.

local M = {}

---Service colours, readable on dark and light backgrounds.
M.palette = {
  "#5fafff", "#87d787", "#d7af5f", "#d787d7", "#5fd7d7",
  "#ffaf87", "#af87ff", "#afd787", "#87afd7", "#ff8787",
}

---The critical path's colour: one no service uses, so marked cells stand out.
M.critical = "#ff5f00"

local links = {
  VitalsTitle = "Title",
  VitalsDim = "Comment",
  VitalsDuration = "Number",
  VitalsError = "DiagnosticError",
  VitalsWarning = "DiagnosticWarn",
  VitalsKey = "Special",
  VitalsLabel = "Identifier",
}

---Defines every group the host uses.
function M.define()
  local set = vim.api.nvim_set_hl
  for group, target in pairs(links) do
    set(0, group, { link = target, default = true })
  end
  for i, colour in ipairs(M.palette) do
    set(0, "VitalsService" .. i, { fg = colour, default = true })
    set(0, "VitalsFlame" .. i, { bg = colour, fg = "#1c1c1c", default = true })
  end
  local error_fg = vim.api.nvim_get_hl(0, { name = "DiagnosticError", link = false }).fg
  set(0, "VitalsFlameError", { bg = error_fg or "#e06c75", fg = "#ffffff", bold = true, default = true })
  local slower = vim.api.nvim_get_hl(0, { name = "DiagnosticError", link = false }).fg or "#e06c75"
  local faster = vim.api.nvim_get_hl(0, { name = "DiagnosticOk", link = false }).fg or "#98c379"
  set(0, "VitalsSlower", { fg = slower, default = true })
  set(0, "VitalsSlowerLabel", { bg = slower, fg = "#1c1c1c", default = true })
  set(0, "VitalsFaster", { fg = faster, default = true })
  set(0, "VitalsFasterLabel", { bg = faster, fg = "#1c1c1c", default = true })
  set(0, "VitalsCriticalPath", { fg = M.critical, default = true })
  set(0, "VitalsCriticalLabel", { bg = M.critical, fg = "#1c1c1c", bold = true, default = true })
end

---Defines the groups now and again whenever the colour scheme changes.
function M.setup()
  M.define()
  vim.api.nvim_create_autocmd("ColorScheme", {
    group = vim.api.nvim_create_augroup("vitals_highlights", { clear = true }),
    callback = M.define,
  })
end

return M
