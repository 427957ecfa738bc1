-- Logs of a span: the OpenTelemetry Python SDK's logs bridge (Python `logging` with the
-- SDK's LoggingHandler) exports over OTLP/HTTP and OTLP/gRPC into the editor's receiver;
-- the span's log lines show under it (`L`, the span's details), an exception's stack frame
-- opens the project file at its line, and logs without a trace show only in :VitalsLogs.
local h = require("helpers")

---A project whose `shop/payment.py` raises; returns its folder and the line that raises.
---@return string folder
---@return integer line
local function project()
  local folder = vim.fs.normalize(vim.fn.tempname())
  vim.fn.mkdir(folder .. "/shop", "p")
  vim.fn.writefile({}, folder .. "/shop/__init__.py")
  local code = { '"""A payment that fails."""', "", "", "def charge(amount):", "    if amount > 10:", '        raise ValueError("card declined")', "    return amount" }
  vim.fn.writefile(code, folder .. "/shop/payment.py")
  for line, text in ipairs(code) do
    if text:find("raise", 1, true) then
      return vim.fn.resolve(folder), line
    end
  end
  error("the project has no raise")
end

---Runs tests/otel/send_logs.py; returns the trace id it made.
---@param endpoint string
---@param protocol "http"|"grpc"
---@param folder string
---@return string
local function send_logs(endpoint, protocol, folder)
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local out = vim.fn.system({ python, h.root .. "/tests/otel/send_logs.py", endpoint, protocol, folder })
  assert(vim.v.shell_error == 0, out)
  return vim.trim(out)
end

---Puts the trace float's cursor on the row of span `name` (the last line naming it).
local function on_span(view, name)
  local lines = h.lines(view.buf)
  local line = #lines
  while line > 0 and not lines[line]:find(name, 1, true) do
    line = line - 1
  end
  assert(line > 0, name .. " is not drawn:\n" .. table.concat(lines, "\n"))
  vim.api.nvim_win_set_cursor(view.win, { line, lines[line]:find(name, 1, true) - 1 })
end

---The text of the current buffer once it is a float of `filetype` holding `expected`.
local function float_text(filetype, expected)
  local text
  h.wait_for(filetype .. " with " .. expected, function()
    if vim.bo.filetype ~= filetype then
      return false
    end
    text = table.concat(h.lines(0), "\n")
    return text:find(expected, 1, true)
  end)
  return text
end

local function has(text, expected)
  assert(text:find(expected, 1, true), ("missing %q in\n%s"):format(expected, text))
end

local function lacks(text, unexpected)
  assert(not text:find(unexpected, 1, true), ("%q should not be in\n%s"):format(unexpected, text))
end

---Presses <CR> on the stack frame naming payment.py and checks the code opens at `line`.
local function follow_frame(folder, line)
  local frame = h.find_line(0, 'payment.py", line ' .. line)
  assert(frame, "no frame of payment.py:\n" .. table.concat(h.lines(0), "\n"))
  vim.api.nvim_win_set_cursor(0, { frame, 0 })
  h.press("<CR>")
  h.wait_for("the project's file", function()
    return vim.api.nvim_buf_get_name(0) == folder .. "/shop/payment.py"
  end)
  assert(vim.api.nvim_win_get_cursor(0)[1] == line, "on the line that raised")
  assert(#h.floats() == 0, "the floats made way for the code")
  vim.cmd("silent! bwipeout!")
end

local cwd = vim.fn.getcwd()

it("the SDK's logs over OTLP/HTTP and gRPC show under their spans and a stack frame opens the code", function()
  local folder, raise_line = project()
  vim.cmd.cd(folder)
  local ok, err = pcall(function()
    local grpc = h.free_port()
    local url = h.receive({ receivers = { otlp_grpc = "127.0.0.1:" .. grpc } })
    local sent = {
      http = send_logs((url:gsub("/v1/traces$", "")), "http", folder),
      grpc = send_logs("http://127.0.0.1:" .. grpc, "grpc", folder),
    }
    -- Four records a run, on each receiver: the status counts them.
    local status = h.status_text()
    has(status, "spans, 4 log records)")
    has(status, "8 log records")
    for protocol, id in pairs(sent) do
      h.reset()
      vim.cmd("VitalsTrace " .. id .. " waterfall")
      local view = h.wait_view()

      -- L on the root: its own log lines, not its child's; L again: the child's too.
      on_span(view, "POST /checkout")
      h.press("L")
      local own = float_text("vitals-logs", "cart holds 3 items")
      has(own, "payment failed")
      has(own, "ValueError: card declined")
      lacks(own, "card needs a second try")
      lacks(own, "cache warmed")
      h.press("L")
      local all = float_text("vitals-logs", "card needs a second try")
      has(all, "cart holds 3 items")
      has(all, "shop-" .. protocol .. ": Charge")
      -- Exceptions come first.
      assert(all:find("exception", 1, true) < all:find("cart holds 3 items", 1, true), all)
      -- A frame of a file outside the workspace (the sender script) is never opened.
      local outside = h.find_line(0, 'send_logs.py", line')
      assert(outside, "the sender's own frame is listed:\n" .. all)
      vim.api.nvim_win_set_cursor(0, { outside, 0 })
      h.press("<CR>")
      h.wait_for("the refusal", function()
        return h.message("send_logs.py is not a file under the working directory")
      end)
      assert(vim.bo.filetype == "vitals-logs", "the logs stay open")
      follow_frame(folder, raise_line)

      -- The span's details list its events and logs, and their frames lead to the code too.
      vim.cmd("VitalsTrace " .. id .. " waterfall")
      view = h.wait_view()
      on_span(view, "Charge")
      local detail = h.open_detail()
      has(detail, "Events and logs")
      has(detail, "card needs a second try")
      has(detail, "ValueError: card declined")
      follow_frame(folder, raise_line)
    end

    -- The log written outside any trace shows only when asked for.
    h.reset()
    vim.cmd("VitalsLogs shop-http")
    local listed = float_text("vitals-loglist", "cache warmed before any request")
    has(listed, "no trace")
    has(listed, "payment failed")
    lacks(listed, "shop-grpc")
    h.reset()
    vim.cmd("VitalsLogs * severity=warn")
    listed = float_text("vitals-loglist", "card needs a second try")
    lacks(listed, "cache warmed")
    lacks(listed, "cart holds")
    -- <CR> on a log with a trace opens the trace with its span focused.
    vim.api.nvim_win_set_cursor(0, { h.find_line(0, "card needs a second try"), 0 })
    h.press("<CR>")
    local view = h.wait_view()
    local row = h.lines(view.buf)[vim.api.nvim_win_get_cursor(view.win)[1]]
    assert(row:find("Charge", 1, true), "the log's span is focused: " .. row)
  end)
  vim.cmd.cd(cwd)
  h.reset()
  assert(ok, err)
end)

it("a remote backend's spans show their events, and L says logs need the embedded store", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace .. " waterfall")
  local view = h.wait_view()
  on_span(view, "payment: Charge")
  h.press("L")
  local text = float_text("vitals-logs", "span events only")
  has(text, "payment: Charge")
  vim.cmd("VitalsLogs")
  h.wait_for("the refusal", function()
    return h.message("span events only")
  end)
  h.reset()
end)
