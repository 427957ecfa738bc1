local h = require("helpers")

local TRACE = "5b8efff798038103d269b633813fc60c"

---Starts `vitals serve` on a free port with a fresh store; returns its URL and store path.
local function serve()
  local db = vim.fn.tempname() .. "-traces.db"
  local server = { url = nil, stderr = "" }
  local command = { h.binary, "serve", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off", "--zipkin", "off" }
  vim.list_extend(command, { "--query", "off", "--db", db })
  server.job = vim.fn.jobstart(command, {
    on_stderr = function(_, data)
      -- Output arrives in chunks that may split a line: match on all of it.
      server.stderr = server.stderr .. table.concat(data, "\n")
      server.url = server.stderr:match("OTLP/HTTP on (http://[%d%.:]+/v1/traces)")
    end,
  })
  h.wait_for("vitals serve to listen", function()
    return server.url
  end)
  return server, db
end

---An OTLP JSON export of one checkout: two services, nested, with attributes, an event
---and an error, timed just now.
local function export_body()
  local now = os.time() * 1000000000
  -- Nanoseconds exceed what tostring() prints whole in LuaJIT.
  local function ns(value)
    return ("%.0f"):format(value)
  end
  local function span(id, parent, name, start_ms, duration_ms, extra)
    return vim.tbl_extend("force", {
      traceId = TRACE,
      spanId = id,
      parentSpanId = parent,
      name = name,
      kind = 2,
      startTimeUnixNano = ns(now + start_ms * 1000000),
      endTimeUnixNano = ns(now + (start_ms + duration_ms) * 1000000),
    }, extra or {})
  end
  local function resource(service, spans)
    return {
      resource = { attributes = { { key = "service.name", value = { stringValue = service } } } },
      scopeSpans = { { scope = { name = "test" }, spans = spans } },
    }
  end
  return vim.json.encode({
    resourceSpans = {
      resource("web", {
        span("0000000000000001", "", "POST /checkout", 0, 120, {
          attributes = { { key = "http.route", value = { stringValue = "/checkout" } } },
        }),
      }),
      resource("checkout", {
        span("0000000000000002", "0000000000000001", "PlaceOrder", 5, 100, {
          status = { code = 2, message = "card declined" },
          events = { { timeUnixNano = ns(now + 50 * 1000000), name = "retry" } },
        }),
      }),
    },
  })
end

it("traces sent over OTLP to `vitals serve` are searched and opened with the otlp provider", function()
  local server, db = serve()
  local status = h.post(server.url, export_body())
  assert(status == "200", status)
  -- This editor's own receiver listens elsewhere; `vitals serve` fills the shared store.
  h.setup({ trace_provider = "otlp", store_path = db, trace_endpoint = "127.0.0.1:" .. h.free_port() })
  local shown = h.answer_select(function(items, opts)
    if opts.prompt:find("^Operation") then
      return "all operations"
    end
    return items[1]
  end)
  vim.cmd("VitalsSearch web")
  local view = h.wait_view()
  assert(view.trace_id == TRACE)
  assert(shown[2].labels[1]:find("web: POST /checkout", 1, true), shown[2].labels[1])
  assert(shown[2].labels[1]:find("✗ 1 error", 1, true), shown[2].labels[1])
  local line = h.find_line(view.buf, "checkout: PlaceOrder")
  assert(line, table.concat(h.lines(view.buf), "\n"))
  vim.api.nvim_win_set_cursor(view.win, { line, (h.lines(view.buf)[line]:find("PlaceOrder", 1, true)) })
  h.press("<CR>")
  h.wait_for("the detail", function()
    return view.detail_win and vim.api.nvim_win_is_valid(view.detail_win)
  end)
  local detail = table.concat(h.lines(vim.api.nvim_win_get_buf(view.detail_win)), "\n")
  assert(detail:find("error: card declined", 1, true) and detail:find("retry", 1, true), detail)
  vim.fn.jobstop(server.job)
end)

it("with the default otlp provider the editor itself receives, and :VitalsStatus says so", function()
  local url = h.receive()
  local status = h.post(url, export_body())
  assert(status == "200", status)
  vim.cmd("VitalsTrace " .. TRACE)
  local view = h.wait_view()
  assert(h.find_line(view.buf, "checkout: PlaceOrder"))
  local text = h.status_text()
  assert(text:find("1 batch (2 spans)", 1, true) and text:find("2 spans in 1 traces", 1, true), text)
  h.reset()
  vim.cmd("VitalsStatus")
  h.wait_for("the status float", function()
    return h.find_line(vim.api.nvim_get_current_buf(), "Store size")
  end)
end)
