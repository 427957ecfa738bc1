---@mod vitals.tail :VitalsTail — traces listed as they arrive
---
---The host follows the traces (pushed by the embedded receivers, or polled from a
---backend) and sends the float a new drawing whenever the list changed, at most 20 times
---a second, through `_update`. Painting it changes only the float's buffer and its
---cursor: focus stays where the user is, and nothing is echoed.

local client = require("vitals.client")
local config = require("vitals.config")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

local FOOTER = "q close · <CR> open · p pause/resume · f filter · c clear · ? keys"

---@class vitals.TailRow
---@field line integer 0-based line of the trace in the float
---@field trace_id string
---@field marks string[] spans of its N+1s and slow queries

---@class vitals.TailFloat
---@field tail_id integer the host's id for this tail
---@field buf integer
---@field win integer
---@field rows vitals.TailRow[] newest first
---@field paused boolean
---@field words string[] the filter's words

---Open tails, by the host's id.
---@type table<integer, vitals.TailFloat>
M.open_tails = {}

---Seconds east of UTC, here and now (for the times the rows start at).
---@return integer
function M.utc_offset()
  local now = os.time()
  local utc = os.date("!*t", now)
  utc.isdst = os.date("*t", now).isdst
  return math.floor(os.difftime(now, os.time(utc)))
end

---The rows the float is opened for: all it keeps, as far as the editor's height allows.
---@return integer
local function height()
  return config.options.tail.max_rows + 3
end

---The row on a 1-based line, if a trace is listed there.
---@param tail vitals.TailFloat
---@param line integer
---@return vitals.TailRow?
local function row_at(tail, line)
  for _, row in ipairs(tail.rows) do
    if row.line + 1 == line then
      return row
    end
  end
end

---@param tail vitals.TailFloat
---@param payload table the host's tail payload
local function repaint(tail, payload)
  tail.rows = payload.rows
  tail.paused = payload.paused
  tail.words = payload.words
  float.paint(tail.buf, payload)
  float.relayout(tail.win, payload, FOOTER, height())
end

---Shows a new drawing, keeping the cursor on the trace it was on, or on the newest when it
---was there (following the list as it grows).
---@param tail vitals.TailFloat
---@param payload table
local function show_update(tail, payload)
  local cursor = vim.api.nvim_win_get_cursor(tail.win)
  local under = row_at(tail, cursor[1])
  local following = under == nil or under == tail.rows[1]
  repaint(tail, payload)
  local target = following and tail.rows[1] or nil
  if not following then
    for _, row in ipairs(tail.rows) do
      if row.trace_id == under.trace_id then
        target = row
      end
    end
  end
  if target then
    pcall(vim.api.nvim_win_set_cursor, tail.win, { target.line + 1, following and 0 or cursor[2] })
  end
end

---Called by the host with a tail's new drawing; false once its float is gone.
---@param payload table
---@return boolean shown
function M._update(payload)
  local tail = M.open_tails[payload.tail_id]
  if not tail or not vim.api.nvim_win_is_valid(tail.win) or not vim.api.nvim_buf_is_valid(tail.buf) then
    return false
  end
  show_update(tail, payload)
  return true
end

---Asks the host to act on a tail, and shows what it answers.
---@param tail vitals.TailFloat
---@param action "pause"|"resume"|"clear"|"filter"|"resize"
---@param words? string[] the new filter
local function act(tail, action, words)
  local params = { tail_id = tail.tail_id, action = action, words = words or {}, width = float.content_width() }
  client.call("tail_action", params, function(err, payload)
    if err then
      return notify.error(err)
    end
    if vim.api.nvim_win_is_valid(tail.win) then
      show_update(tail, payload)
    end
  end)
end

---Opens the trace under the cursor, its N+1 and slow-query spans marked.
---@param tail vitals.TailFloat
local function open_trace(tail)
  local row = row_at(tail, vim.api.nvim_win_get_cursor(tail.win)[1])
  if not row then
    return notify.info("No trace on this line")
  end
  require("vitals.trace_list").open({ trace_id = row.trace_id, span_id = row.marks[1] or "", marks = row.marks })
end

---Asks for new filter words (as :VitalsSearch takes them), starting from the current ones.
---@param tail vitals.TailFloat
local function change_filter(tail)
  vim.ui.input({ prompt = "Tail filter: ", default = table.concat(tail.words, " ") }, function(input)
    if input then
      act(tail, "filter", require("vitals.cmdline").split(input))
    end
  end)
end

---Shows a tail the host started (the answer to `tail_open`).
---@param payload table
---@return vitals.TailFloat
function M.show(payload)
  local buf, win = float.open(payload, { footer = FOOTER, filetype = "vitals-tail", height = height() })
  ---@type vitals.TailFloat
  local tail = { tail_id = payload.tail_id, buf = buf, win = win, rows = payload.rows, paused = payload.paused, words = payload.words }
  M.open_tails[tail.tail_id] = tail
  local function close()
    float.close(tail.win)
  end
  float.map(buf, {
    q = { close, "close the live tail" },
    ["<Esc>"] = { close, "close the live tail" },
    ["<CR>"] = { function() open_trace(tail) end, "open the trace on this line, its N+1 and slow-query spans marked" },
    p = { function() act(tail, tail.paused and "resume" or "pause") end, "pause the list (what arrives meanwhile is counted), or resume it" },
    f = { function() change_filter(tail) end, "change the filter: service, operation, min-duration, key=value, as :VitalsSearch takes them" },
    c = { function() act(tail, "clear") end, "clear the list" },
  })
  float.on_resize_and_close(buf, function()
    act(tail, "resize")
  end, function()
    M.open_tails[tail.tail_id] = nil
    client.call("tail_close", { tail_id = tail.tail_id }, function() end)
  end)
  return tail
end

---Opens the live tail of traces matching `words` (see |:VitalsTail|).
---@param words string[] service and filters, as :VitalsSearch takes them
function M.open(words)
  client.fetch("tail_open", {
    words = words,
    width = float.content_width(),
    utc_offset_s = M.utc_offset(),
    max_rows = config.options.tail.max_rows,
    poll_ms = config.options.tail.poll_ms,
    slow_query_ms = config.options.analyze.slow_query_ms,
  }, "starting the live tail…", M.show)
end

return M
