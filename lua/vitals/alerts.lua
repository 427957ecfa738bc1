---@mod vitals.alerts Alerts: notifications, the statusline and :VitalsAlerts
---
---The host evaluates the `alerts` rules on the store's rollups as traffic arrives and
---pushes each change here (`_update`): one |vim.notify()| per rule that fired or cleared,
---and the statusline's text, cached so that |vitals.statusline()| costs nothing.

local client = require("vitals.client")
local float = require("vitals.ui.float")

local M = {}

local FOOTER = "q close · <CR> open trace · ? keys"

---The statusline's text: the firing rules, "" when all is clear.
M.status_text = ""

---@class vitals.AlertEvent
---@field rule string
---@field status "firing"|"clear"
---@field measure "p50"|"p95"|"p99"|"error_rate"
---@field value number milliseconds, or a share (error_rate)
---@field threshold number
---@field trace_id? string the slowest request of the window
---@field message string

---The host's push: rules that fired or cleared, and the statusline now.
---@param push {events: vitals.AlertEvent[], statusline: string}
function M._update(push)
  M.status_text = push.statusline or ""
  for _, event in ipairs(push.events or {}) do
    local level = event.status == "firing" and vim.log.levels.WARN or vim.log.levels.INFO
    local open = event.status == "firing" and event.trace_id and " (:VitalsAlerts opens it)" or ""
    require("vitals.notify").unasked(event.message .. open, level)
  end
  vim.cmd("redrawstatus")
end

---@return string
function M.statusline()
  return M.status_text
end

---The trace listed on a 1-based line, if any.
---@param payload {traces: {line: integer, trace_id: string}[]}
---@param line integer
---@return string?
function M.trace_at(payload, line)
  for _, listed in ipairs(payload.traces or {}) do
    if listed.line + 1 == line then
      return listed.trace_id
    end
  end
  return nil
end

---Opens the rules with their state and history; `<CR>` on a line naming a trace opens it.
function M.open()
  client.call("alerts", { utc_offset_s = require("vitals.tail").utc_offset() }, function(err, payload)
    if err then
      return require("vitals.notify").error(err)
    end
    float.open_list(payload, { footer = FOOTER, filetype = "vitals-alerts" }, {
      function(line)
        local trace_id = M.trace_at(payload, line)
        if trace_id then
          require("vitals").open_trace(trace_id)
        end
      end,
      "open the trace",
    })
  end)
end

return M
