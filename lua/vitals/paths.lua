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
  -- The user's target may use ~ and $VARS; the rest comes from the trace and stays literal.
  return vim.fs.normalize(config.options.path_mappings[best]) .. "/" .. path:sub(#best + 1):gsub("^/", "")
end

---A path from trace data as plain text: backslashes become slashes and nothing is
---expanded, since `~` and `$HOME` in a trace would otherwise name the user's home. A
---leading `~` is dropped, leaving the tail to match under the working directory.
---@param path string
---@return string
local function literal(path)
  return (path:gsub("\\", "/"):gsub("^~[^/]*/*", ""))
end

---Whether a trace's path stands for the file `absolute` (an absolute, normalized path):
---the same file after mapping, or a suffix of it relative to the working directory.
---@param path string as the trace has it
---@param absolute string
---@param cwd string the working directory, normalized, without a trailing slash
---@return boolean
function M.matches(path, absolute, cwd)
  local mapped = vim.fs.normalize(M.mapped(literal(path)), { expand_env = false })
  if mapped == absolute then
    return true
  end
  if absolute:sub(1, #cwd + 1) ~= cwd .. "/" then
    return false
  end
  local relative = absolute:sub(#cwd + 2)
  return mapped == relative or mapped:sub(-#relative - 1) == "/" .. relative
end

---Whether the absolute path `path` is `dir` or lies under it.
---@param path string
---@param dir string
---@return boolean
local function inside(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

---The folders a trace may lead to: the working directory, and the targets of
---`path_mappings` (the user said traces' files live there).
---@param cwd string
---@return string[]
local function trusted_folders(cwd)
  local folders = { cwd }
  for _, to in pairs(config.options.path_mappings or {}) do
    table.insert(folders, (vim.fn.simplify(vim.fn.fnamemodify(vim.fs.normalize(to), ":p")):gsub("/$", "")))
  end
  return folders
end

---`path` made absolute against `cwd` and normalized (`..` resolved), expanding nothing.
local function absolute_of(path, cwd)
  if path:sub(1, 1) ~= "/" then
    path = cwd .. "/" .. path
  end
  return vim.fs.normalize(path, { expand_env = false })
end

---The local file a trace's path stands for, if it exists here: the path after
---`path_mappings`, or else the longest of its tails that names a file under the working
---directory. Trace data is not trusted: a path that leads elsewhere (`/etc/passwd`,
---`../../secret`, `~/.bashrc`, a symlink pointing out) is never returned unless a
---mapping the user configured leads there.
---@param path string
---@return string?
function M.local_file(path)
  local cwd = vim.fs.normalize(vim.fn.getcwd())
  local folders = vim.tbl_map(function(folder)
    return vim.uv.fs_realpath(folder) or folder
  end, trusted_folders(cwd))
  local function allowed(candidate)
    local absolute = absolute_of(candidate, cwd)
    -- Where the file really is, symlinks followed: it must still be inside.
    local real = vim.uv.fs_realpath(absolute)
    local stat = real and vim.uv.fs_stat(real)
    if not stat or stat.type ~= "file" then
      return nil
    end
    for _, folder in ipairs(folders) do
      if inside(real, folder) then
        return absolute
      end
    end
    return nil
  end
  local mapped = M.mapped(literal(path))
  local found = allowed(mapped)
  if found then
    return found
  end
  local parts = vim.split(mapped, "/", { trimempty = true })
  for first = 1, #parts do
    found = allowed(table.concat(parts, "/", first))
    if found then
      return found
    end
  end
  return nil
end

---@class vitals.CodeLocation
---@field filepath? string
---@field lineno? integer
---@field function? string

---The local file of a code location from trace data, or why there is none.
---@param code? vitals.CodeLocation
---@return string? file
---@return string? why not, for the user
function M.code_file(code)
  if not code or not code.filepath then
    if code and code["function"] then
      return nil, ("The trace names only the function %s, not its file"):format(code["function"])
    end
    return nil, "The trace has no code location (code.filepath) for this span"
  end
  local file = M.local_file(code.filepath)
  if not file then
    return nil, ("%s is not a file under the working directory (see the path_mappings option)"):format(code.filepath)
  end
  return file
end

---Opens `file` in the current window with the cursor on `lineno` (when given).
---@param file string
---@param lineno? integer
function M.edit(file, lineno)
  local ok, err = pcall(vim.cmd.edit, vim.fn.fnameescape(file))
  if not ok then
    return require("vitals.notify").error(tostring(err))
  end
  if lineno then
    pcall(vim.api.nvim_win_set_cursor, 0, { math.max(1, math.min(lineno, vim.api.nvim_buf_line_count(0))), 0 })
  end
end

return M
