local h = require("helpers")

---Runs tests/otel/send_checkout.py: the OpenTelemetry Python SDK exporting `count`
---checkouts with its `protocol` exporter; returns the trace ids it made.
---@param endpoint string
---@param count integer
---@param protocol "http"|"grpc"|"zipkin"
---@return string[]
local function send_checkout(endpoint, count, protocol)
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local script = h.root .. "/tests/otel/send_checkout.py"
  local out = vim.fn.system({ python, script, endpoint, tostring(count), protocol })
  assert(vim.v.shell_error == 0, out)
  return vim.split(vim.trim(out), "\n")
end

---Opens a trace as a waterfall and returns the text of its view.
local function trace_text(id)
  require("vitals").open_trace(id, { view = "waterfall" })
  local view = h.wait_view()
  h.wait_for("the trace " .. id, function()
    return view.trace_id == id
  end)
  local text = table.concat(h.lines(view.buf), "\n")
  h.reset()
  return text
end

it("the editor receives the SDK's OTLP/gRPC and Zipkin exports, and status and health count them", function()
  local grpc, zipkin = h.free_port(), h.free_port()
  h.setup({
    trace_provider = "otlp",
    store_path = vim.fn.tempname() .. "-traces.db",
    trace_endpoint = "127.0.0.1:" .. h.free_port(),
    receivers = { otlp_grpc = "127.0.0.1:" .. grpc, zipkin = "127.0.0.1:" .. zipkin },
  })
  local grpc_url, zipkin_url = "http://127.0.0.1:" .. grpc, ("http://127.0.0.1:%d/api/v2/spans"):format(zipkin)
  h.wait_for("the receivers", function()
    local text = h.status_text()
    return text:find("receiving on " .. grpc_url, 1, true) and text:find("receiving on " .. zipkin_url, 1, true)
  end)

  local over_grpc = send_checkout(grpc_url, 2, "grpc")
  local over_zipkin = send_checkout(zipkin_url, 1, "zipkin")
  for _, id in ipairs({ over_grpc[1], over_grpc[2], over_zipkin[1] }) do
    local text = trace_text(id)
    local spans = { "6 spans · 3 services · 1 error", "POST /checkout", "PlaceOrder", "SELECT items", "Charge" }
    for _, span in ipairs(id == over_grpc[2] and { "6 spans · 3 services" } or spans) do
      assert(text:find(span, 1, true), ("%s missing from trace %s:\n%s"):format(span, id, text))
    end
  end

  local status = h.status_text()
  assert(status:find("batches (12 spans)", 1, true), "two checkouts of six spans over gRPC:\n" .. status)
  assert(status:find("batches (6 spans)", 1, true), "one checkout over Zipkin:\n" .. status)
  assert(status:find("18 spans in 3 traces", 1, true), status)

  vim.g.health = { style = "float" }
  vim.cmd("checkhealth vitals")
  local health = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
  for _, expected in ipairs({ "OK OTLP/gRPC: receiving on " .. grpc_url, "OK Zipkin: receiving on " .. zipkin_url }) do
    assert(health:find(expected, 1, true), "missing " .. expected .. " in\n" .. health)
  end
  vim.cmd("bwipeout!")
end)

it("a receiver turned off is said to be off, and a misspelt receiver is refused", function()
  h.setup({
    trace_provider = "otlp",
    store_path = vim.fn.tempname() .. "-traces.db",
    trace_endpoint = "127.0.0.1:" .. h.free_port(),
    receivers = { otlp_grpc = false, zipkin = false },
  })
  h.wait_for("the receivers", function()
    local text = h.status_text()
    return text:find("OTLP/gRPC%s+off") and text:find("Zipkin%s+off") and text:find("receiving on http")
  end)
  local ok, err = pcall(require("vitals").setup, { receivers = { otlp_grcp = "127.0.0.1:4317" } })
  assert(not ok and tostring(err):find("receivers.otlp_grcp: no such receiver", 1, true), tostring(err))
end)
