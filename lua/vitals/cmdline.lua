---@mod vitals.cmdline Reading the arguments of Vitals' commands
---
---Operation names have spaces ("GET /checkout"). Neovim splits `<f-args>` at every
---space, so the commands read their raw argument text here instead: spaces separate
---arguments, "double" or 'single' quotes keep words together, a backslash keeps the
---next character as it is (`POST\ /checkout`), and a TraceQL query in braces is one
---argument as typed (`{ span.http.route = "/cart" && duration > 1s }`).

local M = {}

---Splits a command's argument text into arguments.
---@param text string
---@return string[] args
---@return boolean ends_in_gap whether the text ends between arguments (so the next one has not begun)
function M.split(text)
  local args = {}
  local current ---@type string[]?
  local quote ---@type string?
  local i = 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == "{" and not current and not quote then
      local j = M.query_end(text, i)
      table.insert(args, text:sub(i, j))
      i = j
    elseif c == "\\" and i < #text and quote ~= "'" then
      current = current or {}
      table.insert(current, text:sub(i + 1, i + 1))
      i = i + 1
    elseif quote then
      if c == quote then
        quote = nil
      else
        table.insert(current, c)
      end
    elseif c == '"' or c == "'" then
      quote = c
      current = current or {}
    elseif c:match("%s") then
      if current then
        table.insert(args, table.concat(current))
        current = nil
      end
    else
      current = current or {}
      table.insert(current, c)
    end
    i = i + 1
  end
  if current then
    table.insert(args, table.concat(current))
  end
  return args, current == nil
end

---Where a TraceQL query that starts with the `{` at `start` ends: its matching brace,
---or, when an operator joins it to another braced span set (`{ … } >> { … }`,
---`{ … } && { … }`), the end of the last one. Quoted strings inside are skipped.
---@param text string
---@param start integer
---@return integer
function M.query_end(text, start)
  local depth, j, in_string, last = 0, start, nil, #text
  while j <= #text do
    local d = text:sub(j, j)
    if in_string then
      if d == "\\" then
        j = j + 1
      elseif d == in_string then
        in_string = nil
      end
    elseif d == '"' or d == "`" then
      in_string = d
    elseif d == "{" then
      depth = depth + 1
    elseif d == "}" then
      depth = depth - 1
      if depth == 0 then
        last = j
        local joined = text:sub(j + 1):match("^%s*[!<>&|~]+%s*(){")
        if not joined then
          return last
        end
        j = j + joined - 1
      end
    end
    j = j + 1
  end
  return last
end

---Which argument (1-based) the cursor is completing on a command line such as
---`VitalsTrace 8ec`: the arguments before the cursor, plus one when it stands after
---a space.
---@param line string the whole command line
---@param cursor integer byte position of the cursor in `line`
---@return integer
function M.position(line, cursor)
  local after_command = line:sub(1, cursor):match("^[%s:]*%S+%s+(.*)$")
  if not after_command then
    return 1
  end
  local args, ends_in_gap = M.split(after_command)
  return #args + (ends_in_gap and 1 or 0)
end

---The candidates starting with `lead`.
---@param candidates string[]
---@param lead string
---@return string[]
function M.starting_with(candidates, lead)
  return vim.tbl_filter(function(candidate)
    return vim.startswith(candidate, lead)
  end, candidates)
end

return M
