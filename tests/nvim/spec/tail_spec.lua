-- :VitalsTail with the embedded receiver: traces sent over OTLP/HTTP while the float is
-- open are pushed into it by the host.

local h = require("helpers")
local tails = require("vitals.tail")

local sent = 0

---A request: a root span of `service` doing `operation`, with `opts.queries` SELECTs one
---after another under it (five or more are an N+1), `opts.call` a span of another service
---under it, and `opts.error` failing the root. Returns its spans and its trace id.
---@param service string
---@param operation string
---@param opts? {queries?: integer, call?: string, error?: string}
---@return vitals.TestSpan[] spans
---@return string trace_id
local function request(service, operation, opts)
  opts = opts or {}
  sent = sent + 1
  local trace = ("%032x"):format(0x7a110000 + sent)
  local spans = {
    { trace = trace, id = "0000000000000001", service = service, name = operation, start_ms = 0, ms = 120, error = opts.error },
  }
  for i = 1, opts.queries or 0 do
    table.insert(spans, {
      trace = trace,
      id = ("%016x"):format(16 + i),
      parent = "0000000000000001",
      service = service,
      name = "SELECT",
      start_ms = 2 + i * 10,
      ms = 8,
      attributes = { ["db.system"] = "postgresql", ["db.statement"] = ("SELECT * FROM items WHERE id = %d"):format(i) },
    })
  end
  if opts.call then
    table.insert(spans, { trace = trace, id = "0000000000000002", parent = "0000000000000001", service = opts.call, name = "Handle", start_ms = 1, ms = 100 })
  end
  return spans, trace
end

---Sends requests in one OTLP/HTTP export.
---@param url string
---@param ... vitals.TestSpan[]
local function send(url, ...)
  local spans = {}
  for _, request_spans in ipairs({ ... }) do
    vim.list_extend(spans, request_spans)
  end
  local status = h.post(url, h.otlp_export(spans))
  assert(status == "200", status)
end

---Runs a :VitalsTail command and returns the float, once it is open.
---@param command string
---@return vitals.TailFloat
local function open_tail(command)
  vim.cmd(command)
  h.wait_for("the live tail float", function()
    return next(tails.open_tails)
  end)
  local _, tail = next(tails.open_tails)
  return tail
end

---The 1-based line listing `text` in the tail, waiting for it at most `timeout` ms.
local function wait_row(tail, text, timeout)
  h.wait_for(text .. " in the live tail", function()
    return h.find_line(tail.buf, text)
  end, timeout)
  return h.find_line(tail.buf, text)
end

it("traces sent while the float is open appear within a second, newest on top, without taking the focus", function()
  local url = h.receive()
  local tail = open_tail("VitalsTail")
  assert(h.lines(tail.buf)[1]:find("● live · every trace", 1, true), h.lines(tail.buf)[1])
  assert(h.find_line(tail.buf, "Waiting for traces…"))
  -- The user goes back to their code and types while traces arrive.
  vim.cmd("wincmd p")
  local code_win = vim.api.nvim_get_current_win()
  assert(code_win ~= tail.win)
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { "typing" })

  send(url, (request("web", "GET /first", { queries = 6, call = "cart" })))
  wait_row(tail, "web: GET /first", 1000)
  send(url, (request("web", "POST /second", { error = "card declined" })))
  local second = wait_row(tail, "web: POST /second", 1000)
  local first = h.find_line(tail.buf, "web: GET /first")
  assert(second < first, "the newest on top:\n" .. table.concat(h.lines(tail.buf), "\n"))

  local row = h.lines(tail.buf)[first]
  for _, part in ipairs({ "GET /first", "120ms", "8 spans", "N+1 ×6", "web, cart" }) do
    assert(row:find(part, 1, true), ("%q lacks %q"):format(row, part))
  end
  assert(h.lines(tail.buf)[second]:find("✗1", 1, true), h.lines(tail.buf)[second])
  assert(h.lines(tail.buf)[1]:find("2 traces", 1, true), h.lines(tail.buf)[1])
  assert(vim.api.nvim_get_current_win() == code_win, "the focus stayed in the code")
  assert(vim.api.nvim_buf_get_lines(0, 0, -1, false)[1] == "typing")
  assert(h.groups(tail.buf).VitalsError, "the error mark is highlighted")
  assert(#h.messages == 0, vim.inspect(h.messages))
end)

it("a trace whose spans come in two batches is listed once, when its root lands, and updated", function()
  local url = h.receive()
  local tail = open_tail("VitalsTail web")
  local spans = request("web", "GET /split", { call = "cart" })
  local root, child = spans[1], spans[2]
  send(url, { child })
  vim.wait(300)
  assert(not h.find_line(tail.buf, "GET /split"), "only a child: not yet")
  send(url, { root })
  local line = wait_row(tail, "web: GET /split", 1000)
  assert(h.lines(tail.buf)[line]:find("2 spans", 1, true), h.lines(tail.buf)[line])
  -- A late span of another service: the same row grows.
  send(url, { { trace = root.trace, id = "0000000000000009", parent = "0000000000000002", service = "postgres", name = "SELECT", start_ms = 3, ms = 5 } })
  h.wait_for("the row to grow", function()
    local grown = h.find_line(tail.buf, "GET /split")
    return grown and h.lines(tail.buf)[grown]:find("3 spans", 1, true)
  end, 2000)
  local listed = vim.tbl_filter(function(l)
    return l:find("GET /split", 1, true) ~= nil
  end, h.lines(tail.buf))
  assert(#listed == 1, "listed once:\n" .. table.concat(h.lines(tail.buf), "\n"))
end)

it("p pauses: what arrives is held and counted, and shown on resume", function()
  local url = h.receive()
  local tail = open_tail("VitalsTail")
  send(url, (request("web", "GET /before")))
  wait_row(tail, "GET /before", 1000)
  vim.api.nvim_set_current_win(tail.win)
  h.press("p")
  h.wait_for("the pause", function()
    return h.lines(tail.buf)[1]:find("⏸ paused", 1, true)
  end)
  send(url, (request("web", "GET /during-1")), (request("web", "GET /during-2")))
  h.wait_for("the count of what arrived", function()
    return h.lines(tail.buf)[1]:find("⏸ paused · 2 new", 1, true)
  end)
  assert(not h.find_line(tail.buf, "GET /during"), "held:\n" .. table.concat(h.lines(tail.buf), "\n"))
  h.press("p")
  local during = wait_row(tail, "GET /during-2", 1000)
  assert(during < h.find_line(tail.buf, "GET /before"))
  assert(h.lines(tail.buf)[1]:find("● live", 1, true))
  h.press("c")
  h.wait_for("the list to clear", function()
    return h.find_line(tail.buf, "Waiting for traces…")
  end)
end)

it("the filter hides what does not match, and f changes it", function()
  local url = h.receive()
  local tail = open_tail("VitalsTail checkout error=true")
  assert(h.lines(tail.buf)[1]:find("checkout error=true", 1, true), h.lines(tail.buf)[1])
  send(url, (request("web", "GET /ok", { call = "checkout" })))
  send(url, (request("checkout", "POST /pay", { error = "declined" })))
  wait_row(tail, "checkout: POST /pay", 1000)
  assert(not h.find_line(tail.buf, "GET /ok"), "no failed checkout span:\n" .. table.concat(h.lines(tail.buf), "\n"))

  local builtin_input = vim.ui.input
  vim.ui.input = function(opts, on_confirm)
    assert(opts.default == "checkout error=true", opts.default)
    on_confirm("web")
  end
  vim.api.nvim_set_current_win(tail.win)
  h.press("f")
  vim.ui.input = builtin_input
  -- What arrived since the tail opened, now through the new filter.
  wait_row(tail, "web: GET /ok", 2000)
  assert(not h.find_line(tail.buf, "POST /pay"), table.concat(h.lines(tail.buf), "\n"))
  assert(vim.api.nvim_win_get_config(tail.win).title[1][1]:find("Vitals tail: web", 1, true))
end)

it("the list keeps max_rows traces, the newest, and <CR> opens one with its N+1 marked", function()
  local url = h.receive({ tail = { max_rows = 3 } })
  local tail = open_tail("VitalsTail")
  local requests = {}
  for i = 1, 5 do
    requests[i] = (request("web", "GET /page-" .. i, { queries = i == 5 and 5 or 0 }))
  end
  send(url, unpack(requests))
  wait_row(tail, "GET /page-5", 1000)
  local listed = vim.tbl_filter(function(l)
    return l:find("GET /page", 1, true) ~= nil
  end, h.lines(tail.buf))
  assert(#listed == 3 and listed[3]:find("page-3", 1, true), table.concat(h.lines(tail.buf), "\n"))

  vim.api.nvim_set_current_win(tail.win)
  vim.api.nvim_win_set_cursor(tail.win, { h.find_line(tail.buf, "GET /page-5"), 0 })
  h.press("<CR>")
  local view = h.wait_view()
  assert(view.view == "waterfall", "opened where the marked calls each have a row")
  assert(h.groups(view.buf).VitalsMarked, "the N+1's calls are marked")
end)

it("with Jaeger it polls: what reaches the backend after the tail opened is listed", function()
  local server = h.serve({ query = true })
  h.setup({ trace_provider = "jaeger", trace_endpoint = server.query_url, tail = { poll_ms = 200 } })
  send(server.url, (request("web", "GET /before-opening")))
  local tail = open_tail("VitalsTail web")
  local status = h.lines(tail.buf)[1]
  assert(status:find("polling jaeger at " .. server.query_url .. " every 200ms", 1, true), status)
  vim.wait(500)
  send(server.url, (request("web", "GET /new")), (request("shop", "GET /elsewhere")))
  wait_row(tail, "web: GET /new", 3000)
  vim.wait(500)
  local shown = table.concat(h.lines(tail.buf), "\n")
  assert(not shown:find("GET /before-opening", 1, true), "what was there is not news:\n" .. shown)
  assert(not shown:find("GET /elsewhere", 1, true), "another service's:\n" .. shown)
  assert(#vim.tbl_filter(function(l)
    return l:find("GET /new", 1, true) ~= nil
  end, h.lines(tail.buf)) == 1, "polled again and again, listed once:\n" .. shown)
  vim.fn.jobstop(server.job)
end)
