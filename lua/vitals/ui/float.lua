---@mod vitals.ui.float Floating windows that show what the host drew
---
---A drawing is `{ title, lines, highlights }` with highlights as
---`{ line, start_col, end_col, group }` (0-based, byte columns).

local config = require("vitals.config")

local M = {}

M.ns = vim.api.nvim_create_namespace("vitals_float")

---@class vitals.Drawing
---@field title string
---@field lines string[]
---@field highlights {[1]: integer, [2]: integer, [3]: integer, [4]: string}[]

---Puts a drawing into a buffer, replacing what it held.
---@param buf integer
---@param drawing vitals.Drawing
function M.paint(buf, drawing)
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, drawing.lines)
  vim.bo[buf].modifiable = false
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  for _, h in ipairs(drawing.highlights or {}) do
    pcall(vim.api.nvim_buf_set_extmark, buf, M.ns, h[1], h[2], { end_col = h[3], hl_group = h[4] })
  end
end

---The columns a trace float may use; the host draws to exactly this width.
---@return integer
function M.content_width()
  return math.max(40, math.floor(vim.o.columns * config.options.float.width) - 2)
end

---A footer that fits `width` columns: `key action` parts (separated by ` · `) are left
---out from the end, keeping the first and `? keys`, which lists them all.
---@param footer string
---@param width integer
---@return string
function M.fit_footer(footer, width)
  local fits = function(text)
    return vim.fn.strdisplaywidth(" " .. text .. " ") <= width
  end
  if fits(footer) then
    return footer
  end
  local parts = vim.split(footer, " · ", { plain = true })
  local keys = "? keys"
  if parts[#parts] == keys then
    table.remove(parts)
  end
  while #parts > 1 and not fits(table.concat(parts, " · ") .. " · " .. keys) do
    table.remove(parts)
  end
  local fitted = table.concat(parts, " · ") .. " · " .. keys
  if fits(fitted) then
    return fitted
  end
  return vim.fn.strcharpart(fitted, 0, math.max(1, width - 3)) .. "…"
end

---The rows a float may take.
---@return integer
local function max_height()
  return math.max(5, math.floor((vim.o.lines - vim.o.cmdheight) * config.options.float.height) - 2)
end

---@param line_count integer
---@param width integer columns of content
---@param title string
---@param footer? string
---@return table window config for nvim_open_win
local function layout(line_count, width, title, footer)
  local height = math.min(math.max(line_count, 1), max_height())
  footer = footer and M.fit_footer(footer, width)
  return {
    relative = "editor",
    width = width,
    height = height,
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = "minimal",
    border = config.options.float.border,
    title = " " .. M.fit_title(title, width) .. " ",
    title_pos = "center",
    footer = footer and (" " .. footer .. " ") or nil,
    footer_pos = footer and "right" or nil,
  }
end

---A title that fits `width` columns, cut in the middle.
---@param title string
---@param width integer
---@return string
function M.fit_title(title, width)
  local room = width - 4
  if vim.fn.strdisplaywidth(title) <= room then
    return title
  end
  local half = math.floor((room - 1) / 2)
  local chars = vim.fn.strchars(title)
  return vim.fn.strcharpart(title, 0, room - 1 - half) .. "…" .. vim.fn.strcharpart(title, chars - half, half)
end

---Lines wider than the window wrap (a message the host did not fit, such as a status
---line), continuation lines lined up after a `Key   ` column when there is one, and the
---window grows to show them.
---@param win integer
---@param buf integer
local function wrap_overflow(win, buf)
  local width = vim.api.nvim_win_get_width(win)
  local overflow = false
  for _, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if vim.fn.strdisplaywidth(line) > width then
      overflow = true
      break
    end
  end
  vim.wo[win].wrap = overflow
  if not overflow then
    return
  end
  vim.wo[win].linebreak = true
  vim.wo[win].breakindent = true
  vim.bo[buf].formatlistpat = [[^\s*\S.\{-}\s\{2,}]]
  vim.wo[win].breakindentopt = "list:-1"
  local rows = vim.api.nvim_win_text_height(win, {}).all
  vim.api.nvim_win_set_config(win, { height = math.min(rows, max_height()) })
end

---Opens a float holding a drawing.
---@param drawing vitals.Drawing
---@param opts {width?: integer, footer?: string, filetype?: string, enter?: boolean, height?: integer} height: the rows to make room for (default: the drawing's), for content that grows
---@return integer buf
---@return integer win
function M.open(drawing, opts)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = opts.filetype or "vitals"
  M.paint(buf, drawing)
  local width = opts.width or M.content_width()
  local rows = math.max(#drawing.lines, opts.height or 0)
  local win = vim.api.nvim_open_win(buf, opts.enter ~= false, layout(rows, width, drawing.title, opts.footer))
  vim.wo[win].cursorline = true
  wrap_overflow(win, buf)
  return buf, win
end

---Opens a float whose `<CR>` acts on the cursor position; `q` and `<Esc>` close it.
---@param drawing vitals.Drawing
---@param opts {footer: string, filetype: string}
---@param enter {[1]: fun(line: integer, col: integer), [2]: string} action on (1-based line, 0-based byte column), description
---@return integer buf
function M.open_list(drawing, opts, enter)
  local buf, win = M.open(drawing, opts)
  local function close()
    M.close(win)
  end
  M.map(buf, {
    q = { close, "close" },
    ["<Esc>"] = { close, "close" },
    ["<CR>"] = {
      function()
        local cursor = vim.api.nvim_win_get_cursor(0)
        enter[1](cursor[1], cursor[2])
      end,
      enter[2],
    },
  })
  return buf
end

---Fits an open float to new content and a new editor size.
---@param win integer
---@param drawing vitals.Drawing
---@param footer? string
---@param height? integer the rows to make room for, when more than the drawing's
function M.relayout(win, drawing, footer, height)
  if vim.api.nvim_win_is_valid(win) then
    local rows = math.max(#drawing.lines, height or 0)
    vim.api.nvim_win_set_config(win, layout(rows, M.content_width(), drawing.title, footer))
    wrap_overflow(win, vim.api.nvim_win_get_buf(win))
  end
end

---Maps keys in a buffer, and `?` to list them (unless `maps` has its own).
---@param buf integer
---@param maps table<string, {[1]: function, [2]: string}> key → { action, description }
function M.map(buf, maps)
  for key, map in pairs(maps) do
    vim.keymap.set("n", key, map[1], { buffer = buf, nowait = true, silent = true, desc = map[2] })
  end
  if not maps["?"] then
    vim.keymap.set("n", "?", function()
      M.show_keys(buf)
    end, { buffer = buf, nowait = true, silent = true, desc = "list the keys" })
  end
end

---Closing keys first, then `<CR>` and other special keys, letters, `?` last.
---@param lhs string
---@return integer
local function key_rank(lhs)
  if lhs == "q" then
    return 0
  elseif lhs == "<Esc>" then
    return 1
  elseif lhs:sub(1, 1) == "<" then
    return 2
  elseif lhs == "?" then
    return 4
  end
  return 3
end

---The keys mapped in `buf` with what they do: `{ keys, description }`, keys that do the
---same joined (`q / <Esc>`).
---@param buf integer
---@return {[1]: string, [2]: string}[]
function M.keys(buf)
  local by_description, entries = {}, {}
  local maps = vim.api.nvim_buf_get_keymap(buf, "n")
  table.sort(maps, function(a, b)
    local ra, rb = key_rank(a.lhs), key_rank(b.lhs)
    return ra < rb or (ra == rb and a.lhs < b.lhs)
  end)
  for _, map in ipairs(maps) do
    if map.desc and map.desc ~= "" then
      local entry = by_description[map.desc]
      if entry then
        entry[1] = entry[1] .. " / " .. map.lhs
      else
        entry = { map.lhs, map.desc }
        by_description[map.desc] = entry
        table.insert(entries, entry)
      end
    end
  end
  return entries
end

---Opens a float listing the keys of `buf`, descriptions wrapped to the window; `q` and
---`<Esc>` close it.
---@param buf integer
function M.show_keys(buf)
  local entries = M.keys(buf)
  local key_width = 0
  for _, entry in ipairs(entries) do
    key_width = math.max(key_width, vim.fn.strdisplaywidth(entry[1]))
  end
  local width = math.min(M.content_width(), 64)
  local indent = 2 + key_width + 2
  local lines, highlights = {}, {}
  for _, entry in ipairs(entries) do
    local words = vim.split(entry[2], " ", { plain = true })
    local line = ("  %s%s  "):format(entry[1], (" "):rep(key_width - vim.fn.strdisplaywidth(entry[1])))
    table.insert(highlights, { #lines, 2, 2 + #entry[1], "VitalsKey" })
    local used = 0
    for _, word in ipairs(words) do
      if used > 0 and indent + used + 1 + vim.fn.strdisplaywidth(word) > width then
        table.insert(lines, line)
        line, used = (" "):rep(indent), 0
      end
      line = line .. (used > 0 and " " or "") .. word
      used = used + (used > 0 and 1 or 0) + vim.fn.strdisplaywidth(word)
    end
    table.insert(lines, line)
  end
  local keys_buf, win = M.open({ title = "Vitals keys", lines = lines, highlights = highlights }, { width = width })
  local close = function()
    M.close(win)
  end
  for _, key in ipairs({ "q", "<Esc>", "?" }) do
    vim.keymap.set("n", key, close, { buffer = keys_buf, nowait = true, silent = true, desc = "close" })
  end
end

---For a float the host keeps a view of: `on_resize` runs when the editor is resized, and
---`on_close` once when `buf` is wiped out (the float closed).
---@param buf integer
---@param on_resize fun()
---@param on_close fun()
function M.on_resize_and_close(buf, on_resize, on_close)
  local group = vim.api.nvim_create_augroup("vitals_float_" .. buf, { clear = true })
  vim.api.nvim_create_autocmd("VimResized", { group = group, callback = on_resize })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = group,
    buffer = buf,
    callback = function()
      pcall(vim.api.nvim_del_augroup_by_id, group)
      on_close()
    end,
  })
end

---Closes a window if it is still open.
---@param win? integer
function M.close(win)
  if win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_close(win, true)
  end
end

return M
