-- :VitalsConfigure and changing backends.

local h = require("helpers")

it("a new backend is asked for a trace even when the previous one's copy is cached", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  h.wait_view()
  h.reset()
  h.setup({ trace_endpoint = h.jaeger("outage") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  h.wait_for("the new backend's answer", function()
    return h.message("answered 500")
  end)
  assert(#h.floats() == 0, "not the previous backend's trace")
end)
