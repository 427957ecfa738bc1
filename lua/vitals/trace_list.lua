---@mod vitals.trace_list Choosing one of many traces: those of a finding, or through a line
---
---A finding seen in twenty requests, or a line of code twenty traces ran, offers one entry
---per trace, slowest first; the chosen trace opens with its span under the cursor and, for
---a finding, its own spans marked (the calls of an N+1 in that trace).

local M = {}

---@class vitals.TraceRef
---@field trace_id string
---@field span_id string
---@field duration_ns integer what the span, or the finding, took in this trace
---@field root string the trace's root, `service: operation`
---@field marks? string[] spans to mark when it opens
---@field kinds? string[] what was found in it (`n_plus_one`, …), for the list

---Opens a trace at its span; with marks, in the waterfall where every span has a row.
---@param ref vitals.TraceRef
function M.open(ref)
  local marks = ref.marks or {}
  require("vitals.ui.trace_view").open(ref.trace_id, {
    span_id = ref.span_id,
    view = #marks > 0 and "waterfall" or nil,
    marks = marks,
  })
end

---One entry per trace: references to the same trace merge (the span to focus is the
---first one a finding marks, else the longest; marks and kinds add up), slowest first.
---@param refs vitals.TraceRef[]
---@return vitals.TraceRef[]
function M.per_trace(refs)
  local by_id, order = {}, {}
  for _, ref in ipairs(refs) do
    local seen = by_id[ref.trace_id]
    if not seen then
      seen = { trace_id = ref.trace_id, span_id = ref.span_id, duration_ns = ref.duration_ns, root = ref.root, marks = {}, kinds = {} }
      by_id[ref.trace_id] = seen
      table.insert(order, seen)
    else
      -- The first span a finding marks is the one to look at; else the longest.
      local marking = #(ref.marks or {}) > 0
      if (marking and #seen.marks == 0) or (not marking and #seen.marks == 0 and ref.duration_ns > seen.duration_ns) then
        seen.span_id = ref.span_id
      end
      seen.duration_ns = math.max(seen.duration_ns, ref.duration_ns)
    end
    vim.list_extend(seen.marks, ref.marks or {})
    for _, kind in ipairs(ref.kinds or {}) do
      if not vim.tbl_contains(seen.kinds, kind) then
        table.insert(seen.kinds, kind)
      end
    end
  end
  table.sort(order, function(a, b)
    if a.duration_ns ~= b.duration_ns then
      return a.duration_ns > b.duration_ns
    end
    return a.trace_id < b.trace_id
  end)
  return order
end

---How a trace reads in the list: `  90.0ms  frontend: GET /orders  011450202a1a  N+1`.
---@param ref vitals.TraceRef
---@return string
function M.label(ref)
  local kinds = vim.tbl_map(function(kind)
    return kind == "n_plus_one" and "N+1" or kind:gsub("_", " ")
  end, ref.kinds or {})
  local label = ("%8.1fms  %s  %s"):format(ref.duration_ns / 1e6, ref.root, ref.trace_id:sub(1, 12))
  if #kinds > 0 then
    label = label .. "  " .. table.concat(kinds, ", ")
  end
  return label
end

---Offers the traces, one entry each, slowest first, and opens the chosen one; a single
---trace opens at once.
---@param refs vitals.TraceRef[]
---@param prompt string
function M.pick(refs, prompt)
  local traces = M.per_trace(refs)
  if #traces == 0 then
    return require("vitals.notify").info("No traces to open")
  end
  if #traces == 1 then
    return M.open(traces[1])
  end
  require("vitals.ui.picker").select(traces, {
    prompt = prompt .. ", slowest first",
    kind = "vitals_trace",
    format_item = M.label,
  }, function(choice)
    if choice then
      M.open(choice)
    end
  end)
end

return M
