-- :VitalsTail in a real terminal at 80 columns while traces stream in over OTLP/HTTP:
-- the float fills without a prompt, and the user keeps typing in their buffer.

local h = require("helpers")
local terminal = require("terminal")

if not terminal.available() then
  return
end

---Posts each line of stdin (an OTLP JSON export) to the URL given, 50 ms apart, retrying
---the first until the receiver listens.
local STREAM = [[
import sys, time, urllib.request
for n, body in enumerate(sys.stdin.buffer.read().splitlines()):
    for attempt in range(100 if n == 0 else 1):
        try:
            request = urllib.request.Request(sys.argv[1], data=body, headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request).read()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.05)
]]

it("80x24: traces streaming into :VitalsTail show in its float with no prompt, and typing goes on", function()
  local port = h.free_port()
  local term = terminal.start({
    setup = {
      trace_provider = "otlp",
      store_path = vim.fn.tempname() .. "-traces.db",
      trace_endpoint = "127.0.0.1:" .. port,
      receivers = { otlp_grpc = false },
    },
  })
  term:type(":VitalsTail")
  term:keys("Enter")
  term:expect("● live · every trace", "after :VitalsTail")
  -- Back to the buffer, as a person watching the list while working would.
  term:keys("C-w", "p")

  local bodies = {}
  for i = 1, 40 do
    local trace = ("%032x"):format(0x5e1f0000 + i)
    local spans = {
      { trace = trace, id = "0000000000000001", service = "web", name = "GET /item-" .. i, start_ms = 0, ms = 20 + i },
      { trace = trace, id = "0000000000000002", parent = "0000000000000001", service = "stock", name = "Reserve", start_ms = 2, ms = 10, error = i % 7 == 0 and "out of stock" or nil },
    }
    table.insert(bodies, h.otlp_export(spans))
  end
  local streaming = true
  vim.system({ "python3", "-c", STREAM, ("http://127.0.0.1:%d/v1/traces"):format(port) }, {
    stdin = table.concat(bodies, "\n"),
  }, function()
    streaming = false
  end)
  term:type("i")
  local typed = 0
  while streaming do
    vim.wait(100)
    term:assert_no_prompt("while traces stream")
    if typed < 10 then
      term:type("typing" .. typed .. " ")
      typed = typed + 1
    end
  end
  term:keys("Escape")
  local screen = term:expect("GET /item-40", "once every trace was sent")
  term:assert_no_prompt("after the stream")
  assert(screen:find("40 traces", 1, true), screen)
  -- The newest on top: item 40 above item 39.
  local lines = vim.split(screen, "\n")
  local at = function(text)
    for i, line in ipairs(lines) do
      if line:find(text, 1, true) then
        return i
      end
    end
  end
  assert(at("GET /item-40") < at("GET /item-39"), screen)
  for _, line in ipairs(lines) do
    assert(vim.fn.strdisplaywidth(line) <= 80, line)
  end
  local buffer = term:lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)[1]")
  assert(buffer:find("typing9 ", 1, true), "what was typed meanwhile all arrived: " .. buffer)
  assert(term:lua("return vim.bo.filetype") ~= "vitals-tail", "the focus stayed in the buffer")
  local messages = term:messages()
  assert(not messages:find("rror", 1, true), messages)
  term:stop()
end)
