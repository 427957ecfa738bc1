-- What the Neovim tests share: the Jaeger stand-in, waiting, and looking at floats.

-- Each run remembers :VitalsConfigure's choices (and the host its log) in a fresh state
-- folder, never in the user's.
vim.env.XDG_STATE_HOME = vim.fn.tempname() .. "-state"

local M = {}

M.root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h")
M.binary = os.getenv("VITALS_BIN") or (M.root .. "/target/debug/vitals")
M.replay_binary = os.getenv("VITALS_REPLAY_BIN") or (M.root .. "/target/debug/examples/jaeger_replay")
M.slow_trace = "c7a2ea20b2f14c942e05319acb5c7427"
M.failed_trace = "14a0f9e77f1b103cdf1582b0eab477d2"

local servers = {}

---Starts the Jaeger stand-in with a scenario (v1, v3, outage, garbage, slow, …, or tempo,
---tempo-v1 and zipkin, where it answers as Tempo or Zipkin) once per run, and returns its
---URL.
---@param scenario string
---@return string url
function M.jaeger(scenario)
  if servers[scenario] then
    return servers[scenario].url
  end
  local server = { url = nil }
  server.job = vim.fn.jobstart({ M.replay_binary, scenario }, {
    on_stdout = function(_, data)
      server.url = server.url or (data[1] ~= "" and data[1] or nil)
    end,
  })
  assert(server.job > 0, "cannot start " .. M.replay_binary)
  assert(vim.wait(10000, function()
    return server.url ~= nil
  end), "the Jaeger stand-in did not start")
  servers[scenario] = server
  return server.url
end

---What the stand-in was asked, as {path, query = {{k, v}, …}} records.
---@param scenario string
---@return table[]
function M.requests(scenario)
  local script = "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"
  local out = vim.fn.system({ "python3", "-c", script, M.jaeger(scenario) .. "/__requests" })
  return vim.json.decode(out)
end

---The query parameters of the last request the stand-in got for `path`, as a table.
---@param scenario string
---@param path string
---@return table<string, string>
function M.last_params(scenario, path)
  local last
  for _, request in ipairs(M.requests(scenario)) do
    if request.path == path then
      last = request
    end
  end
  assert(last, "no request to " .. path)
  local params = {}
  for _, pair in ipairs(last.query) do
    params[pair[1]] = pair[2]
  end
  return params
end

---POSTs a JSON body (an OTLP export) to `url`; the status, and the body of an error.
---@param url string
---@param body string
---@return string
function M.post(url, body)
  local script = [[
import sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), headers={"Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(request).status)
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
]]
  return vim.trim(vim.fn.system({ "python3", "-c", script, url }, body))
end

---Configures the plugin for a test. The gRPC receiver stays off unless a test asks for
---it, so that tests never meet on the real port 4317.
---@param opts table
function M.setup(opts)
  local defaults = { binary = M.binary, trace_provider = "jaeger", receivers = { otlp_grpc = false } }
  require("vitals").setup(vim.tbl_extend("force", defaults, opts))
end

---A loopback port nothing listens on right now.
---@return integer
function M.free_port()
  local socket = assert(vim.uv.new_tcp())
  socket:bind("127.0.0.1", 0)
  local port = socket:getsockname().port
  socket:close()
  return port
end

---A project with a checkout handler, and a trace of it (`trace.json`, Jaeger's JSON)
---whose spans name their code with container paths, old and new attribute names, a
---path that needs a mapping (`/build/x/` → the project), a location known only by
---function, and an N+1 of six queries (no location of their own).
---@return string dir the project's folder, normalized
function M.annotated_project()
  local dir = vim.fs.normalize(vim.fn.tempname())
  for _, sub in ipairs({ "shop", "lib" }) do
    vim.fn.mkdir(dir .. "/" .. sub, "p")
  end
  local function write(path, count, extra)
    local lines = {}
    for i = 1, count do
      lines[i] = ("# line %d"):format(i)
    end
    for line, text in pairs(extra or {}) do
      lines[line] = text
    end
    vim.fn.writefile(lines, dir .. "/" .. path)
  end
  write("shop/orders.py", 30)
  write("shop/cart.py", 10)
  write("shop/users.py", 12, { [7] = "def load_user(user_id):" })
  write("lib/pricing.py", 6)
  local function tags(list)
    local out = {}
    for key, value in pairs(list) do
      table.insert(out, { key = key, type = type(value) == "number" and "int64" or "string", value = value })
    end
    return out
  end
  local function span(id, parent, name, start_ms, ms, code)
    return {
      traceID = "c0ffee", spanID = id, operationName = name, processID = "p1",
      references = parent and { { refType = "CHILD_OF", spanID = parent } } or {},
      startTime = 1700000000000000 + start_ms * 1000, duration = ms * 1000, tags = tags(code),
    }
  end
  local spans = {
    span("1", nil, "GET /checkout", 0, 100, { ["code.file.path"] = "/app/shop/orders.py", ["code.line.number"] = 12 }),
    span("2", "1", "load_cart", 1, 30, { ["code.filepath"] = "/srv/shop/cart.py", ["code.lineno"] = 5 }),
    span("3", "1", "load_user", 32, 3, { ["code.function"] = "load_user", ["code.namespace"] = "shop.users" }),
    span("4", "1", "price", 36, 8, { ["code.file.path"] = "/build/x/lib/pricing.py", ["code.line.number"] = 3 }),
  }
  for i = 1, 6 do
    table.insert(spans, span(tostring(10 + i), "1", "SELECT", 45 + i * 8, 6, {
      ["db.system"] = "postgresql",
      ["db.statement"] = ("SELECT * FROM items WHERE order_id = %d"):format(i),
    }))
  end
  local trace = { data = { { traceID = "c0ffee", spans = spans, processes = { p1 = { serviceName = "web" } } } } }
  vim.fn.writefile({ vim.json.encode(trace) }, dir .. "/trace.json")
  return dir
end

---The text Vitals wrote at the end of a 1-based line of `buf` (its annotations).
---@param buf integer
---@param line integer
---@return string
function M.annotation_at(buf, line)
  local ns = require("vitals.annotate").ns.annotations
  local text = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, { line - 1, 0 }, { line - 1, -1 }, { details = true })) do
    for _, chunk in ipairs(mark[4].virt_text or {}) do
      table.insert(text, chunk[1])
    end
  end
  return table.concat(text)
end

---Waits until `predicate` holds, failing the test with `what` otherwise.
---@param what string
---@param predicate fun(): any
---@param timeout? integer
function M.wait_for(what, predicate, timeout)
  local ok = vim.wait(timeout or 10000, function()
    return predicate() and true or false
  end, 10)
  assert(ok, "timed out waiting for " .. what)
end

---Messages shown through vim.notify during the test.
M.messages = {}
vim.notify = function(msg, level)
  table.insert(M.messages, { msg = msg, level = level })
end

---The first notification containing `text`.
---@param text string
function M.message(text)
  for _, m in ipairs(M.messages) do
    if m.msg:find(text, 1, true) then
      return m
    end
  end
end

---Neovim's own vim.ui.select, put back between tests.
local builtin_select = vim.ui.select

---Replaces vim.ui.select with a picker that records what it was shown and picks the item
---`choose(items)` returns.
---@param choose fun(items: any[], opts: table): any
---@return table[] shown the prompts, each {items, labels, prompt}
function M.answer_select(choose)
  local shown = {}
  vim.ui.select = function(items, opts, on_choice)
    local labels = vim.tbl_map(opts.format_item or tostring, items)
    table.insert(shown, { items = items, labels = labels, prompt = opts.prompt })
    vim.schedule(function()
      on_choice(choose(items, opts))
    end)
  end
  return shown
end

---The trace view of the current buffer, waiting for it to open.
---@return vitals.TraceView
function M.wait_view()
  local trace_view = require("vitals.ui.trace_view")
  M.wait_for("the trace float", trace_view.current)
  return trace_view.current()
end

---@param buf integer
---@return string[]
function M.lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

---The 1-based line holding `text`.
function M.find_line(buf, text)
  for i, line in ipairs(M.lines(buf)) do
    if line:find(text, 1, true) then
      return i
    end
  end
end

---Presses keys as a user would, letting mappings run.
---@param keys string
function M.press(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "mx", false)
end

---Highlight groups placed in a buffer by the plugin.
---@return table<string, boolean>
function M.groups(buf)
  local ns = require("vitals.ui.float").ns
  local found = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
    found[mark[4].hl_group] = true
  end
  return found
end

---@return integer[] floating windows
function M.floats()
  return vim.tbl_filter(function(win)
    return vim.api.nvim_win_get_config(win).relative ~= ""
  end, vim.api.nvim_list_wins())
end

---Waits for a float whose buffer has `filetype` ("vitals-report", …).
---@param filetype string
---@return integer buf
---@return integer win
function M.wait_float(filetype)
  local buf, win
  M.wait_for("a " .. filetype .. " float", function()
    for _, w in ipairs(M.floats()) do
      if vim.bo[vim.api.nvim_win_get_buf(w)].filetype == filetype then
        buf, win = vim.api.nvim_win_get_buf(w), w
        return true
      end
    end
  end)
  return buf, win
end

---Back to a clean editor between tests.
---The host's status lines, as :VitalsStatus shows them.
---@return string
function M.status_text()
  local text
  require("vitals.client").call("status", {}, function(err, drawing)
    text = err or table.concat(drawing.lines, "\n")
  end)
  M.wait_for("the status", function()
    return text
  end)
  return text
end

---Starts this editor's own OTLP receiver on a free port over a fresh store; returns the
---URL to export to.
---@param opts? table more options
---@return string
function M.receive(opts)
  local port = M.free_port()
  local receiving = { trace_provider = "otlp", store_path = vim.fn.tempname() .. "-traces.db", trace_endpoint = "127.0.0.1:" .. port }
  M.setup(vim.tbl_extend("force", receiving, opts or {}))
  local url = ("http://127.0.0.1:%d/v1/traces"):format(port)
  M.wait_for("the receiver", function()
    return M.status_text():find("receiving on " .. url, 1, true)
  end)
  return url
end

---Starts `vitals serve` on free ports with a fresh store; returns it (`url`: where it
---receives OTLP/HTTP; with `opts.query`, `query_url`: where it answers Jaeger's query API)
---and its store's path. Stopped with vim.fn.jobstop(server.job).
---@param opts? {query?: boolean}
---@return {url: string, query_url?: string, job: integer, stderr: string} server
---@return string db
function M.serve(opts)
  local db = vim.fn.tempname() .. "-traces.db"
  local server = { url = nil, stderr = "" }
  local command = { M.binary, "serve", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off", "--zipkin", "off" }
  vim.list_extend(command, { "--query", opts and opts.query and "127.0.0.1:0" or "off", "--db", db })
  server.job = vim.fn.jobstart(command, {
    on_stderr = function(_, data)
      -- Output arrives in chunks that may split a line: match on all of it.
      server.stderr = server.stderr .. table.concat(data, "\n")
      server.url = server.stderr:match("OTLP/HTTP on (http://[%d%.:]+/v1/traces)")
      server.query_url = server.stderr:match("query API on (http://[%d%.:]+)\n")
    end,
  })
  M.wait_for("vitals serve to listen", function()
    return server.url and (not (opts and opts.query) or server.query_url)
  end)
  return server, db
end

---@class vitals.TestSpan
---@field trace string 32 hex digits
---@field id string 16 hex digits
---@field parent? string the parent's id; none for a root
---@field service string
---@field name string
---@field start_ms number from now
---@field ms number its duration
---@field error? string fails it with this message
---@field attributes? table<string, string>

---An OTLP JSON export of spans timed from now, a resource per service.
---@param spans vitals.TestSpan[]
---@return string
function M.otlp_export(spans)
  local now = os.time() * 1000000000
  -- Nanoseconds exceed what tostring() prints whole in LuaJIT.
  local function ns(ms)
    return ("%.0f"):format(now + ms * 1000000)
  end
  local by_service, order = {}, {}
  for _, span in ipairs(spans) do
    if not by_service[span.service] then
      by_service[span.service] = {}
      table.insert(order, span.service)
    end
    local attributes = {}
    for key, value in pairs(span.attributes or {}) do
      table.insert(attributes, { key = key, value = { stringValue = value } })
    end
    table.insert(by_service[span.service], {
      traceId = span.trace,
      spanId = span.id,
      parentSpanId = span.parent or "",
      name = span.name,
      kind = span.parent and 3 or 2,
      startTimeUnixNano = ns(span.start_ms),
      endTimeUnixNano = ns(span.start_ms + span.ms),
      attributes = attributes,
      status = span.error and { code = 2, message = span.error } or nil,
    })
  end
  local resources = {}
  for _, service in ipairs(order) do
    table.insert(resources, {
      resource = { attributes = { { key = "service.name", value = { stringValue = service } } } },
      scopeSpans = { { scope = { name = "test" }, spans = by_service[service] } },
    })
  end
  return vim.json.encode({ resourceSpans = resources })
end

---Presses <CR> in a trace float and returns the text of the span detail it opens.
---@return string
function M.open_detail()
  M.press("<CR>")
  M.wait_for("the span details", function()
    return vim.bo[vim.api.nvim_get_current_buf()].filetype == "vitals-span"
  end)
  return table.concat(M.lines(vim.api.nvim_get_current_buf()), "\n")
end

function M.reset()
  for _, win in ipairs(M.floats()) do
    pcall(vim.api.nvim_win_close, win, true)
  end
  -- A test's calls still in flight would answer in the next test (with a message that is
  -- not its own): their answers come first.
  vim.wait(3000, function()
    return not require("vitals.client").busy()
  end, 10)
  M.messages = {}
  vim.o.columns = 140
  vim.ui.select = builtin_select
  os.remove(require("vitals.config").choice_file())
end

function M.shutdown()
  require("vitals.client").stop()
  for _, server in pairs(servers) do
    vim.fn.jobstop(server.job)
  end
end

-- Only the width is set: changing 'lines' in a headless Neovim 0.11 makes a later
-- :checkhealth crash (a Neovim bug, seen with nvim_echo before it).
vim.o.columns = 140
-- Tests start the host themselves: no receiver on the real port 4318 at startup.
require("vitals.config").set({ receive_on_startup = false })
vim.cmd("runtime plugin/vitals.lua")

return M
