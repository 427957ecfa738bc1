local h = require("helpers")

local hotrod = vim.fn.fnamemodify(h.root .. "/../shared/fixtures/jaeger-hotrod", ":p")

---Waits for the report float and returns its buffer.
local function wait_report()
  return (h.wait_float("vitals-report"))
end

it(":VitalsAnalyze reports the N+1 of the HotROD captures and <CR> opens the trace at it", function()
  assert(vim.fn.isdirectory(hotrod) == 1, "this test reads the shared HotROD captures in " .. hotrod .. "; it is missing")
  h.setup({ trace_provider = "file", trace_endpoint = hotrod })
  vim.cmd("VitalsAnalyze redis-manual")
  local buf = wait_report()
  local text = table.concat(h.lines(buf), "\n")
  assert(text:find("Analysis of 3 traces", 1, true), text)
  assert(text:find("fetch all 13 in one round trip", 1, true), text)
  assert(text:find("Hot functions", 1, true) and text:find("Critical path of the slowest trace", 1, true), text)
  assert(h.groups(buf).VitalsError, "the N+1 is marked as an error")

  local n_plus_one = h.find_line(buf, "redis-manual GetDriver ×13")
  assert(n_plus_one, text)
  vim.api.nvim_win_set_cursor(0, { n_plus_one, 0 })
  h.press("<CR>")
  local view = h.wait_view()
  local row = vim.api.nvim_win_get_cursor(view.win)[1]
  assert(row > 1, "the cursor is on the repeated call, not the root")
  local details = h.open_detail()
  assert(details:find("GetDriver", 1, true), details)
end)

it("<CR> on a finding with a code location jumps to that line in the local checkout", function()
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir .. "/src/shop", "p")
  local lines = {}
  for i = 1, 12 do
    lines[i] = ("line %d"):format(i)
  end
  vim.fn.writefile(lines, dir .. "/src/shop/orders.py")
  local spans = {
    {
      traceID = "abc1", spanID = "1", operationName = "GET /orders", references = {},
      startTime = 1000000, duration = 100000, processID = "p1",
      tags = {
        { key = "code.file.path", type = "string", value = "/app/src/shop/orders.py" },
        { key = "code.line.number", type = "int64", value = 7 },
      },
    },
  }
  for i = 1, 6 do
    table.insert(spans, {
      traceID = "abc1", spanID = tostring(10 + i), operationName = "SELECT",
      references = { { refType = "CHILD_OF", spanID = "1" } },
      startTime = 1000000 + i * 10000, duration = 8000, processID = "p1",
      tags = {
        { key = "db.system", type = "string", value = "postgresql" },
        { key = "db.statement", type = "string", value = ("SELECT * FROM items WHERE order_id = %d"):format(i) },
      },
    })
  end
  local trace = { data = { { traceID = "abc1", spans = spans, processes = { p1 = { serviceName = "shop" } } } } }
  vim.fn.writefile({ vim.json.encode(trace) }, dir .. "/trace.json")
  local before = vim.fn.getcwd()
  vim.cmd.cd(dir)
  h.setup({ trace_provider = "file", trace_endpoint = dir .. "/trace.json" })
  vim.cmd("VitalsAnalyze shop")
  local buf = wait_report()
  assert(h.find_line(buf, "load items for all 6 in one query: WHERE order_id IN (…)"), table.concat(h.lines(buf), "\n"))
  local at = h.find_line(buf, "at /app/src/shop/orders.py:7")
  assert(at, table.concat(h.lines(buf), "\n"))
  vim.api.nvim_win_set_cursor(0, { at, 0 })
  h.press("<CR>")
  h.wait_for("the source file", function()
    return vim.api.nvim_buf_get_name(0):find("src/shop/orders.py", 1, true) ~= nil
  end)
  assert(vim.api.nvim_win_get_cursor(0)[1] == 7)
  vim.cmd.cd(before)
end)

it(":VitalsFlame merges a service's traces into one flame graph; <CR> opens a path's longest span", function()
  assert(vim.fn.isdirectory(hotrod) == 1, "this test reads the shared HotROD captures in " .. hotrod .. "; it is missing")
  h.setup({ trace_provider = "file", trace_endpoint = hotrod })
  vim.cmd("VitalsFlame driver")
  local buf
  h.wait_for("the flame float", function()
    for _, win in ipairs(h.floats()) do
      if vim.bo[vim.api.nvim_win_get_buf(win)].filetype == "vitals-flame" then
        buf = vim.api.nvim_win_get_buf(win)
        return true
      end
    end
  end)
  local text = table.concat(h.lines(buf), "\n")
  assert(text:find("Aggregated flame graph · driver, last 1h · 3 traces", 1, true), text)
  assert(text:find("driver: driver.DriverService/FindNearest  100.0%", 1, true), "driver's entry span holds all its time\n" .. text)
  assert(not text:find("frontend", 1, true), "only driver's call paths, not its callers\n" .. text)
  local ranked = h.find_line(buf, "› redis-manual GetDriver")
  assert(ranked, text)
  -- Three captures call driver, each with 13 GetDriver calls.
  assert(h.lines(buf)[ranked]:find("^%s+%d+%.%d%%%s+%S+%s+39%s"), "the GetDriver calls of all traces merge into one path\n" .. text)
  vim.api.nvim_win_set_cursor(0, { ranked, #h.lines(buf)[ranked] - 3 })
  h.press("<CR>")
  local view = h.wait_view()
  local details = h.open_detail()
  assert(details:find("redis-manual: GetDriver", 1, true), details)
  assert(view.view == "waterfall")
end)

it(":VitalsCompare shows what changed between two traces; <CR> opens a changed path", function()
  assert(vim.fn.isdirectory(hotrod) == 1, "this test reads the shared HotROD captures in " .. hotrod .. "; it is missing")
  h.setup({ trace_provider = "file", trace_endpoint = hotrod })
  -- The same request with the route calls one after another, then concurrent.
  vim.cmd("VitalsCompare fe65c5beefbe4e96119efbba3da07e99 1a4e4a7b270e9f2a0f716e3ee115218a")
  local buf = wait_report()
  local text = table.concat(h.lines(buf), "\n")
  for _, expected in ipairs({ "Trace comparison", "1.12s · 40 spans", "694ms · 40 spans", "Δ −423ms (−38%)", "Structure: 0 paths changed" }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  assert(h.groups(buf).VitalsFasterLabel, "the faster paths are green in the differential flame graph")
  local route = h.find_line(buf, "−11%  frontend GET /dispatch › frontend HTTP GET › route GET /route")
  assert(route, text)
  vim.api.nvim_win_set_cursor(0, { route, 0 })
  h.press("<CR>")
  local view = h.wait_view()
  assert(view.trace_id == "1a4e4a7b270e9f2a0f716e3ee115218a", "opens the second trace: " .. view.trace_id)
  assert(h.open_detail():find("route: GET /route", 1, true))
end)

---Sends tests/otel/`script` (with `...` after the URL) through the OpenTelemetry Python SDK
---into the editor's own receiver.
---@param script string
local function send_with_sdk(script, ...)
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local url = h.receive()
  local sent = vim.fn.system({ python, h.root .. "/tests/otel/" .. script, url, ... })
  assert(vim.v.shell_error == 0, sent)
end

it(":VitalsRegressions compares the last hour with the hour before, from traces the OpenTelemetry SDK sent", function()
  send_with_sdk("send_regression.py")
  vim.cmd("VitalsRegressions web")
  local buf = wait_report()
  local text = table.concat(h.lines(buf), "\n")
  for _, expected in ipairs({
    "Regressions · web",
    "GET /cart  Baseline P95 = 459ms, Current P95 = 642ms, +40%, regression (p < 0.001, n = 200/200)",
    "POST /pay  Baseline P95 = 459ms, Current P95 = 284ms, −38%, improvement (p < 0.001, n = 212/198)",
    "GET /home  Baseline P95 = 459ms, Current P95 = 459ms, 0.0%, no significant change (p = 1.00, n = 150/150)",
    "n = 5/5: too few requests to tell",
  }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  local prose = table.concat(vim.tbl_map(vim.trim, h.lines(buf)), " ")
  local headline = "✖ regression  slower: GET /cart P95 +40% (p < 0.001) · more errors: POST /pay errors 1.4% → 10.1%"
    .. " · faster: POST /pay P95 −38% (p < 0.001)"
  assert(prose:find(headline, 1, true), "the headline names what moved:\n" .. text)
  assert(h.groups(buf).VitalsSlower and h.groups(buf).VitalsFaster, "regressions red, improvements green")
  vim.api.nvim_win_set_cursor(0, { h.find_line(buf, "GET /cart  Baseline"), 0 })
  h.press("<CR>")
  local view = h.wait_view()
  local details = h.open_detail()
  assert(details:find("web: GET /cart", 1, true) and details:find("Duration    662ms", 1, true), "the slowest current request (P99 662ms)\n" .. details)
  assert(view.trace_id)
end)

---Counts the spans marked in a trace float.
local function marked_rows(buf)
  local marked = 0
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, -1, 0, -1, { details = true })) do
    if mark[4].hl_group == "VitalsMarked" then
      marked = marked + 1
    end
  end
  return marked
end

it(":VitalsAnalyze over 20 requests reports their N+1 once, with every trace reachable and marked", function()
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir .. "/shop", "p")
  local source = {}
  for i = 1, 90 do
    source[i] = ("# line %d"):format(i)
  end
  vim.fn.writefile(source, dir .. "/shop/orders.py")
  local url = h.receive()
  local slowest_first = vim.fn.systemlist({ python, h.root .. "/tests/otel/send_shop.py", url })
  assert(vim.v.shell_error == 0 and #slowest_first == 20, table.concat(slowest_first, "\n"))
  vim.cmd.cd(dir)
  vim.cmd.edit("shop/orders.py")
  local source_buf = vim.api.nvim_get_current_buf()

  vim.cmd("VitalsAnalyze frontend")
  local buf = wait_report()
  local text = table.concat(h.lines(buf), "\n")
  local heads = vim.tbl_filter(function(line)
    return line:find("N+1  ", 1, true) ~= nil
  end, h.lines(buf))
  assert(#heads == 1, "one N+1 for 20 requests:\n" .. text)
  assert(heads[1]:find("orders SELECT shop ×15", 1, true) and heads[1]:find("20/20 requests", 1, true), heads[1])
  assert(text:find("N+1 in 20 of 20 GET /orders requests · 15× select sku, qty from order_items where order_id = %s", 1, true), text)
  assert(not text:find("identical arguments", 1, true), "the arguments of a parameterized query are unknown:\n" .. text)
  assert(not text:find("frontend GET spends", 1, true), "a client span's self time is the network's, not code:\n" .. text)

  -- t lists the finding's traces, one entry each, slowest first; any of them opens marked.
  local shown = h.answer_select(function(items)
    return items[5]
  end)
  vim.api.nvim_win_set_cursor(0, { h.find_line(buf, heads[1]), 0 })
  h.press("t")
  local view = h.wait_view()
  assert(#shown[1].items == 20, vim.inspect(shown[1].labels))
  assert(shown[1].labels[1]:find(slowest_first[1]:sub(1, 12), 1, true), "slowest first: " .. shown[1].labels[1])
  assert(view.trace_id == shown[1].items[5].trace_id and view.view == "waterfall")
  assert(marked_rows(view.buf) == 15, "the 15 queries of this very trace are marked: " .. marked_rows(view.buf))
  h.reset()

  -- The handler's line lists its 20 traces once each (timing and N+1 together), in a picker.
  vim.api.nvim_set_current_buf(source_buf)
  vim.api.nvim_win_set_cursor(0, { 42, 0 })
  shown = h.answer_select(function(items)
    return items[#items]
  end)
  vim.cmd("VitalsTraceHere")
  view = h.wait_view()
  assert(#shown[1].items == 20, vim.inspect(shown[1].labels))
  for _, label in ipairs(shown[1].labels) do
    assert(label:find("frontend: GET /orders", 1, true) and label:find("N+1", 1, true), label)
  end
  assert(marked_rows(view.buf) == 15, "the last trace of the list has its own calls marked")
  vim.cmd("silent! %bwipeout!")
  vim.cmd.cd(h.root)
  vim.fn.delete(dir, "rf")
end)

it(":VitalsRegressions compares two runs minutes apart hours ago by default, and takes a window and --at", function()
  -- Both runs five hours ago, from one process: no versions, no restart between them.
  send_with_sdk("send_regression.py", "runs", "5")
  vim.cmd("VitalsRegressions web")
  local buf = wait_report()
  local text = table.concat(h.lines(buf), "\n")
  -- The header wraps at the float's width: read it as prose.
  local prose = table.concat(vim.tbl_map(vim.trim, h.lines(buf)), " ")
  assert(prose:find("baseline run ", 1, true) and prose:find("(the traffic came in runs: split at a 5m", 1, true), text)
  assert(prose:find("web's requests carry no service.version", 1, true), "says why windows are compared:\n" .. text)
  assert(prose:find("✖ regression  slower: GET /cart P95 +40% (p < 0.001)", 1, true), text)
  assert(text:find("GET /cart  Baseline P95 = 459ms, Current P95 = 642ms, +40%, regression (p < 0.001, n = 82/82)", 1, true), text)
  h.reset()

  -- Five hours and ten minutes ago falls between the runs: an hour before it against an hour after.
  vim.cmd("VitalsRegressions web 1h --at 5h10m")
  buf = wait_report()
  text = table.concat(h.lines(buf), "\n")
  assert(not text:find("came in runs", 1, true), text)
  assert(text:find("n = 82/82", 1, true), text)
  h.reset()

  vim.cmd("VitalsRegressions web --at")
  assert(h.message("--at needs a value"), vim.inspect(h.messages))
end)

it(":VitalsRegressions compares the newest version with the one before it, and --version picks two", function()
  send_with_sdk("send_versions.py")
  vim.cmd("VitalsRegressions shop")
  local buf = wait_report()
  local text = table.concat(h.lines(buf), "\n")
  local prose = table.concat(vim.tbl_map(vim.trim, h.lines(buf)), " ")
  assert(prose:find("baseline version 1.0.0 (", 1, true) and prose:find("vs current version 1.1.0 (", 1, true), text)
  -- The headline agrees with the operations: one of three regressed, and it says which.
  assert(prose:find("✖ regression  slower: POST /checkout P95 +33% (p < 0.001)", 1, true), text)
  for _, expected in ipairs({
    "POST /checkout  Baseline P95 = 480ms, Current P95 = 638ms, +33%, regression (p < 0.001, n = 60/60)",
    "GET /home  Baseline P95 = 57.0ms, Current P95 = 57.0ms, 0.0%, no significant change (p = 1.00, n = 400/400)",
  }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  -- <CR> on the headline opens the slowest checkout of 1.1.0.
  vim.api.nvim_win_set_cursor(0, { h.find_line(buf, "✖ regression  slower"), 0 })
  h.press("<CR>")
  h.wait_view()
  local details = h.open_detail()
  assert(details:find("Duration    658ms", 1, true) and details:find("service.version%s+1%.1%.0"), details)
  h.reset()

  local offered = vim.fn.getcompletion("VitalsRegressions shop --version ", "cmdline")
  assert(vim.deep_equal(offered, { "1.0.0..1.1.0", "0.9.0..1.0.0" }), vim.inspect(offered))
  vim.cmd("VitalsRegressions shop --version 0.9.0..1.1.0")
  buf = wait_report()
  prose = table.concat(vim.tbl_map(vim.trim, h.lines(buf)), " ")
  assert(prose:find("baseline version 0.9.0", 1, true), prose)
  assert(prose:find("✔ improvement faster: POST /checkout P95 −11% (p < 0.001)", 1, true), prose)
  h.reset()

  vim.cmd("VitalsRegressions shop --version 2.0.0..1.1.0")
  h.wait_for("the error", function()
    return h.message('shop has no version "2.0.0"; it has 0.9.0, 1.0.0, 1.1.0')
  end)
end)
