---@mod vitals.text Small text helpers: fitting text into cells, names that look alike

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

---How many single-character insertions, deletions or substitutions turn `a` into `b`
---(Levenshtein distance, over bytes).
---@param a string
---@param b string
---@return integer
function M.distance(a, b)
  local previous = {}
  for j = 0, #b do
    previous[j] = j
  end
  for i = 1, #a do
    local current = { [0] = i }
    for j = 1, #b do
      local substitution = previous[j - 1] + (a:byte(i) == b:byte(j) and 0 or 1)
      current[j] = math.min(previous[j] + 1, current[j - 1] + 1, substitution)
    end
    previous = current
  end
  return previous[#b]
end

---The names among `known` that look like a misspelling of `name`, closest first, at most
---`limit`: within a third of its length in edits (at least 2), or containing it, or
---contained in it, ignoring case.
---@param name string
---@param known string[]
---@param limit integer
---@return string[]
function M.closest(name, known, limit)
  local wanted = name:lower()
  local allowed = math.max(2, math.floor(#wanted / 3))
  local scored = {}
  for _, candidate in ipairs(known) do
    local lower = candidate:lower()
    local distance = M.distance(wanted, lower)
    local contains = lower:find(wanted, 1, true) or wanted:find(lower, 1, true)
    if distance <= allowed or contains then
      table.insert(scored, { name = candidate, distance = distance })
    end
  end
  table.sort(scored, function(x, y)
    if x.distance ~= y.distance then
      return x.distance < y.distance
    end
    return x.name < y.name
  end)
  return vim.tbl_map(function(entry)
    return entry.name
  end, vim.list_slice(scored, 1, limit))
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
