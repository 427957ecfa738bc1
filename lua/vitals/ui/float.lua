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

---@param line_count integer
---@param width integer columns of content
---@param title string
---@param footer? string
---@return table window config for nvim_open_win
local function layout(line_count, width, title, footer)
  local max_height = math.max(5, math.floor((vim.o.lines - vim.o.cmdheight) * config.options.float.height) - 2)
  local height = math.min(math.max(line_count, 1), max_height)
  return {
    relative = "editor",
    width = width,
    height = height,
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = "minimal",
    border = config.options.float.border,
    title = " " .. title .. " ",
    title_pos = "center",
    footer = footer and (" " .. footer .. " ") or nil,
    footer_pos = footer and "right" or nil,
  }
end

---Opens a float holding a drawing.
---@param drawing vitals.Drawing
---@param opts {width?: integer, footer?: string, filetype?: string, enter?: boolean}
---@return integer buf
---@return integer win
function M.open(drawing, opts)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = opts.filetype or "vitals"
  M.paint(buf, drawing)
  local width = opts.width or M.content_width()
  local win = vim.api.nvim_open_win(buf, opts.enter ~= false, layout(#drawing.lines, width, drawing.title, opts.footer))
  vim.wo[win].wrap = false
  vim.wo[win].cursorline = true
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
function M.relayout(win, drawing, footer)
  if vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_set_config(win, layout(#drawing.lines, M.content_width(), drawing.title, footer))
  end
end

---Maps keys in a buffer.
---@param buf integer
---@param maps table<string, {[1]: function, [2]: string}> key → { action, description }
function M.map(buf, maps)
  for key, map in pairs(maps) do
    vim.keymap.set("n", key, map[1], { buffer = buf, nowait = true, silent = true, desc = map[2] })
  end
end

---Closes a window if it is still open.
---@param win? integer
function M.close(win)
  if win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_close(win, true)
  end
end

return M
