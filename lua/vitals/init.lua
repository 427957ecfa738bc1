---@mod vitals Distributed tracing and performance profiling inside Neovim
---
---Calling setup() is optional: the commands work with the defaults.

local config = require("vitals.config")

local M = {}

---Applies options (see |vitals-configuration|). May be called again to change them.
---@param opts? vitals.Options
function M.setup(opts)
  config.set(opts)
  require("vitals.search").known_services = nil
  require("vitals.client").reconfigure()
end

---Searches traces (see |:VitalsSearch|).
---@param args? vitals.SearchArgs
function M.search(args)
  require("vitals.search").search(args or {})
end

---Opens a trace by id in the trace float (see |:VitalsTrace|).
---@param trace_id string
---@param opts? {view?: "flame"|"waterfall"}
function M.open_trace(trace_id, opts)
  require("vitals.ui.trace_view").open(trace_id, opts)
end

---Chooses and tests the backend interactively (see |:VitalsConfigure|).
function M.configure()
  require("vitals.configure").run()
end

return M
