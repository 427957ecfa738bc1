---@mod vitals.service_map :VitalsServiceMap, the service dependency map float

local client = require("vitals.client")
local config = require("vitals.config")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

local FOOTER = "q close · <CR> details · r root here · u callers · m migration · t whole map"
local DETAILS_FOOTER = "q back · <CR> details · r root here · u callers · m migration · t whole map"

---@class vitals.MapFloat
---@field map_id integer
---@field buf integer
---@field win integer
---@field services {[1]: integer, [2]: integer, [3]: integer, [4]: string}[] line, start, end, service
---@field view "tree"|"callers"|"migration"|"details" what the float shows
---@field cursor_before_details? integer[] where the cursor was when details opened, to go back to
---@field timer? userdata live refresh (otlp)
---@field refreshing? boolean a live refresh is on its way

---The service named under a 1-based line and 0-based byte column: the one there, or the
---first on that line.
---@param services {[1]: integer, [2]: integer, [3]: integer, [4]: string}[]
---@param line integer
---@param col integer
---@return string?
function M.service_at(services, line, col)
  local first
  for _, s in ipairs(services) do
    if s[1] + 1 == line then
      if s[2] <= col and col < s[3] then
        return s[4]
      end
      first = first or s[4]
    end
  end
  return first
end

local function params(service, map_id)
  local o = config.options
  return {
    service = service or "",
    lookback = o.analyze.lookback,
    limit = o.analyze.limit,
    map_id = map_id or 0,
    service_map = o.service_map,
    width = float.content_width(),
  }
end

---@param map vitals.MapFloat
---@param payload table the host's MapPayload
local function repaint(map, payload)
  if not vim.api.nvim_buf_is_valid(map.buf) then
    return
  end
  map.services = payload.services
  map.view = payload.view
  float.paint(map.buf, payload)
  float.relayout(map.win, payload, map.view == "details" and DETAILS_FOOTER or FOOTER)
end

---@param map vitals.MapFloat
---@param action string
---@param needs_service boolean
local function act(map, action, needs_service)
  local cursor = vim.api.nvim_win_get_cursor(map.win)
  local service = M.service_at(map.services, cursor[1], cursor[2])
  if needs_service and not service then
    return notify.info("No service under the cursor")
  end
  local leaving = map.view == "details" and action == "back"
  if action == "details" and map.view ~= "details" then
    map.cursor_before_details = cursor
  end
  client.call("map_action", { map_id = map.map_id, action = action, service = service or "" }, function(err, payload)
    if err then
      return notify.error(err)
    end
    repaint(map, payload)
    local at = leaving and map.cursor_before_details or { 1, 0 }
    pcall(vim.api.nvim_win_set_cursor, map.win, at)
  end)
end

---Shows a map the host has drawn (the answer to `service_map`).
---@param payload table
---@return vitals.MapFloat
function M.show(payload)
  local buf, win = float.open(payload, { footer = FOOTER, filetype = "vitals-map" })
  ---@type vitals.MapFloat
  local map = { map_id = payload.map_id, buf = buf, win = win, services = payload.services, view = payload.view }
  M.current = map
  -- From a service's details back to the map (as span details go back to the trace).
  local function back_or_close()
    if map.view == "details" then
      act(map, "back", false)
    else
      float.close(win)
    end
  end
  float.map(buf, {
    q = { back_or_close, "back from details, else close" },
    ["<Esc>"] = { back_or_close, "back from details, else close" },
    ["<CR>"] = { function() act(map, "details", true) end, "details of the service under the cursor" },
    r = { function() act(map, "root", true) end, "root the tree at the service under the cursor" },
    u = { function() act(map, "callers", true) end, "who calls the service under the cursor" },
    m = { function() act(map, "migration", false) end, "a migration order, leaves first" },
    t = { function() act(map, "tree", false) end, "the whole map again" },
  })
  if config.options.trace_provider == "otlp" then
    -- Live: rebuild from the store while the float is open, keeping what it shows.
    map.timer = vim.uv.new_timer()
    -- A rebuild over a large store may take longer than the period: never two at once.
    map.timer:start(config.options.service_map.refresh_ms, config.options.service_map.refresh_ms, vim.schedule_wrap(function()
      if map.refreshing then
        return
      end
      map.refreshing = true
      client.call("service_map", params(nil, map.map_id), function(err, fresh)
        map.refreshing = false
        if not err and fresh then
          repaint(map, fresh)
        end
      end)
    end))
  end
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = buf,
    once = true,
    callback = function()
      if map.timer then
        map.timer:stop()
        map.timer:close()
      end
      client.call("close_map", { map_id = map.map_id }, function() end)
    end,
  })
  return map
end

---Opens the service map, rooted at `service` when given (see |:VitalsServiceMap|).
---@param service? string
function M.open(service)
  client.fetch("service_map", params(service), "building the service map…", M.show)
end

return M
