local h = require("helpers")

---An OTLP JSON export of `shop`'s requests over five days: `GET /items` (a server span)
---every three hours, slower as the days go by, each calling `SELECT items` (a client
---span), the newest a minute ago.
---@return string
local function five_days()
  local now = os.time() * 1000000000
  local function ns(value)
    return ("%.0f"):format(value)
  end
  local spans = {}
  for n = 0, 39 do
    local start = now - (n * 3 * 3600 + 60) * 1000000000
    local trace = ("%032x"):format(n + 1)
    local ms = 200 - n * 4
    table.insert(spans, {
      traceId = trace,
      spanId = ("%016x"):format(2 * n + 1),
      name = "GET /items",
      kind = 2,
      startTimeUnixNano = ns(start),
      endTimeUnixNano = ns(start + ms * 1000000),
    })
    table.insert(spans, {
      traceId = trace,
      spanId = ("%016x"):format(2 * n + 2),
      parentSpanId = ("%016x"):format(2 * n + 1),
      name = "SELECT items",
      kind = 3,
      startTimeUnixNano = ns(start + 1000000),
      endTimeUnixNano = ns(start + 3000000),
    })
  end
  return vim.json.encode({
    resourceSpans = {
      {
        resource = { attributes = { { key = "service.name", value = { stringValue = "shop" } } } },
        scopeSpans = { { scope = { name = "test" }, spans = spans } },
      },
    },
  })
end

---The trend float, once it shows `text`.
---@param text string
---@return vitals.TrendFloat
local function wait_trend(text)
  h.wait_for("the trend float showing " .. text, function()
    local trend = require("vitals.trends").current
    return trend and vim.api.nvim_buf_is_valid(trend.buf) and h.find_line(trend.buf, text)
  end)
  return require("vitals.trends").current
end

it(":VitalsTrends draws P50, P95, P99, errors and throughput over days, and <CR> opens a bucket's slowest trace", function()
  local url = h.receive()
  assert(h.post(url, five_days()) == "200")
  vim.cmd('VitalsTrends shop "GET /items"')
  local trend = wait_trend("shop · GET /items · last 7d")
  local lines = h.lines(trend.buf)
  local text = table.concat(lines, "\n")
  for _, label in ipairs({ "P50", "P95", "P99", "Errors", "Req/min" }) do
    local row = h.find_line(trend.buf, label)
    assert(row and lines[row]:find("max ", 1, true), text)
    assert(lines[row + 1]:find("[▁▂▃▄▅▆▇█]") and lines[row + 1]:find("min ", 1, true), text)
  end
  -- The newest requests were the slowest: 200 ms (within the sketch's 1 %).
  local max = tonumber(lines[h.find_line(trend.buf, "P50")]:match("max (%d+)ms"))
  assert(max and max >= 198 and max <= 202, text)
  assert(lines[h.find_line(trend.buf, "Req/min") + 1]:find("min 0/min", 1, true), text)
  assert(text:find("UTC", 1, true) and text:find("Total    40 requests", 1, true), text)
  assert(h.groups(trend.buf).VitalsDuration, "the charts are coloured")

  -- The newest bucket on the P95 chart: its slowest request is the newest trace.
  local newest
  for _, cell in ipairs(trend.payload.slowest) do
    if lines[cell[1] + 1]:find("^P95") and (not newest or cell[2] > newest[2]) then
      newest = cell
    end
  end
  assert(newest and newest[6], "a stored trace behind the newest bucket")
  vim.api.nvim_win_set_cursor(trend.win, { newest[1] + 1, newest[2] })
  h.press("<CR>")
  local view = h.wait_view()
  assert(view.trace_id == ("%032x"):format(1), view.trace_id)
end)

it(":VitalsTrends of a service sums its entry operations and lists them; <CR> shows one, <BS> goes back", function()
  local url = h.receive()
  assert(h.post(url, five_days()) == "200")
  vim.cmd("VitalsTrends shop 30d")
  local trend = wait_trend("shop · every entry operation · last 30d")
  assert(h.find_line(trend.buf, "Operations") and h.find_line(trend.buf, "Calls out"))
  local call = h.find_line(trend.buf, "  SELECT items")
  assert(call, table.concat(h.lines(trend.buf), "\n"))
  vim.api.nvim_win_set_cursor(trend.win, { call, 0 })
  h.press("<CR>")
  wait_trend("shop · SELECT items (calls out) · last 30d")
  h.press("<BS>")
  wait_trend("shop · every entry operation · last 30d")

  -- Completion offers the store's services, then the service's operations and ranges.
  assert(vim.tbl_contains(vim.fn.getcompletion("VitalsTrends s", "cmdline"), "shop"))
  local second = vim.fn.getcompletion("VitalsTrends shop ", "cmdline")
  assert(vim.tbl_contains(second, '"GET /items"') and vim.tbl_contains(second, "7d"), vim.inspect(second))
end)

it(":VitalsTrends with a backend that keeps no rollups says trends need the embedded store", function()
  h.setup({ trace_provider = "file", trace_endpoint = vim.fn.tempname() })
  vim.cmd("VitalsTrends shop")
  h.wait_for("the message", function()
    return h.message("Trends need the embedded trace store")
  end)
  assert(#h.floats() == 0)
end)
