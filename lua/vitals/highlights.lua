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
  VitalsAnnotation = "DiagnosticHint",
  VitalsNPlusOne = "DiagnosticError",
  VitalsSlowQuery = "DiagnosticWarn",
  VitalsErrorOrigin = "DiagnosticError",
  VitalsBadgeInfo = "DiagnosticSignInfo",
  VitalsBadgeWarn = "DiagnosticSignWarn",
  VitalsBadgeError = "DiagnosticSignError",
  VitalsMarked = "Search",
  VitalsHealthy = "DiagnosticOk",
  VitalsDegraded = "DiagnosticWarn",
  VitalsCritical = "DiagnosticError",
}

---`fg` blended over `bg` at `alpha` (0–1), both as 0xRRGGBB.
---@param fg integer
---@param bg integer
---@param alpha number
---@return integer
function M.blend(fg, bg, alpha)
  local out = 0
  for shift = 16, 0, -8 do
    local f, b = bit.band(bit.rshift(fg, shift), 0xff), bit.band(bit.rshift(bg, shift), 0xff)
    out = bit.bor(bit.lshift(out, 8), math.floor(b + (f - b) * alpha + 0.5))
  end
  return out
end

---Line backgrounds for hot code: the diagnostic warning colour, then the error colour,
---blended ever more strongly into the editor's background.
local function define_heat(set)
  local get = function(name)
    return vim.api.nvim_get_hl(0, { name = name, link = false })
  end
  local bg = get("Normal").bg or (vim.o.background == "light" and 0xffffff or 0x1e1e1e)
  local warn = get("DiagnosticWarn").fg or 0xe5c07b
  local err = get("DiagnosticError").fg or 0xe06c75
  local steps = { { warn, 0.10 }, { warn, 0.18 }, { err, 0.18 }, { err, 0.28 }, { err, 0.40 } }
  for i, step in ipairs(steps) do
    set(0, "VitalsHot" .. i, { bg = M.blend(step[1], bg, step[2]), default = true })
  end
end

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
  -- Unchanged (within noise): the text colour halfway into the background, a grey that
  -- reads as neither slower nor faster whatever the colour scheme.
  local normal = vim.api.nvim_get_hl(0, { name = "Normal", link = false })
  local light = vim.o.background == "light"
  local fg, bg = normal.fg or (light and 0x1c1c1c or 0xd0d0d0), normal.bg or (light and 0xffffff or 0x1e1e1e)
  local neutral = M.blend(fg, bg, 0.5)
  set(0, "VitalsNeutral", { fg = neutral, default = true })
  set(0, "VitalsNeutralLabel", { bg = neutral, fg = bg, default = true })
  set(0, "VitalsCriticalPath", { fg = M.critical, default = true })
  define_heat(set)
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
