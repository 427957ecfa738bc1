local h = require("helpers")

local WIDE_TRACE = "00000000000000000000000000a1de00"

it("a trace over max_spans opens cut to its top, and its view says so", function()
  h.setup({ trace_endpoint = h.jaeger("wide"), max_spans = 1000 })
  vim.cmd("VitalsTrace " .. WIDE_TRACE)
  local view = h.wait_view()
  local text = table.concat(h.lines(view.buf), "\n")
  local warning = "⚠ trace cut to the 1,000 spans nearest its root, of 5,000: raise max_spans to see all"
  assert(text:find(warning, 1, true), "no warning in\n" .. text)
  assert(text:find("1000 spans · 1 service", 1, true), "the header counts the spans held\n" .. text)
end)

it("a response larger than max_response is refused, naming the limit", function()
  -- The default: a 1 GiB answer is refused before it is read.
  h.setup({ trace_endpoint = h.jaeger("huge") })
  vim.cmd("VitalsTrace " .. WIDE_TRACE)
  h.wait_for("the refusal", function()
    return h.message("sent more than 256 MiB, the max_response limit: raise max_response")
  end)
  -- A body that never ends stops at the configured limit.
  h.messages = {}
  h.setup({ trace_endpoint = h.jaeger("endless"), max_response = 2 * 1024 * 1024, timeout_ms = 30000 })
  vim.cmd("VitalsTrace " .. WIDE_TRACE)
  h.wait_for("the refusal", function()
    return h.message("sent more than 2 MiB, the max_response limit")
  end)
  assert(#h.floats() == 0, "no view opens")
end)

it("limits must be above 0", function()
  for _, opts in ipairs({ { max_spans = 0 }, { max_response = -1 }, { max_response = "1GiB" } }) do
    local ok, err = pcall(require("vitals.config").set, opts)
    assert(not ok and tostring(err):find("above 0", 1, true), vim.inspect(opts) .. ": " .. tostring(err))
  end
  require("vitals.config").set({ receive_on_startup = false })
end)
