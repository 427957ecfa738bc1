---@mod vitals.logs A span's log lines (`L` in the trace float) and |:VitalsLogs|
---
---The host draws; this module opens the floats and follows what `<CR>` points at: a stack
---frame to its code (mapped and confined to the workspace by |vitals.paths|, as `gd` is),
---a listed log to its trace with its span focused.

local client = require("vitals.client")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

---@class vitals.CodeJump
---@field line integer 0-based line of the drawing
---@field path string as the trace has it
---@field lineno integer

---The stack frame on a 1-based line of a drawing, if any.
---@param jumps vitals.CodeJump[]
---@param line integer
---@return vitals.CodeJump?
function M.frame_at(jumps, line)
  for _, jump in ipairs(jumps or {}) do
    if jump.line + 1 == line then
      return jump
    end
  end
  return nil
end

---Opens the code of the stack frame under the cursor of float `win`, closing `floats`
---first; says why when the line is not a frame or its file is not in the workspace.
---@param win integer
---@param jumps vitals.CodeJump[]
---@param floats integer[] windows to close before the file opens
function M.follow_frame(win, jumps, floats)
  local jump = M.frame_at(jumps, vim.api.nvim_win_get_cursor(win)[1])
  if not jump then
    return notify.info("Nothing to open here: <CR> on a stack frame, or a log naming its code, opens the code")
  end
  local paths = require("vitals.paths")
  local file = paths.local_file(jump.path)
  if not file then
    return notify.info(
      ("%s is not a file under the working directory (see the path_mappings option)"):format(jump.path)
    )
  end
  for _, open in ipairs(floats) do
    float.close(open)
  end
  paths.edit(file, jump.lineno)
end

local SPAN_FOOTER = "q back · <CR> code of a frame · L with the spans under it · ? keys"

---Opens the events and logs of the span at (0-based) `line`, `col` of a trace float
---(with `descendants`, of the spans under it too).
---@param view vitals.TraceView
---@param cursor? {[1]: integer, [2]: integer} 1-based line, byte column (default: the cursor's)
---@param descendants? boolean
function M.of_span(view, cursor, descendants)
  cursor = cursor or vim.api.nvim_win_get_cursor(view.win)
  require("vitals.ui.trace_view").span_float(view, {
    action = descendants and "logs_tree" or "logs",
    width = math.min(120, float.content_width()),
    footer = SPAN_FOOTER,
    filetype = "vitals-logs",
    cursor = cursor,
  }, function(drawing, win)
    return {
      ["<CR>"] = {
        function()
          M.follow_frame(win, drawing.jumps, { win, view.win })
        end,
        "on a stack frame: open its code",
      },
      L = {
        function()
          M.of_span(view, cursor, not descendants)
        end,
        descendants and "this span's own events and logs" or "with the events and logs of the spans under it",
      },
    }
  end)
end

local LIST_FOOTER = "q close · <CR> open the log's trace · ? keys"

---Opens stored logs, newest first (see |:VitalsLogs|); `<CR>` on a log with a trace opens
---the trace with the log's span focused.
---@param words string[] [service] [severity=…] [since=…] [limit=…] [words to find…]
function M.open(words)
  client.call("logs", {
    words = words,
    width = float.content_width(),
    utc_offset_s = require("vitals.tail").utc_offset(),
  }, function(err, payload)
    if err then
      return notify.error(err)
    end
    float.open_list(payload, { footer = LIST_FOOTER, filetype = "vitals-loglist" }, {
      function(line)
        local log = M.log_at(payload.items, line)
        if not log then
          return
        end
        if not log.trace_id then
          return notify.info("This log was written outside any trace")
        end
        float.close(vim.api.nvim_get_current_win())
        require("vitals").open_trace(log.trace_id, { view = "waterfall", span_id = log.span_id })
      end,
      "open the log's trace with its span focused",
    })
  end)
end

---The log listed on a 1-based line (a wrapped log's lines all stand for it).
---@param items {line: integer, trace_id?: string, span_id?: string}[]
---@param line integer
---@return {line: integer, trace_id?: string, span_id?: string}?
function M.log_at(items, line)
  local found
  for _, item in ipairs(items or {}) do
    if item.line + 1 <= line then
      found = item
    end
  end
  return found
end

return M
