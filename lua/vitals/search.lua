---@mod vitals.search :VitalsSearch — find traces and open one

local client = require("vitals.client")
local config = require("vitals.config")
local notify = require("vitals.notify")
local picker = require("vitals.ui.picker")
local text = require("vitals.text")
local trace_view = require("vitals.ui.trace_view")

local M = {}

local ALL_OPERATIONS = "all operations"
local SLOW_TRACES = "slow traces (>1s)"

---Services from the last answer of the backend, for command-line completion.
---@type string[]?
M.known_services = nil

---The results of the last search, for completing trace ids.
---@type {trace_id: string, label: string}[]
M.last_results = {}

---The trace ids of the last search's results, in their order.
---@return string[]
function M.recent_trace_ids()
  return vim.tbl_map(function(item)
    return item.trace_id
  end, M.last_results)
end

---@class vitals.SearchArgs
---@field service? string
---@field operation? string
---@field min_duration? string e.g. "250ms", "1s"
---@field max_duration? string
---@field limit? integer
---@field lookback? string e.g. "1h", "30m"
---@field tags string[] attribute filters, `key=value`
---@field traceql? string a TraceQL query (Tempo), `{ … }`, sent as typed

---Filters with a meaning of their own rather than an attribute to match.
local NAMED = {
  service = "service",
  operation = "operation",
  name = "operation",
  minDuration = "min_duration",
  min_duration = "min_duration",
  ["min-duration"] = "min_duration",
  maxDuration = "max_duration",
  max_duration = "max_duration",
  ["max-duration"] = "max_duration",
  limit = "limit",
  lookback = "lookback",
}

---Whether a word reads as a duration (`250ms`, `1.5s`, `6h`, `1h30m`).
---@param word string
---@return boolean
local function is_duration(word)
  return word:match("^%d+%.?%d*%a+$") ~= nil or word:match("^%d+%a+%d+%a+$") ~= nil
end

---Reads `:VitalsSearch [service] [operation] [min-duration] [limit] [lookback]
---[key=value …]`. A word holding `=` is a filter wherever it stands: an attribute to
---match (`http.route=/cart`, `error=true` or `status=error`), or one of
---`minDuration`, `maxDuration`, `limit`, `lookback`, `operation`, `service`. Other words
---are read by their shape: the first is the service (beside a TraceQL query in braces,
---which says what it looks for, only when it is not a number or duration), a duration
---is the minimum duration
---(a second one the lookback), a number the limit, and another word the operation; `*`
---leaves the operation open.
---@param fargs string[]
---@return vitals.SearchArgs
function M.parse(fargs)
  local args = { tags = {} }
  local words = {}
  for _, word in ipairs(fargs) do
    local key, value = word:match("^([^=]+)=(.*)$")
    if word:sub(1, 1) == "{" then
      args.traceql = word
    elseif key and NAMED[key] then
      args[NAMED[key]] = NAMED[key] == "limit" and tonumber(value) or value
    elseif key then
      table.insert(args.tags, key .. "=" .. value)
    elseif word ~= "" then
      table.insert(words, word)
    end
  end
  for i, word in ipairs(words) do
    local shaped = is_duration(word) or word:match("^%d+$") ~= nil
    if i == 1 and not args.service and not (args.traceql and shaped) then
      args.service = word ~= "*" and word or nil
    elseif word == "*" then
      -- Leaves the operation open, as before the durations.
    elseif is_duration(word) then
      -- As the positions go: the minimum duration, then the limit, then the lookback.
      if not args.min_duration and not args.limit then
        args.min_duration = word
      else
        args.lookback = args.lookback or word
      end
    elseif word:match("^%d+$") then
      args.limit = args.limit or tonumber(word)
    else
      args.operation = args.operation or word
    end
  end
  return args
end

local function run(args)
  -- What the search is of, for the user: the service, or the TraceQL query.
  local what = args.traceql or args.service
  client.fetch("search", {
    service = args.service,
    operation = args.operation,
    min_duration = args.min_duration,
    max_duration = args.max_duration,
    tags = args.tags or {},
    traceql = args.traceql,
    limit = args.limit or config.options.search.limit,
    lookback = args.lookback or config.options.search.lookback,
    width = require("vitals.ui.picker").label_width(),
  }, ("searching %s…"):format(what), function(items)
    if not items or #items == 0 then
      return notify.info(("No traces of %s found in the last %s"):format(what, args.lookback or config.options.search.lookback))
    end
    M.last_results = items
    picker.select(items, {
      prompt = "Traces of " .. what,
      kind = "vitals_trace",
      format_item = function(item)
        return item.label
      end,
    }, function(choice)
      if choice then
        trace_view.open(choice.trace_id)
      end
    end)
  end)
end

local function pick_operation(args)
  client.fetch("operations", { service = args.service }, ("loading operations of %s…"):format(args.service), function(operations)
    local choices = { ALL_OPERATIONS, SLOW_TRACES }
    vim.list_extend(choices, operations or {})
    picker.select(choices, { prompt = "Operation of " .. args.service, kind = "vitals_operation" }, function(choice)
      if not choice then
        return
      end
      if choice == SLOW_TRACES then
        args.min_duration = args.min_duration or "1s"
      elseif choice ~= ALL_OPERATIONS then
        args.operation = choice
      end
      run(args)
    end)
  end)
end

---Fetches the services and remembers them for completion.
---@param callback fun(err?: string, services?: string[])
function M.services(callback)
  client.call("services", {}, function(err, services)
    if not err then
      M.known_services = services or {}
    end
    callback(err, services)
  end)
end

---"Did you mean" for a service the backend does not know: the known names closest to
---it, or a few known names when none is close.
---@param service string
---@param known string[]
---@return string
function M.unknown_service(service, known)
  if #known == 0 then
    return ("Unknown service %q: the backend knows no services yet"):format(service)
  end
  local close = text.closest(service, known, 3)
  if #close > 0 then
    return ("Unknown service %q. Did you mean %s?"):format(service, text.either(close))
  end
  local shown = vim.list_slice(known, 1, 8)
  local more = #known > #shown and (", … (%d services)"):format(#known) or ""
  return ("Unknown service %q. The backend knows %s%s"):format(service, table.concat(shown, ", "), more)
end

---Hands `on_service` a service the backend knows: `service` when the backend knows it
---(else the user is told it is unknown, with the closest names), or, when `service` is
---nil, the one the user picks from the backend's list.
---@param service? string
---@param prompt string what the picker asks, e.g. "Analyze which service?"
---@param on_service fun(service: string)
function M.with_service(service, prompt, on_service)
  service = service ~= "" and service or nil
  if service and vim.tbl_contains(M.known_services or {}, service) then
    return on_service(service)
  end
  local done = notify.progress("loading services…")
  M.services(function(err, services)
    done()
    if err then
      return notify.error(err)
    end
    services = services or {}
    if service then
      if vim.tbl_contains(services, service) then
        return on_service(service)
      end
      return notify.error(M.unknown_service(service, services))
    end
    if #services == 0 then
      return notify.info("The backend knows no services yet")
    end
    picker.select(services, { prompt = prompt, kind = "vitals_service" }, function(choice)
      if choice then
        on_service(choice)
      end
    end)
  end)
end

---Calls the host's `method` about a service, the one given or one the user picks from
---the backend's list, with progress shown, and hands the answer to `on_result`.
---@param service? string
---@param prompt string e.g. "Analyze which service?"
---@param method string the host call
---@param params table its parameters; `service` is added
---@param progress string shown meanwhile; `%s` becomes the service
---@param on_result fun(result: any)
function M.fetch_for_service(service, prompt, method, params, progress, on_result)
  M.with_service(service, prompt, function(chosen)
    client.fetch(method, vim.tbl_extend("force", params, { service = chosen }), progress:format(chosen), on_result)
  end)
end

---Searches, prompting for the service and operation when they are not given.
---@param args vitals.SearchArgs
function M.search(args)
  if args.traceql then
    -- The query says what it looks for; a service, if given, only names the search.
    args.service = args.service or ""
    return run(args)
  end
  M.with_service(args.service, "Service", function(service)
    args.service = service
    if args.operation or args.min_duration or args.max_duration or #(args.tags or {}) > 0 then
      return run(args)
    end
    pick_operation(args)
  end)
end

---Starts `fetch` and waits for it to call back, at most half a second: completion answers
---while the user types, with what it has by then.
---@param fetch fun(done: fun())
function M.wait_briefly(fetch)
  local finished = false
  fetch(function()
    finished = true
  end)
  vim.wait(500, function()
    return finished
  end, 20)
end

---Command-line completion of service names. The list is fetched once in the background;
---completion waits for it at most half a second, then offers what it has.
---@param lead string
---@return string[]
function M.complete_service(lead)
  if M.known_services == nil then
    M.wait_briefly(M.services)
  end
  return require("vitals.cmdline").starting_with(M.known_services or {}, lead)
end

---Answers fetched for completion, by host call and argument: completion cannot wait
---for the network, so each is fetched once and waited for at most half a second.
local completions = {}

---@param method string "tag_keys", "tag_values", "operations", "versions", "trend_services", "trend_operations" or "baseline_names"
---@param params table
---@return string[]
function M.completion_list(method, params)
  local id = method .. "\0" .. (params.service or "") .. "\0" .. (params.key or "")
  if completions[id] == nil then
    M.wait_briefly(function(done)
      client.call(method, params, function(err, list)
        completions[id] = not err and list or {}
        done()
      end)
    end)
  end
  return completions[id] or {}
end

---Forgets the answers of `method` fetched for completion (what it lists has changed).
---@param method string
function M.forget_completions(method)
  for id in pairs(completions) do
    if vim.startswith(id, method .. "\0") then
      completions[id] = nil
    end
  end
end

---Command-line completion of `--version A..B` for a service: each version with the one
---before it, newest first (from the host's list of the service's versions).
---@param service string
---@param lead string
---@return string[]
function M.complete_versions(service, lead)
  local versions = M.completion_list("versions", { service = service })
  local choices = {}
  for i = #versions, 2, -1 do
    table.insert(choices, versions[i - 1] .. ".." .. versions[i])
  end
  return require("vitals.cmdline").starting_with(choices, lead)
end

---A value as typed on the command line: quoted when it holds spaces or quotes.
---@param value string
---@return string
function M.typed(value)
  if value:find("[%s\"']") then
    return '"' .. value:gsub("\\", "\\\\"):gsub('"', '\\"') .. '"'
  end
  return value
end

---Command-line completion of what follows the service in `:VitalsSearch`: `key=` names
---of the service's attributes (from the backend's tag API, or its recent traces) and,
---after `=`, their values; the named filters; and the service's operations.
---@param service string
---@param lead string
---@return string[]
function M.complete_filter(service, lead)
  local cmdline = require("vitals.cmdline")
  local key, value = lead:match("^([^=]+)=(.*)$")
  if key then
    local values = ({ error = { "true" }, status = { "error" } })[key]
    if not values and not NAMED[key] then
      values = M.completion_list("tag_values", { service = service, key = key })
    end
    local shown = vim.tbl_map(function(v)
      return key .. "=" .. M.typed(v)
    end, values or {})
    return cmdline.starting_with(shown, key .. "=" .. value:gsub('^"', ""))
  end
  local words = { "error=true", "status=error", "minDuration=", "maxDuration=", "limit=", "lookback=" }
  for _, name in ipairs(M.completion_list("tag_keys", { service = service })) do
    table.insert(words, name .. "=")
  end
  vim.list_extend(words, M.completion_list("operations", { service = service }))
  return cmdline.starting_with(words, lead)
end

---Forgets what completion fetched (after the backend changed).
function M.forget_completions()
  completions = {}
  M.known_services = nil
end

return M
