-- Vitals: distributed tracing and performance profiling inside Neovim.
-- Commands are defined here; everything else loads on first use.
if vim.g.loaded_vitals == 1 then
  return
end
vim.g.loaded_vitals = 1

if vim.fn.has("nvim-0.10") == 0 then
  vim.notify("Vitals needs Neovim 0.10 or newer", vim.log.levels.ERROR)
  return
end

require("vitals.highlights").setup()

local command = vim.api.nvim_create_user_command

---The arguments of a command, quotes keeping words together (see vitals.cmdline).
local function args_of(opts)
  return (require("vitals.cmdline").split(opts.args))
end

---Which argument the cursor completes on `line`.
local function position(line, cursor)
  return require("vitals.cmdline").position(line, cursor)
end

---The words typed after the command's name, up to the cursor.
---@param line string
---@param cursor integer
---@return string[]
local function typed_words(line, cursor)
  return require("vitals.cmdline").split((line:sub(1, cursor):gsub("^[%s:]*%S+", "", 1)))
end

---The words before the one being completed.
---@param line string
---@param cursor integer
---@return string[]
local function words_before(line, cursor)
  return vim.list_slice(typed_words(line, cursor), 1, position(line, cursor) - 1)
end

---Completes a service, then its filters (`key=value` attributes, named filters and
---operations), as :VitalsSearch and :VitalsTail take them.
local function complete_search(lead, line, cursor)
  local search = require("vitals.search")
  if position(line, cursor) == 1 then
    return search.complete_service(lead)
  end
  -- After the service: its attributes as key=value filters, and its operations.
  local service = typed_words(line, cursor)[1]
  return search.complete_filter(service or "", lead)
end

command("VitalsSearch", function(opts)
  local search = require("vitals.search")
  search.search(search.parse(args_of(opts)))
end, {
  nargs = "*",
  desc = "Search traces: [service] [operation] [min-duration] [limit] [lookback]",
  complete = complete_search,
})

command("VitalsTail", function(opts)
  require("vitals").tail(args_of(opts))
end, {
  nargs = "*",
  desc = "Traces as they arrive, newest on top: [service] [operation] [min-duration] [key=value ...]",
  complete = complete_search,
})

command("VitalsTrace", function(opts)
  local args = args_of(opts)
  require("vitals").open_trace(args[1], { view = args[2] })
end, {
  nargs = "+",
  desc = "Open a trace by id: {trace-id} [flame|waterfall|network|stats]",
  complete = function(lead, line, cursor)
    local cmdline = require("vitals.cmdline")
    if position(line, cursor) == 1 then
      return cmdline.starting_with(require("vitals.search").recent_trace_ids(), lead)
    end
    if position(line, cursor) == 2 then
      return cmdline.starting_with(require("vitals").views, lead)
    end
    return {}
  end,
})

command("VitalsTransaction", function(opts)
  require("vitals").transaction(args_of(opts)[1])
end, {
  nargs = "?",
  desc = "A trace and every trace linked to it (queues) in one waterfall: [trace-id]",
  complete = function(lead)
    return require("vitals.cmdline").starting_with(require("vitals.search").recent_trace_ids(), lead)
  end,
})

command("VitalsExport", function(opts)
  require("vitals.share").export(args_of(opts), opts.bang)
end, {
  nargs = "*",
  bang = true,
  desc = "Write a trace to a file to share (OTLP JSON): [trace-id] [path]",
  complete = function(lead, line, cursor)
    if position(line, cursor) == 1 then
      return require("vitals.cmdline").starting_with(require("vitals.search").recent_trace_ids(), lead)
    end
    return vim.fn.getcompletion(lead, "file")
  end,
})

command("VitalsOpen", function(opts)
  require("vitals.share").open(opts.args)
end, {
  nargs = 1,
  complete = "file",
  desc = "Open a file of traces (any format Vitals reads) in the trace float; its traces annotate the code",
})

---A command taking an optional service name (completed from the backend's list) that
---calls `require("vitals")[fn](service)`.
local function service_command(name, fn, desc)
  command(name, function(opts)
    require("vitals")[fn](args_of(opts)[1])
  end, {
    nargs = "?",
    desc = desc,
    complete = function(lead)
      return require("vitals.search").complete_service(lead)
    end,
  })
end

service_command("VitalsAnalyze", "analyze", "Analyze a service's recent traces: N+1, slow queries, errors, hot functions")
command("VitalsFlame", function(opts)
  require("vitals").flame(require("vitals.flame").parse(args_of(opts)))
end, {
  nargs = "*",
  desc = "Aggregated flame graph of a service's recent traces (call paths by self time): [service] [memory]",
  complete = function(lead, line, cursor)
    if position(line, cursor) == 1 then
      local services = require("vitals.search").complete_service(lead)
      return vim.list_extend(require("vitals.cmdline").starting_with({ "memory" }, lead), services)
    end
    return position(line, cursor) == 2 and require("vitals.cmdline").starting_with({ "memory" }, lead) or {}
  end,
})
service_command("VitalsServiceMap", "service_map", "The service dependency map, rooted at [service]")

command("VitalsRegressions", function(opts)
  local args, err = require("vitals.analyze").parse_regression_args(args_of(opts))
  if not args then
    return require("vitals.notify").error(err)
  end
  require("vitals").regressions(args)
end, {
  nargs = "*",
  desc = "Compare a service's newest version with the one before (or its latest traffic): P50/P95/P99, errors",
  complete = function(lead, line, cursor)
    local search = require("vitals.search")
    if position(line, cursor) == 1 then
      return search.complete_service(lead)
    end
    local words = typed_words(line, cursor)
    local flag = words[#words - (lead == "" and 0 or 1)]
    if flag == "--version" then
      return search.complete_versions(words[1] or "", lead)
    elseif flag == "--baseline" then
      return require("vitals.baseline").complete_names(words[1] or "", lead)
    end
    return require("vitals.cmdline").starting_with({ "--version", "--at", "--baseline", "--current", "30m", "1h", "6h", "24h" }, lead)
  end,
})

command("VitalsTrends", function(opts)
  local trends = require("vitals.trends")
  trends.open(trends.parse(args_of(opts)))
end, {
  nargs = "*",
  desc = "How a service's requests moved over days and weeks: [service] [operation] [range, default 7d]",
  complete = function(lead, line, cursor)
    return require("vitals.trends").complete(words_before(line, cursor), lead)
  end,
})

command("VitalsAlerts", function()
  require("vitals").alerts()
end, {
  desc = "The alert rules with their state and history; <CR> opens a trace",
})

command("VitalsLogs", function(opts)
  require("vitals.logs").open(args_of(opts))
end, {
  nargs = "*",
  desc = "Stored logs, newest first: [service] [severity=warn] [since=1h] [limit=N] [words]; <CR> opens a log's trace",
  complete = function(lead, line, cursor)
    if position(line, cursor) == 1 then
      return vim.list_extend(lead == "" and { "*" } or {}, require("vitals.search").complete_service(lead))
    end
    return vim.tbl_filter(function(filter)
      return vim.startswith(filter, lead)
    end, { "severity=", "since=", "limit=" })
  end,
})

command("VitalsBaseline", function(opts)
  require("vitals.baseline").run(args_of(opts))
end, {
  nargs = "+",
  desc = "Save a service's current numbers under a name, list or delete them: save [service] [name] | list | delete",
  complete = function(lead, line, cursor)
    return require("vitals.baseline").complete(words_before(line, cursor), lead)
  end,
})

command("VitalsCompare", function(opts)
  local args = args_of(opts)
  require("vitals").compare(args[1], args[2])
end, {
  nargs = "+",
  desc = "Compare two traces: {trace-a} {trace-b}",
  complete = function(lead, line, cursor)
    if position(line, cursor) > 2 then
      return {}
    end
    return require("vitals.cmdline").starting_with(require("vitals.search").recent_trace_ids(), lead)
  end,
})

command("VitalsConfigure", function()
  require("vitals").configure()
end, { desc = "Choose the trace backend and test the connection" })

command("VitalsStatus", function()
  require("vitals").status()
end, { desc = "Show the trace provider, receiver and store" })

-- With the default otlp provider, receive from the start, without delaying startup.
vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    vim.defer_fn(function()
      require("vitals").autostart()
    end, 100)
  end,
})

command("VitalsLog", function()
  local log = require("vitals.client").request("log_file")
  if log then
    vim.cmd.split(vim.fn.fnameescape(log))
  end
end, { desc = "Open the vitals host's log file" })

command("VitalsTraceHere", function()
  require("vitals.annotate").trace_here()
end, { desc = "Traces through the code on this line, slowest first" })

command("VitalsHot", function()
  require("vitals.annotate").hot()
end, { desc = "The hottest lines of the project in the quickfix list" })

command("VitalsClear", function()
  require("vitals.annotate").clear()
end, { desc = "Remove Vitals annotations and highlights from every buffer" })

command("VitalsAnnotate", function(opts)
  require("vitals.annotate").refresh(args_of(opts))
end, {
  nargs = "*",
  desc = "Annotate open buffers from recent traces: [service …] (default: every service)",
  complete = function(lead)
    return require("vitals.search").complete_service(lead)
  end,
})

-- Buffers opened after annotations arrived get theirs; nothing loads until then.
vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
  group = vim.api.nvim_create_augroup("vitals_annotate", { clear = true }),
  callback = function(args)
    local annotate = package.loaded["vitals.annotate"]
    if annotate and #annotate.current > 0 then
      annotate.apply_buffer(args.buf)
    end
  end,
})

vim.keymap.set("n", "<Plug>(vitals-trace-at-cursor)", function()
  require("vitals.annotate").trace_here()
end, { desc = "Vitals: traces through this line" })
vim.keymap.set("n", "<Plug>(vitals-search)", function()
  require("vitals").search()
end, { desc = "Vitals: search traces" })
vim.keymap.set("n", "<Plug>(vitals-configure)", function()
  require("vitals").configure()
end, { desc = "Vitals: choose the trace backend" })
