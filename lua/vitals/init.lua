---@mod vitals Distributed tracing and performance profiling inside Neovim
---
---Calling setup() is optional: the commands work with the defaults.

local config = require("vitals.config")

local M = {}

---Applies options (see |vitals-configuration|). May be called again to change them.
---@param opts? vitals.Options
function M.setup(opts)
  config.set(opts)
  require("vitals.search").forget_completions()
  require("vitals.client").reconfigure()
  if package.loaded["vitals.annotate"] or config.options.enable_auto_tracing then
    local annotate = require("vitals.annotate")
    annotate.apply(annotate.current)
    annotate.auto()
  end
end

---Searches traces (see |:VitalsSearch|).
---@param args? vitals.SearchArgs
function M.search(args)
  require("vitals.search").search(args or {})
end

---The pictures of a trace |:VitalsTrace| can open with.
M.views = { "flame", "waterfall", "network", "stats" }

---Opens the live tail: traces listed as they arrive (see |:VitalsTail|).
---@param words? string[] service and filters, as :VitalsSearch takes them
function M.tail(words)
  require("vitals.tail").open(words or {})
end

---Opens a trace by id in the trace float (see |:VitalsTrace|).
---@param trace_id string
---@param opts? {view?: "flame"|"waterfall"|"network"|"stats", span_id?: string}
function M.open_trace(trace_id, opts)
  local view = opts and opts.view
  if view and not vim.tbl_contains(M.views, view) then
    local views = require("vitals.text").either(M.views)
    return require("vitals.notify").error(("Unknown view %q: use %s"):format(view, views))
  end
  require("vitals.ui.trace_view").open(trace_id, opts)
end

---Opens a trace and every trace linked to it through span links as one waterfall, the
---queue hand-offs between them labelled with their wait (see |:VitalsTransaction|).
---@param trace_id? string default: the trace under the cursor, else the last one opened
function M.transaction(trace_id)
  require("vitals.links").transaction(trace_id)
end

---Analyzes a service's recent traces and opens the report (see |:VitalsAnalyze|).
---@param service? string prompted for when missing
function M.analyze(service)
  require("vitals.analyze").analyze(service)
end

---Opens the service dependency map (see |:VitalsServiceMap|).
---@param service? string root the tree here
function M.service_map(service)
  require("vitals.service_map").open(service)
end

---Compares a service's requests in two windows (see |:VitalsRegressions|).
---@param args? string|vitals.RegressionArgs the service (prompted for when missing), or the
---service with the windows
function M.regressions(args)
  require("vitals.analyze").regressions(type(args) == "string" and { service = args } or args)
end

---Opens how a service's requests moved over days and weeks (see |:VitalsTrends|).
---@param args? string|vitals.TrendArgs the service (picked from the store's when
---missing), or the service with an operation and a range
function M.trends(args)
  require("vitals.trends").open(type(args) == "string" and { service = args } or args)
end

---The firing alerts in a few words (`⚠ checkout p95 812ms`), "" when all is clear: for
---lualine and other statuslines. Cached, updated by the host (see |vitals-alerts|).
---@return string
function M.statusline()
  return require("vitals.alerts").statusline()
end

---Lists the alert rules with their state and history (see |:VitalsAlerts|).
function M.alerts()
  require("vitals.alerts").open()
end

---Compares two traces (see |:VitalsCompare|).
---@param a string the first trace id (before)
---@param b string the second trace id (after)
function M.compare(a, b)
  require("vitals.analyze").compare(a, b)
end

---Opens the aggregated flame graph of a service's recent traces (see |:VitalsFlame|).
---@param service? string prompted for when missing
---@param weight? "self_time"|"allocated" what the widths stand for (default: self time)
function M.flame(service, weight)
  require("vitals.flame").open(service, weight)
end

---Starts the host in the background when the embedded receiver should be listening from
---the start (the otlp provider with `receive_on_startup`); called once after startup.
function M.autostart()
  local options = config.options
  if options.trace_provider == "otlp" and options.receive_on_startup then
    require("vitals.client").ensure_started()
  end
  if options.enable_auto_tracing then
    require("vitals.annotate").auto()
  end
end

---Shows where traces come from: provider, receiver, store (see |:VitalsStatus|).
function M.status()
  require("vitals.client").call("status", {}, function(err, drawing)
    if err then
      return require("vitals.notify").error(err)
    end
    local float = require("vitals.ui.float")
    local buf = float.open(drawing, { width = math.min(110, float.content_width()), footer = "q close" })
    local function close()
      float.close(vim.api.nvim_get_current_win())
    end
    float.map(buf, { q = { close, "close" }, ["<Esc>"] = { close, "close" } })
  end)
end

---Chooses and tests the backend interactively (see |:VitalsConfigure|).
function M.configure()
  require("vitals.configure").run()
end

return M
