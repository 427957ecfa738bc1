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

---Whether the command line may be written to now: not while the user types a command
---or answers a prompt.
local function may_echo()
  local mode = vim.api.nvim_get_mode()
  return not mode.blocking and not mode.mode:find("^[cr]")
end

---Whether `vim.notify` is Neovim's own (which echoes on the command line), not a
---plugin's (nvim-notify, noice, fidget) that shows messages in windows of its own.
local function builtin_notify()
  local info = debug.getinfo(vim.notify, "S")
  return info ~= nil and info.source:find("vim/_editor.lua", 1, true) ~= nil
end

---A message nobody asked for just now (an alert): it arrives while the user types, so
---with Neovim's own |vim.notify()| it is one line cut to fit beside the ruler (and kept
---so in |:messages|; its source, e.g. |:VitalsAlerts|, has the whole text), never a
---hit-enter prompt, and nothing while a command line or prompt is open; a notification
---plugin shows it whole.
---@param message string
---@param level integer vim.log.levels
function M.unasked(message, level)
  if not builtin_notify() then
    return vim.notify(message, level, { title = "Vitals" })
  end
  if may_echo() then
    local hl = level >= vim.log.levels.WARN and "WarningMsg" or "None"
    vim.api.nvim_echo({ { text_fit("Vitals: " .. message, vim.v.echospace), hl } }, true, {})
  end
end

---Progress still running, newest last; the newest is the one shown.
---@type {text: string}[]
local running = {}
---The entry on screen now, if any.
---@type {text: string}?
local shown = nil

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
