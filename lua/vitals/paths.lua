---@mod vitals.paths From the file paths traces carry to files and buffers here
---
---Paths from containers and CI rarely match the local checkout. A path is matched by its
---suffix relative to the working directory (`/app/shop/orders.py` is `shop/orders.py`
---here), after the `path_mappings` option has rewritten its prefix
---(`{ ["/app/"] = "~/src/shop/" }`).

local config = require("vitals.config")

local M = {}

---The path with the first matching `path_mappings` prefix replaced (longest prefix wins).
---@param path string
---@return string
function M.mapped(path)
  local best
  for from, to in pairs(config.options.path_mappings or {}) do
    if path:sub(1, #from) == from and (not best or #from > #best) then
      best = from
    end
  end
  if not best then
    return path
  end
  return vim.fs.normalize(config.options.path_mappings[best]) .. "/" .. path:sub(#best + 1):gsub("^/", "")
end

---Whether a trace's path stands for the file `absolute` (an absolute, normalized path):
---the same file after mapping, or a suffix of it relative to the working directory.
---@param path string as the trace has it
---@param absolute string
---@param cwd string the working directory, normalized, without a trailing slash
---@return boolean
function M.matches(path, absolute, cwd)
  local mapped = vim.fs.normalize(M.mapped(path:gsub("\\", "/")))
  if mapped == absolute then
    return true
  end
  if absolute:sub(1, #cwd + 1) ~= cwd .. "/" then
    return false
  end
  local relative = absolute:sub(#cwd + 2)
  return mapped == relative or mapped:sub(-#relative - 1) == "/" .. relative
end

---The local file a trace's path stands for, if it exists here.
---@param path string
---@return string?
function M.local_file(path)
  local mapped = vim.fs.normalize(M.mapped(path:gsub("\\", "/")))
  if vim.fn.filereadable(mapped) == 1 then
    return mapped
  end
  local parts = vim.split(mapped, "/", { trimempty = true })
  for first = 1, #parts do
    local candidate = table.concat(parts, "/", first)
    if vim.fn.filereadable(candidate) == 1 then
      return candidate
    end
  end
  return nil
end

return M
