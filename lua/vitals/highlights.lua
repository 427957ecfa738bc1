---@mod vitals.highlights Highlight groups, defined with `default = true`
---
---The host names groups by meaning (VitalsTitle, VitalsService3, VitalsFlameError, …);
---this file gives them colours. Each is defined with `default = true`, so a colour scheme
---or the user's own `:highlight` wins, and they are defined again after `:colorscheme`.

local M = {}

---Service colours (VitalsService1…20, VitalsFlame1…20). The host picks a service's
---colour by a hash of its name, so a service keeps its colour in every view. None is red,
---so a service never looks like an error; on a light background the text colours are
---darkened to stay readable.
M.palette = {
  "#ffaf5f", "#d7d75f", "#87d75f", "#5fd7af", "#5fd7d7",
  "#5fafff", "#8787ff", "#af87ff", "#d787ff", "#ff87d7",
  "#d7af87", "#afaf5f", "#afd7af", "#87d7af", "#87afaf",
  "#87afd7", "#afafd7", "#d7afd7", "#d7af5f", "#5f87d7",
}

---The dark of the line drawn through critical-path bars, and of label text on bars.
M.ink = "#1c1c1c"

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

---A group's resolved attributes (links followed).
---@param name string
---@return table
local function get(name)
  return vim.api.nvim_get_hl(0, { name = name, link = false })
end

---Line backgrounds for hot code: the diagnostic warning colour, then the error colour,
---blended ever more strongly into the editor's background `bg`.
local function define_heat(set, bg)
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
  local light = vim.o.background == "light"
  for i, colour in ipairs(M.palette) do
    local rgb = tonumber(colour:sub(2), 16)
    local text = light and M.blend(rgb, 0x000000, 0.6) or rgb
    set(0, "VitalsService" .. i, { fg = text, default = true })
    -- The critical path is `━` drawn in this group: a dark line through the bar.
    set(0, "VitalsFlame" .. i, { bg = rgb, fg = M.ink, default = true })
  end
  local normal = get("Normal")
  local fg = normal.fg or (light and 0x1c1c1c or 0xd0d0d0)
  local bg = normal.bg or (light and 0xffffff or 0x1e1e1e)
  local error_fg = get("DiagnosticError").fg or 0xe06c75
  set(0, "VitalsFlameError", { bg = error_fg, fg = "#ffffff", bold = true, default = true })
  local slower = error_fg
  local faster = get("DiagnosticOk").fg or 0x98c379
  set(0, "VitalsSlower", { fg = slower, default = true })
  set(0, "VitalsSlowerLabel", { bg = slower, fg = M.ink, default = true })
  set(0, "VitalsFaster", { fg = faster, default = true })
  set(0, "VitalsFasterLabel", { bg = faster, fg = M.ink, default = true })
  -- Unchanged (within noise): the text colour halfway into the background, a grey that
  -- reads as neither slower nor faster whatever the colour scheme.
  local neutral = M.blend(fg, bg, 0.5)
  set(0, "VitalsNeutral", { fg = neutral, default = true })
  set(0, "VitalsNeutralLabel", { bg = neutral, fg = bg, default = true })
  -- Labels over the critical path: the editor's text and background swapped, a band in
  -- neither a service's colour nor the error red (as Jaeger UI's overlay has no colour).
  set(0, "VitalsCriticalLabel", { bg = fg, fg = bg, bold = true, default = true })
  define_heat(set, bg)
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
