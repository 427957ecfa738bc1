---@mod vitals.notify Messages to the user, all titled "Vitals"
---
---Progress is a transient echo that never asks for Enter: it is not kept in
---|:messages|, it is cut to fit the one line the command line has beside the ruler
---('v:echospace'), and it is drawn from the main loop rather than from inside the
---prompt that started the work. A message echoed while an |inputlist()| or |input()|
---prompt is still on screen joins the prompt's scrolled lines, and Neovim then asks
---for Enter; the prompt is gone by the time the main loop runs again.

local text_fit = require("vitals.text").fit

local M = {}

---@param message string
function M.error(message)
  vim.notify(message, vim.log.levels.ERROR, { title = "Vitals" })
end

---@param message string
function M.info(message)
  vim.notify(message, vim.log.levels.INFO, { title = "Vitals" })
end

---Progress still running, newest last; the newest is the one shown.
---@type {text: string}[]
local running = {}
---The entry on screen now, if any.
---@type {text: string}?
local shown = nil

---Whether the command line may be written to now: not while the user types a command
---or answers a prompt.
local function may_echo()
  local mode = vim.api.nvim_get_mode()
  return not mode.blocking and not mode.mode:find("^[cr]")
end

---Shows the newest running progress, or clears the line when none runs.
local function draw()
  local newest = running[#running]
  if newest == shown then
    return
  end
  if not may_echo() then
    -- Neovim redraws the command line itself when the prompt or command ends.
    shown = nil
    return
  end
  shown = newest
  local text = newest and text_fit("Vitals: " .. newest.text, vim.v.echospace) or ""
  vim.api.nvim_echo({ { text, "Comment" } }, false, {})
end

---Shows `text` (e.g. "loading traces…") as transient progress until the returned
---function is called, which removes it (showing the previous progress still running,
---or clearing the line). Progress never asks for Enter and is not kept in |:messages|.
---@param text string
---@return fun() done
function M.progress(text)
  local entry = { text = text }
  table.insert(running, entry)
  vim.schedule(draw)
  return function()
    for i, other in ipairs(running) do
      if other == entry then
        table.remove(running, i)
        break
      end
    end
    if shown == entry then
      draw()
    end
  end
end

return M
