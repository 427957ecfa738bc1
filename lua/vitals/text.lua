---@mod vitals.text Small text helpers: fitting text into cells

local M = {}

---`text` cut to `width` display cells, with "…" where it was cut.
---@param text string
---@param width integer
---@return string
function M.fit(text, width)
  if vim.fn.strdisplaywidth(text) <= width then
    return text
  end
  if width <= 0 then
    return ""
  end
  -- Characters, not bytes: a cut never splits one; wide characters count twice.
  local kept = vim.fn.strcharpart(text, 0, width - 1)
  while kept ~= "" and vim.fn.strdisplaywidth(kept) > width - 1 do
    kept = vim.fn.strcharpart(kept, 0, vim.fn.strchars(kept) - 1)
  end
  return kept .. "…"
end

---"a", "a or b", "a, b or c".
---@param names string[]
---@return string
function M.either(names)
  if #names <= 1 then
    return names[1] or ""
  end
  return table.concat(names, ", ", 1, #names - 1) .. " or " .. names[#names]
end

return M
