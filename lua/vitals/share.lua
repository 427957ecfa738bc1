---@mod vitals.share :VitalsExport and :VitalsOpen, traces shared as files
---
---A trace is written as OTLP JSON (Vitals, Jaeger's upload and Tempo read it); a file of
---traces (any format Vitals reads) opens in the trace float, and its traces count for this
---editor's annotations, so a colleague who opens it in the same repository sees the same
---numbers on the same lines.

local client = require("vitals.client")
local config = require("vitals.config")
local notify = require("vitals.notify")

local M = {}

---A word that is a trace id (hex, as every backend writes them) rather than a path.
---@param word? string
---@return boolean
local function is_trace_id(word)
  return word ~= nil and word:match("^%x+$") ~= nil
end

---Writes a trace to a file (see |:VitalsExport|): `args` is `[trace-id] [path]`; without
---an id, the trace of the trace float under the cursor. With `linked` (`:VitalsExport!`),
---also every trace linked to it, as far as the `transaction` option says.
---@param args string[]
---@param linked? boolean
function M.export(args, linked)
  local id, path = args[1], args[2]
  if not is_trace_id(id) then
    id, path = nil, args[1]
  end
  if not id then
    local view = require("vitals.ui.trace_view").current()
    id = view and view.trace_id
  end
  if not id then
    return notify.error("Which trace? Open one, or give its id: :VitalsExport {trace-id} [path]")
  end
  local done = notify.progress("exporting " .. id .. "…")
  client.call("export", {
    trace_id = id,
    path = path and vim.fn.expand(path) or "",
    cwd = vim.fn.getcwd(),
    linked = linked and config.options.transaction or nil,
  }, function(err, message)
    done()
    -- One line beside the ruler, never a hit-enter prompt: the file's name (which holds
    -- the 32-digit trace id) comes first, so a cut line still names it.
    notify.unasked(err or message, err and vim.log.levels.ERROR or vim.log.levels.INFO)
  end)
end

---Opens a file of traces (see |:VitalsOpen|): one trace opens in the trace float, several
---are offered in a list; the file's traces annotate the code from now on.
---@param path? string
function M.open(path)
  if not path or path == "" then
    return notify.error("Which file? e.g. :VitalsOpen vitals-4bf92f3577b34da6a3ce929d0e0e4736.json")
  end
  client.fetch("open_file", {
    path = vim.fn.expand(path),
    cwd = vim.fn.getcwd(),
    analyze = config.options.analyze,
  }, "opening " .. path .. "…", function(opened)
    require("vitals.annotate").apply(opened.annotations or {})
    require("vitals.trace_list").pick(opened.traces or {}, "Traces in " .. vim.fn.fnamemodify(path, ":t"))
  end)
end

return M
