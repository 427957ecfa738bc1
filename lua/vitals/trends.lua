---@mod vitals.trends :VitalsTrends, how a service's requests moved over days and weeks

local client = require("vitals.client")
local cmdline = require("vitals.cmdline")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")
local search = require("vitals.search")

local M = {}

local FOOTER = "q close · <CR> slowest trace / operation · <BS> back · r range · ? keys"

---Ranges offered by completion and by `r`.
M.RANGES = { "24h", "7d", "30d", "90d" }

---@class vitals.TrendArgs
---@field service? string
---@field operation? string
---@field range? string e.g. "7d"

---Reads `[service] [operation] [range]`: a last word shaped like a duration (`24h`, `7d`,
---`90d`) is the range, whatever stands before it.
---@param words string[]
---@return vitals.TrendArgs
function M.parse(words)
  local args = {}
  words = vim.list_slice(words, 1, #words)
  if #words > 1 and words[#words]:match("^%d+[%a]+$") then
    args.range = table.remove(words)
  end
  args.service, args.operation = words[1], words[2]
  return args
end

---@class vitals.TrendFloat
---@field buf integer
---@field win integer
---@field payload table the host's TrendPayload
---@field args vitals.TrendArgs what it shows
---@field back vitals.TrendArgs[] what it showed before, for `<BS>`

---What is under a 1-based line and 0-based byte column: the slowest request of a chart
---cell (or of the whole range), or an operation.
---@param payload table
---@param line integer
---@param col integer
---@return {trace_id: string, span_id: string, stored: boolean}|{operation: string}|nil
function M.target_at(payload, line, col)
  local nearest
  for _, cell in ipairs(payload.slowest or {}) do
    if cell[1] + 1 == line then
      if cell[2] <= col and col < cell[3] then
        return { trace_id = cell[4], span_id = cell[5], stored = cell[6] }
      end
      if cell[2] <= col then
        nearest = { trace_id = cell[4], span_id = cell[5], stored = cell[6] }
      end
    end
  end
  if nearest then
    return nearest
  end
  for _, op in ipairs(payload.operations or {}) do
    if op[1] + 1 == line then
      return { operation = op[2] }
    end
  end
  return nil
end

---@param args vitals.TrendArgs
---@return table
local function params(args)
  return {
    service = args.service or "",
    operation = args.operation or "",
    range = args.range or "",
    width = float.content_width(),
  }
end

---@param trend vitals.TrendFloat
---@param args vitals.TrendArgs
---@param remember boolean whether `<BS>` comes back to what it showed
local function show_instead(trend, args, remember)
  client.fetch("trends", params(args), "drawing the trend…", function(payload)
    if not vim.api.nvim_buf_is_valid(trend.buf) then
      return
    end
    if remember then
      table.insert(trend.back, trend.args)
    end
    trend.payload, trend.args = payload, args
    float.paint(trend.buf, payload)
    float.relayout(trend.win, payload, FOOTER)
    pcall(vim.api.nvim_win_set_cursor, trend.win, { 1, 0 })
  end)
end

---@param trend vitals.TrendFloat
local function enter(trend)
  local cursor = vim.api.nvim_win_get_cursor(trend.win)
  local target = M.target_at(trend.payload, cursor[1], cursor[2])
  if not target then
    return notify.info("Put the cursor on a chart, the slowest request or an operation")
  end
  if target.operation then
    local args = { service = trend.args.service, operation = target.operation, range = trend.payload.range }
    return show_instead(trend, args, true)
  end
  if not target.stored then
    return notify.info(
      ("The slowest request there (trace %s) is no longer stored: traces are kept a day, trends for months"):format(
        target.trace_id
      )
    )
  end
  require("vitals").open_trace(target.trace_id, { span_id = target.span_id })
end

---Shows a trend the host has drawn (the answer to `trends`).
---@param payload table
---@param args vitals.TrendArgs
---@return vitals.TrendFloat
function M.show(payload, args)
  local buf, win = float.open(payload, { footer = FOOTER, filetype = "vitals-trends" })
  ---@type vitals.TrendFloat
  local trend = { buf = buf, win = win, payload = payload, args = args, back = {} }
  local function close()
    float.close(win)
  end
  float.map(buf, {
    q = { close, "close" },
    ["<Esc>"] = { close, "close" },
    ["<CR>"] = {
      function()
        enter(trend)
      end,
      "on a chart: open the slowest request of that bucket (while its trace is stored); on an operation: its trend",
    },
    ["<BS>"] = {
      function()
        local previous = table.remove(trend.back)
        if previous then
          show_instead(trend, previous, false)
        end
      end,
      "back to what the float showed before",
    },
    r = {
      function()
        vim.ui.select(M.RANGES, { prompt = "Trend over the last" }, function(range)
          if range then
            show_instead(trend, vim.tbl_extend("force", trend.args, { range = range }), true)
          end
        end)
      end,
      "show another range (24h, 7d, 30d, 90d)",
    },
  })
  M.current = trend
  return trend
end

---Opens the trend of a service (picked from the list when not given), or of one of its
---operations (see |:VitalsTrends|).
---@param args? vitals.TrendArgs
function M.open(args)
  args = args or {}
  local function draw(service)
    args.service = service
    client.fetch("trends", params(args), ("drawing the trend of %s…"):format(service), function(payload)
      M.show(payload, args)
    end)
  end
  if args.service and args.service ~= "" then
    -- Trends outlive traces: the store, not the backend's list of services, knows
    -- whether there is one (and names those it has when not).
    return draw(args.service)
  end
  client.call("trend_services", {}, function(err, services)
    if err then
      return notify.error(err)
    end
    if #(services or {}) == 0 then
      return notify.info("The trace store has no trends yet: they count the requests it receives")
    end
    require("vitals.ui.picker").select(services, { prompt = "Trends of which service?", kind = "vitals_service" }, function(choice)
      if choice then
        draw(choice)
      end
    end)
  end)
end

---Completion of `:VitalsTrends`: services, then that service's operations (quoted when
---they hold spaces) and ranges, then ranges.
---@param words string[] the words before the one being completed
---@param lead string
---@return string[]
function M.complete(words, lead)
  if #words == 0 then
    return cmdline.starting_with(search.completion_list("trend_services", {}), lead)
  end
  if #words == 1 then
    local operations = vim.tbl_map(search.typed, search.completion_list("trend_operations", { service = words[1] }))
    return cmdline.starting_with(vim.list_extend(operations, M.RANGES), lead)
  end
  return cmdline.starting_with(M.RANGES, lead)
end

return M
