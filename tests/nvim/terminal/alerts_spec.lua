-- An alert that fires while the user types, in a real terminal at 80 columns: one line
-- on the command line and the statusline's text, never a hit-enter prompt.

local h = require("helpers")
local terminal = require("terminal")

if not terminal.available() then
  return
end

it("80x24: an alert firing while you type is one line, with no prompt, and the statusline says it", function()
  local port = h.free_port()
  local term = terminal.start({
    setup = {
      trace_provider = "otlp",
      store_path = vim.fn.tempname() .. "-traces.db",
      trace_endpoint = "127.0.0.1:" .. port,
      receivers = { otlp_grpc = false },
      alerts = { { service = "checkout", operation = "POST /checkout", p95 = "500ms", window = "5m" } },
    },
  })
  term:lua('vim.o.statusline = "%f %= %{v:lua.require(\'vitals\').statusline()}"')
  term:type(":VitalsStatus")
  term:keys("Enter")
  term:expect("Store", "the receiver is up")
  term:keys("q")
  term:type("i")
  term:type("typing along ")
  local spans = {}
  for i = 1, 30 do
    local trace = ("%032x"):format(0xa1e70000 + i)
    table.insert(spans, { trace = trace, id = "0000000000000001", service = "checkout", name = "POST /checkout", start_ms = -60000 + i * 1000, ms = 900 + i })
  end
  local status = h.post(("http://127.0.0.1:%d/v1/traces"):format(port), h.otlp_export(spans))
  assert(status == "200", status)
  term:expect("⚠ checkout p95", "the statusline")
  term:assert_no_prompt("after the alert fired")
  term:type("and on")
  term:keys("Escape")
  local buffer = term:lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)[1]")
  assert(buffer == "typing along and on", "what was typed all arrived: " .. buffer)
  local messages = term:messages()
  assert(messages:find("Vitals: alert checkout POST /checkout fired: p95 9", 1, true), messages)
  for _, line in ipairs(vim.split(messages, "\n")) do
    assert(vim.fn.strdisplaywidth(line) <= 80, "a message wider than the command line: " .. line)
  end
  term:stop()
end)
