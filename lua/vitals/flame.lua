---@mod vitals.flame :VitalsFlame, the aggregated flame graph of a service's recent traces

local config = require("vitals.config")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

---@class vitals.FlameItem
---@field line integer 0-based line
---@field start integer 0-based byte column where the bar (or list entry) starts
---@field end integer byte column where it ends
---@field trace_id string the trace of the longest span on this call path
---@field span_id string that span

local FOOTER = {
  self_time = "q close · <CR> open the longest span of this path",
  allocated = "q close · <CR> open the span of this path that allocated most",
}

---The item under a 1-based line and 0-based byte column: the bar there, or the nearest
---one to its left on that line.
---@param items vitals.FlameItem[]
---@param line integer
---@param col integer
---@return vitals.FlameItem?
function M.item_at(items, line, col)
  local best
  for _, item in ipairs(items) do
    if item.line + 1 == line and item.start <= col then
      if col < item["end"] then
        return item
      end
      if not best or item.start > best.start then
        best = item
      end
    end
  end
  return best
end

---Shows an aggregated flame graph the host has drawn (the answer to `flame`).
---@param payload table the host's FlamePayload
---@param weight? "self_time"|"allocated" what it was weighted by (default: self time)
---@return integer buf
function M.show(payload, weight)
  local footer = FOOTER[weight or "self_time"] or FOOTER.self_time
  return float.open_list(payload, { footer = footer, filetype = "vitals-flame" }, {
    function(line, col)
      local item = M.item_at(payload.items or {}, line, col)
      if not item then
        return notify.info("No call path under the cursor")
      end
      require("vitals.ui.trace_view").open(item.trace_id, { span_id = item.span_id, view = "waterfall" })
    end,
    "open the longest span of this call path",
  })
end

---What the words of |:VitalsFlame| ask for: `[service] [memory]`. A last word `memory`
---asks for the memory profile (so `:VitalsFlame memory` prompts for the service).
---@param words string[]
---@return string? service
---@return "self_time"|"allocated" weight
function M.parse(words)
  if words[#words] == "memory" then
    return words[#words - 1], "allocated"
  end
  return words[1], "self_time"
end

---Draws the aggregated flame graph of a service's recent traces (see |:VitalsFlame|): by
---self time, or with `weight = "allocated"` by the bytes the spans allocated.
---@param service? string prompted for when missing
---@param weight? "self_time"|"allocated"
function M.open(service, weight)
  local options = config.options.analyze
  weight = weight or "self_time"
  local prompt = weight == "allocated" and "Memory profile of which service?" or "Flame graph of which service?"
  require("vitals.search").fetch_for_service(service, prompt, "flame", {
    lookback = options.lookback,
    limit = options.limit,
    width = float.content_width(),
    weight = weight,
  }, weight == "allocated" and "profiling the memory of %s…" or "aggregating %s…", function(payload)
    M.show(payload, weight)
  end)
end

return M
