---@mod vitals.notify Messages to the user, all titled "Vitals"

local M = {}

---@param message string
function M.error(message)
  vim.notify(message, vim.log.levels.ERROR, { title = "Vitals" })
end

---@param message string
function M.info(message)
  vim.notify(message, vim.log.levels.INFO, { title = "Vitals" })
end

---Shows (or with "" clears) a transient status in the command line, not in history.
---@param message string
function M.progress(message)
  vim.api.nvim_echo({ { message ~= "" and ("Vitals: " .. message) or "", "Comment" } }, false, {})
end

return M
