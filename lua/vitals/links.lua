---@mod vitals.links Span links: `l` in the trace float, and :VitalsTransaction
---
---A consumer span links to the producer span of the message it took (OpenTelemetry span
---links); a batch consumer links to many producers. `l` lists the spans linked to the
---one under the cursor, both ways, and opens the chosen one's trace with that span
---focused. :VitalsTransaction stitches a trace and every trace linked to it into one
---waterfall with the queue hand-offs between them.

local client = require("vitals.client")
local config = require("vitals.config")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

---@class vitals.LinkItem
---@field label string how the list shows it
---@field direction "to"|"from" "to": the span links to it (a producer); "from": it links to the span (a consumer)
---@field trace_id string
---@field span_id string

---Opens a linked span's trace in the waterfall, the span focused.
---@param item vitals.LinkItem
local function open(item)
  require("vitals.ui.trace_view").open(item.trace_id, { view = "waterfall", span_id = item.span_id })
end

---Lists the spans linked to the span under the cursor of a trace float, both ways, and
---opens the chosen one (straight away when there is only one).
---@param view vitals.TraceView
function M.follow(view)
  local cursor = vim.api.nvim_win_get_cursor(view.win)
  local width = require("vitals.ui.picker").label_width()
  client.call("span_links", { view_id = view.view_id, line = cursor[1] - 1, col = cursor[2], width = width }, function(err, items)
    if err then
      return notify.error(err)
    end
    if items == nil or items == vim.NIL then
      return notify.info("No span under the cursor")
    end
    if #items == 0 then
      return notify.info("This span has no links (to or from other spans)")
    end
    if #items == 1 then
      return open(items[1])
    end
    require("vitals.ui.picker").select(items, {
      prompt = "Linked spans",
      kind = "vitals_links",
      format_item = function(item)
        return item.label
      end,
    }, function(item)
      if item then
        open(item)
      end
    end)
  end)
end

---The trace a command without a trace id means: the one in the trace float under the
---cursor, else the last one opened.
---@return string?
function M.default_trace_id()
  local trace_view = require("vitals.ui.trace_view")
  local current = trace_view.current()
  return current and current.trace_id or trace_view.last_trace_id
end

---Opens a trace and every trace linked to it as one waterfall (see |:VitalsTransaction|).
---@param trace_id? string default: the trace under the cursor, else the last one opened
function M.transaction(trace_id)
  trace_id = (trace_id and trace_id ~= "") and trace_id or M.default_trace_id()
  if not trace_id then
    return notify.error("Which trace? Give a trace id, e.g. :VitalsTransaction 4bf92f3577b34da6a3ce929d0e0e4736")
  end
  local bounds = config.options.transaction
  client.fetch("transaction", {
    trace_id = trace_id,
    width = float.content_width(),
    depth = math.floor(bounds.depth),
    max_traces = math.floor(bounds.max_traces),
  }, "Stitching the transaction of " .. trace_id .. "…", function(payload)
    require("vitals.ui.trace_view").show(payload)
  end)
end

return M
