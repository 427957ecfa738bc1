local h = require("helpers")

---The service a tree line draws as a child ("├─ name …" or "└─ name …" at any depth).
local function child_of_line(line, top_level_only)
  for _, branch in ipairs({ "├─ ", "└─ " }) do
    local at = line:find(branch, 1, true)
    if at and (not top_level_only or at == 1) then
      return line:sub(at + #branch):match("^(%S+)")
    end
  end
end

---Waits for the map float and returns its state.
local function wait_map()
  local service_map = require("vitals.service_map")
  service_map.current = nil
  h.wait_for("the service map", function()
    return service_map.current and vim.api.nvim_buf_is_valid(service_map.current.buf)
  end)
  return service_map.current
end

---Waits until the map's text satisfies `predicate`, and returns its lines.
local function wait_text(map, what, predicate)
  h.wait_for(what, function()
    return predicate(table.concat(h.lines(map.buf), "\n"))
  end)
  return h.lines(map.buf)
end

---Puts the cursor on the first line naming `service` and presses `key`.
local function press_on(map, service, key)
  local line = h.find_line(map.buf, service)
  assert(line, service .. " is not on the map")
  local col = h.lines(map.buf)[line]:find(service, 1, true) - 1
  vim.api.nvim_win_set_cursor(map.win, { line, col })
  h.press(key)
end

it(":VitalsServiceMap lists every service and call of the shop; u shows exactly a service's callers", function()
  h.setup({ trace_provider = "file", trace_endpoint = h.root .. "/samples/shop-traces.json" })
  vim.cmd("VitalsServiceMap")
  local map = wait_map()
  local lines = h.lines(map.buf)
  local text = table.concat(lines, "\n")
  -- Seven services, and the kafka topic checkout publishes orders to as a queue node.
  assert(text:find("Service map · 8 services · 10 calls between them · bottleneck: payment", 1, true), text)
  assert(text:find("─ kafka orders  ×3 (0.4/min)  [queue]", 1, true), "checkout → the queue\n" .. text)
  for _, service in ipairs({ "frontend", "checkout", "cart", "inventory", "payment", "postgres", "redis" }) do
    assert(text:find(service, 1, true), service .. " is missing\n" .. text)
  end
  local calls = 0
  for _, line in ipairs(lines) do
    if child_of_line(line) then
      calls = calls + 1
    end
  end
  assert(calls == 10, "each call once: " .. calls .. "\n" .. text)
  assert(h.groups(map.buf).VitalsCritical and h.groups(map.buf).VitalsHealthy, "health is coloured")

  press_on(map, "postgres", "u")
  lines = wait_text(map, "postgres's callers", function(t)
    return t:find("Who calls postgres", 1, true)
  end)
  local direct = {}
  for _, line in ipairs(lines) do
    local name = child_of_line(line, true)
    if name then
      table.insert(direct, name)
    end
  end
  assert(vim.deep_equal(direct, { "cart", "frontend", "inventory" }), vim.inspect(direct))

  h.press("t")
  wait_text(map, "the whole map", function(t)
    return t:find("^Service map")
  end)
  press_on(map, "checkout", "<CR>")
  local details = wait_text(map, "checkout's details", function(t)
    return t:find("Operations", 1, true)
  end)
  local all = table.concat(details, "\n")
  assert(all:find("PlaceOrder", 1, true) and all:find("Callers\n  frontend  ×4", 1, true), all)
  assert(all:find("Callees\n  cart  ×4", 1, true), all)

  -- q in the details goes back to the map, on the service it came from (as span details do).
  h.press("q")
  wait_text(map, "the map again", function(t)
    return t:find("^Service map")
  end)
  assert(vim.api.nvim_win_is_valid(map.win), "the map stays open")
  local line = vim.api.nvim_get_current_line()
  assert(child_of_line(line) == "checkout", "the cursor is back on checkout: " .. line)

  h.press("m")
  wait_text(map, "the migration order", function(t)
    return t:find("Migration order", 1, true) and t:find("No cycles.", 1, true)
  end)
  h.press("q")
  assert(not vim.api.nvim_win_is_valid(map.win))
end)

it("with the otlp provider the open map follows the traffic as it arrives", function()
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local url = h.receive()
  require("vitals.config").options.service_map.refresh_ms = 200
  vim.cmd("VitalsServiceMap")
  local map = wait_map()
  assert(table.concat(h.lines(map.buf), "\n"):find("no services", 1, true))
  local sent = vim.fn.system({ python, h.root .. "/tests/otel/send_checkout.py", url, "2" })
  assert(vim.v.shell_error == 0, sent)
  wait_text(map, "the services that just sent traces", function(t)
    return t:find("frontend", 1, true) and t:find("├─ payment", 1, true)
      and t:find("└─ postgresql  ×6 (", 1, true) and t:find("[database, not instrumented]", 1, true)
  end)
  h.press("q")
end)

it("with Jaeger the map adds the calls of the backend's dependency list to those of the traces", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsServiceMap")
  local map = wait_map()
  local text = table.concat(wait_text(map, "the map", function(t)
    return t:find("Service map", 1, true)
  end), "\n")
  assert(text:find("frontend", 1, true) and text:find("checkout", 1, true), "services from the traces\n" .. text)
  for i = 1, 8 do
    assert(text:find("Service" .. i, 1, true), "Service" .. i .. " from /api/dependencies\n" .. text)
  end
  assert(text:find("Service2  ×30489", 1, true), "with the backend's counts\n" .. text)
  assert(h.last_params("v1", "/api/dependencies").lookback == "3600000", "the lookback in ms")
  h.press("q")
end)

it("with the otlp provider the map counts every stored request, not analyze.limit of them", function()
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local url = h.receive()
  require("vitals.config").options.analyze.limit = 2
  local sent = vim.fn.system({ python, h.root .. "/tests/otel/send_checkout.py", url, "5" })
  assert(vim.v.shell_error == 0, sent)
  vim.cmd("VitalsServiceMap")
  local map = wait_map()
  local lines = wait_text(map, "the five requests", function(t)
    return t:find("frontend  · 5 req", 1, true)
  end)
  local text = table.concat(lines, "\n")
  assert(text:find("├─ payment  ×5", 1, true) or text:find("└─ payment  ×5", 1, true), text)
  assert(not text:find("traces per service", 1, true), "all of them, not a sample\n" .. text)
  h.press("q")
end)

it("with Jaeger the calls are the dependency list's counts, and a sample of traces says so", function()
  h.setup({ trace_endpoint = h.jaeger("busy"), analyze = { limit = 2 } })
  vim.cmd("VitalsServiceMap")
  local map = wait_map()
  local lines = wait_text(map, "the map", function(t)
    return t:find("Service map", 1, true)
  end)
  local text = table.concat(lines, "\n")
  assert(lines[2]:find("from 2 traces per service", 1, true), "the header says the numbers are a sample\n" .. text)
  assert(lines[2]:find("calls: the backend's count", 1, true), text)
  assert(text:find("─ checkout  ×40 (0.7/min)", 1, true), "the backend's 40 calls in the last hour\n" .. text)
  h.press("q")
end)
