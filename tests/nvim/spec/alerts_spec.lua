-- Alerts with the embedded receiver: requests sent over OTLP/HTTP get slower than a rule
-- allows, then fast again; the host pushes each change, once.

local h = require("helpers")
local vitals = require("vitals")

local sent = 0

---Sends `count` requests of `POST /checkout`, `ms` long each, ending now.
---@param url string
---@param count integer
---@param ms integer
local function send(url, count, ms)
  local spans = {}
  for _ = 1, count do
    sent = sent + 1
    local trace = ("%032x"):format(0xa1e40000 + sent)
    table.insert(spans, { trace = trace, id = "0000000000000001", service = "checkout", name = "POST /checkout", start_ms = -ms, ms = ms })
  end
  local status = h.post(url, h.otlp_export(spans))
  assert(status == "200", status)
end

---The notifications about alerts so far.
---@return {msg: string, level: integer}[]
local function alert_messages()
  return vim.tbl_filter(function(m)
    return m.msg:find("^alert ") ~= nil
  end, h.messages)
end

---The open :VitalsAlerts float's buffer.
---@return integer?
local function alerts_buf()
  for _, win in ipairs(h.floats()) do
    local buf = vim.api.nvim_win_get_buf(win)
    if vim.bo[buf].filetype == "vitals-alerts" then
      return buf
    end
  end
end

it("a rule fires once when requests get slow, clears once when they are fast again, and the statusline follows", function()
  local rule = { service = "checkout", operation = "POST /checkout", p95 = "500ms", window = "5m" }
  local url = h.receive({ alerts = { rule } })
  send(url, 40, 100)
  vim.wait(1200)
  assert(vitals.statusline() == "", vitals.statusline())
  assert(#alert_messages() == 0, vim.inspect(alert_messages()))

  send(url, 10, 900)
  h.wait_for("the alert to fire", function()
    return #alert_messages() > 0
  end)
  local fired = alert_messages()[1]
  assert(fired.msg:find("^alert checkout POST /checkout fired: p95 [89]%d%dms over"), fired.msg)
  assert(fired.msg:find("over 500ms (last 5m, 50 requests); slowest trace ", 1, true), fired.msg)
  assert(fired.level == vim.log.levels.WARN)
  local status = vitals.statusline()
  assert(status:match("^⚠ checkout p95 [89]%d%dms$"), status)

  send(url, 400, 100)
  h.wait_for("the alert to clear", function()
    return #alert_messages() > 1
  end)
  local cleared = alert_messages()[2]
  assert(cleared.msg:find("alert checkout POST /checkout cleared: p95 1", 1, true), cleared.msg)
  assert(cleared.level == vim.log.levels.INFO)
  assert(vitals.statusline() == "", vitals.statusline())

  -- More traffic, fast or a little slower but under the line: nothing more to say.
  send(url, 20, 300)
  vim.wait(2500)
  assert(#alert_messages() == 2, vim.inspect(alert_messages()))

  -- :VitalsAlerts lists the rule, clear, with its history; <CR> on the firing opens its trace.
  vim.cmd("VitalsAlerts")
  h.wait_for("the alerts float", alerts_buf)
  local buf = alerts_buf()
  assert(h.find_line(buf, "✓ clear  checkout POST /checkout  (p95 > 500ms over 5m)"), table.concat(h.lines(buf), "\n"))
  local fired_line = h.find_line(buf, "fired   p95 ")
  local cleared_line = h.find_line(buf, "cleared p95 1")
  assert(fired_line and cleared_line and cleared_line < fired_line, "newest first: " .. table.concat(h.lines(buf), "\n"))
  local trace = h.lines(buf)[fired_line]:match("trace (%x+)$")
  assert(trace and trace == ("%032x"):format(0xa1e40000 + 41), h.lines(buf)[fired_line])
  vim.api.nvim_win_set_cursor(0, { fired_line, 0 })
  h.press("<CR>")
  local view = h.wait_view()
  assert(view, "the slowest request's trace opened")
end)

it("rules that are wrong are named, and the rest of the setup still works", function()
  local ok, err = pcall(h.setup, { alerts = { service = "checkout" } })
  assert(not ok and tostring(err):find("alerts: expected a list of rules"), tostring(err))
  -- A rule with no threshold: said by the host, while the receiver starts all the same.
  h.receive({ alerts = { { service = "checkout", p95 = "1s" }, { service = "cart" } } })
  h.wait_for("the wrong rule named", function()
    return h.message("alert rule 2: give at least one of p50, p95, p99 or error_rate")
  end)
end)
