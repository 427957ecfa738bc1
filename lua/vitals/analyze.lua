---@mod vitals.analyze Report floats: :VitalsAnalyze, :VitalsCompare, :VitalsRegressions

local client = require("vitals.client")
local config = require("vitals.config")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

---@class vitals.ReportItem
---@field line integer 0-based line of the report
---@field trace_id? string
---@field span_id? string
---@field span_ids string[]
---@field code? {filepath?: string, lineno?: integer, function?: string}
---@field traces? vitals.TraceRef[] every trace of a finding seen in several, worst first

local FOOTER = "q close · <CR> open the code or the trace · t all traces"

---Opens what a report line stands for: the code when it exists here, else the trace
---with the span under the cursor.
---@param item vitals.ReportItem
local function open_item(item)
  local code = item.code
  local file = code and code.filepath and require("vitals.paths").local_file(code.filepath)
  if file then
    float.close(vim.api.nvim_get_current_win())
    vim.cmd.edit(vim.fn.fnameescape(file))
    if code.lineno then
      pcall(vim.api.nvim_win_set_cursor, 0, { code.lineno, 0 })
    end
    return
  end
  if item.trace_id then
    -- The waterfall gives every span a row, however short it is.
    require("vitals.ui.trace_view").open(item.trace_id, { span_id = item.span_id, view = "waterfall", marks = item.span_ids })
    return
  end
  notify.info("Nothing to open on this line")
end

---Shows a report the host has drawn (the answer to `analyze`, `compare` or
---`regressions`); an analysis's annotations go on the open buffers.
---@param payload table the host's AnalyzePayload
---@return integer buf
function M.show(payload)
  if payload.annotations then
    require("vitals.annotate").apply(payload.annotations)
  end
  ---@type table<integer, vitals.ReportItem>
  local by_line = {}
  for _, item in ipairs(payload.items or {}) do
    by_line[item.line + 1] = item
  end
  local buf = float.open_list(payload, { footer = FOOTER, filetype = "vitals-report" }, {
    function(line)
      if by_line[line] then
        open_item(by_line[line])
      else
        notify.info("Nothing to open on this line")
      end
    end,
    "open the code or the trace",
  })
  float.map(buf, {
    t = {
      function()
        local item = by_line[vim.api.nvim_win_get_cursor(0)[1]]
        if item and item.traces and #item.traces > 0 then
          require("vitals.trace_list").pick(item.traces, "Traces of this finding")
        elseif item and item.trace_id then
          open_item({ trace_id = item.trace_id, span_id = item.span_id, span_ids = item.span_ids })
        else
          notify.info("No traces on this line")
        end
      end,
      "list every trace of the finding",
    },
  })
  return buf
end

---Analyzes a service's recent traces and opens the report (see |:VitalsAnalyze|).
---@param service? string prompted for when missing
function M.analyze(service)
  local options = config.options.analyze
  require("vitals.search").fetch_for_service(service, "Analyze which service?", "analyze", {
    lookback = options.lookback,
    limit = options.limit,
    slow_query_ms = options.slow_query_ms,
    width = float.content_width(),
  }, "analyzing %s…", M.show)
end

---@class vitals.RegressionArgs
---@field service? string
---@field window? string how long each window is (`30m`): compares the latest traffic even when the service has versions
---@field at? string a moment to compare before and after (`2026-11-24T13:00:00Z`, `20m` ago)
---@field version? string two versions, `A..B` (baseline, then current)
---@field baseline? string a saved baseline's name, or `FROM..TO` (with `current`)
---@field current? string `FROM..TO`

local USAGE = "usage: :VitalsRegressions [service] [window | --at TIME | --version A..B]"

---Reads `:VitalsRegressions [service] [window | --at TIME | --version A..B | --baseline NAME]` (or `--baseline
---FROM..TO --current FROM..TO`) by the rules of the host's `RegressionArgs::from_words`.
---@param fargs string[]
---@return vitals.RegressionArgs? args
---@return string? error
function M.parse_regression_args(fargs)
  local args, i = {}, 1
  local flags = { at = true, version = true, baseline = true, current = true }
  while i <= #fargs do
    local word = fargs[i]
    local flag = word:match("^%-%-(%a+)$")
    if flag then
      if not flags[flag] then
        return nil, ("unknown option %s; %s"):format(word, USAGE)
      end
      if not fargs[i + 1] then
        return nil, ("%s needs a value, e.g. --at 20m or --version 1.4.0..1.5.0"):format(word)
      end
      args[flag] = fargs[i + 1]
      i = i + 2
    else
      local duration = word:match("^%d+%.?%d*%a+$") ~= nil
      if not args.service and not args.window and not duration then
        args.service = word
      elseif not args.window then
        args.window = word
      else
        return nil, ("unexpected %q; %s"):format(word, USAGE)
      end
      i = i + 1
    end
  end
  return args
end

---Compares the service's requests (see |:VitalsRegressions|): by default its newest version
---against the one before it, or without versions its latest traffic against the traffic
---before it.
---@param args? vitals.RegressionArgs
function M.regressions(args)
  args = args or {}
  local options = config.options.regressions
  local progress = "comparing %s's newest requests…"
  if args.at then
    progress = "comparing %s before and after " .. args.at .. "…"
  elseif args.version then
    progress = "comparing %s's versions " .. args.version:gsub("%%", "%%%%") .. "…"
  end
  require("vitals.search").fetch_for_service(args.service, "Regressions of which service?", "regressions", {
    window = args.window,
    at = args.at,
    version = args.version,
    baseline = args.baseline,
    current = args.current,
    default_window = options.window,
    limit = options.limit,
    min_samples = options.min_samples,
    width = float.content_width(),
  }, progress, M.show)
end

---Compares two traces and opens the comparison (see |:VitalsCompare|).
---@param a? string the first trace id (before)
---@param b? string the second trace id (after)
function M.compare(a, b)
  if not a or a == "" or not b or b == "" then
    return notify.error("Which traces? e.g. :VitalsCompare {trace-a} {trace-b}")
  end
  client.fetch("compare", { a = a, b = b, width = float.content_width() }, ("comparing %s and %s…"):format(a, b), M.show)
end

return M
