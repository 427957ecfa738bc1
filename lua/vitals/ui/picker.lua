---@mod vitals.ui.picker The one way Vitals asks the user to choose
---
---`select(items, opts, on_choice)` takes |vim.ui.select()|'s arguments. When a picker
---plugin replaced `vim.ui.select` (telescope, fzf-lua, snacks, mini.pick, dressing)
---the choice goes to it. Neovim's own `vim.ui.select` is an |inputlist()| at the
---command line: it becomes a `-- More --` pager as soon as the list is taller than the
---screen, and whatever is echoed right after it asks for Enter. So while it is still
---the built-in one, Vitals shows its own list in a float instead.

local config = require("vitals.config")
local fit = require("vitals.text").fit

local M = {}

local FOOTER = " <CR> pick · q cancel "

---@class vitals.SelectOpts
---@field prompt? string what is being chosen, e.g. "Service"
---@field format_item? fun(item: any): string how an item reads (default: tostring)
---@field kind? string passed on to a picker plugin

---Whether `vim.ui.select` is still Neovim's built-in one (defined in vim/ui.lua).
---@return boolean
function M.is_builtin()
  local info = debug.getinfo(vim.ui.select, "S")
  return info ~= nil and info.source:match("[@/\\]vim[/\\]ui%.lua$") ~= nil
end

---The prompt without the trailing ": " inputlist prompts often end with.
---@param prompt? string
---@return string
local function title_of(prompt)
  return ((prompt or "Select"):gsub("[%s:]+$", ""))
end

---The cells a label may take before the picker must cut it (the editor's width less the
---border, margins and the space before labels), for labels drawn to fit.
---@return integer
function M.label_width()
  return math.max(20, vim.o.columns - 6)
end

---The size and place of a list float of `labels` under `title`: as wide as the widest
---label and the keys in the footer (at most the editor's width), as tall as the list (at
---most the editor's height), centred.
---@param labels string[]
---@param title string
---@return {width: integer, height: integer, row: integer, col: integer}
function M.layout(labels, title)
  local widest = math.max(vim.fn.strdisplaywidth(title) + 4, vim.fn.strdisplaywidth(FOOTER) + 2)
  for _, label in ipairs(labels) do
    widest = math.max(widest, vim.fn.strdisplaywidth(label) + 2)
  end
  local room_columns = vim.o.columns - 4 -- the border and a column of margin each side
  local room_lines = vim.o.lines - vim.o.cmdheight - 4 -- the border, the status line, a margin
  local width = math.max(1, math.min(widest, room_columns))
  local height = math.max(1, math.min(#labels, room_lines))
  return {
    width = width,
    height = height,
    row = math.max(0, math.floor((vim.o.lines - vim.o.cmdheight - height - 2) / 2)),
    col = math.max(0, math.floor((vim.o.columns - width - 2) / 2)),
  }
end

---A label made to fit `width` cells: runs of spaces that align columns shrink to two,
---so that less of what stands at the end (errors, age) is cut; then the end is cut.
---@param label string
---@param width integer
---@return string
function M.shorten(label, width)
  if vim.fn.strdisplaywidth(label) > width then
    label = label:gsub("   +", "  ")
  end
  return fit(label, width)
end

---Vitals' own list float: the cursor on the first item, <CR> (or a double click) picks
---the item under it, `q` and <Esc> cancel, and so does leaving the float.
---@param items any[]
---@param opts vitals.SelectOpts
---@param on_choice fun(item?: any, idx?: integer)
---@return integer win
function M.open_float(items, opts, on_choice)
  local format = opts.format_item or tostring
  local labels = {}
  for i, item in ipairs(items) do
    labels[i] = (tostring(format(item)):gsub("[\r\n]+", " "))
  end
  local title = ("%s (%d)"):format(title_of(opts.prompt), #items)
  local place = M.layout(labels, title)
  local lines = {}
  for i, label in ipairs(labels) do
    lines[i] = " " .. M.shorten(label, place.width - 1)
  end

  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = "wipe"
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = "vitals-picker"
  local footer = vim.fn.strdisplaywidth(FOOTER) <= place.width and FOOTER or nil
  local win = vim.api.nvim_open_win(buf, true, {
    relative = "editor",
    width = place.width,
    height = place.height,
    row = place.row,
    col = place.col,
    style = "minimal",
    border = config.options.float.border,
    title = " " .. fit(title, place.width - 2) .. " ",
    title_pos = "center",
    footer = footer,
    footer_pos = footer and "right" or nil,
  })
  vim.wo[win].cursorline = true
  vim.wo[win].wrap = false
  vim.api.nvim_win_set_cursor(win, { 1, 0 })

  local answered = false
  ---Closes the float and answers once: `index` picks, nil cancels.
  local function finish(index)
    if answered then
      return
    end
    answered = true
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_close(win, true)
    end
    if index then
      on_choice(items[index], index)
    else
      on_choice(nil, nil)
    end
  end
  local function pick()
    finish(vim.api.nvim_win_get_cursor(win)[1])
  end
  local function cancel()
    finish(nil)
  end
  for key, action in pairs({ ["<CR>"] = pick, ["<2-LeftMouse>"] = pick, q = cancel, ["<Esc>"] = cancel }) do
    vim.keymap.set("n", key, action, { buffer = buf, nowait = true, silent = true })
  end
  vim.api.nvim_create_autocmd({ "WinLeave", "BufWipeout" }, {
    buffer = buf,
    once = true,
    -- Closing a window while leaving it is not allowed: close it from the main loop.
    callback = function()
      vim.schedule(cancel)
    end,
  })
  return win
end

---Asks the user to choose one of `items`, with |vim.ui.select()|'s arguments and
---contract: `on_choice(item, index)`, or `on_choice(nil, nil)` when cancelled. An empty
---list is reported instead of shown.
---@param items any[]
---@param opts vitals.SelectOpts
---@param on_choice fun(item?: any, idx?: integer)
function M.select(items, opts, on_choice)
  opts = opts or {}
  if #items == 0 then
    require("vitals.notify").info(title_of(opts.prompt) .. ": nothing to choose from")
    return on_choice(nil, nil)
  end
  if M.is_builtin() then
    M.open_float(items, opts, on_choice)
  else
    vim.ui.select(items, opts, on_choice)
  end
end

return M
