---@mod vitals.config Options and their defaults

local M = {}

---@class vitals.Auth
---@field token? string Bearer token sent to the backend
---@field token_file? string File holding the token (keeps it out of your config)
---@field token_env? string Environment variable holding the token (default VITALS_TRACE_TOKEN)
---@field username? string User for basic auth
---@field password? string Password for basic auth
---@field password_file? string File holding the password
---@field password_env? string Environment variable holding the password (default VITALS_TRACE_PASSWORD)

---@class vitals.Options
---@field trace_provider "jaeger"|"tempo"|"zipkin"|"file"|"otlp" Where traces come from
---@field trace_endpoint string Backend URL (jaeger, tempo, zipkin), path (file) or the address to receive OTLP/HTTP on (otlp; "" means receivers.otlp_http); "" means the provider's default
---@field tenant string The tenant of a multi-tenant Tempo, sent as X-Scope-OrgID; "" means none
---@field receivers vitals.Receivers Where the otlp provider's receivers listen
---@field store_path string The trace store file of the otlp provider; "" means the data directory
---@field receive_on_startup boolean With the otlp provider, start receiving when Neovim starts
---@field enable_code_lens_annotations boolean Show performance annotations in source buffers
---@field performance_threshold number Share of execution time (%) from which a line counts as hot
---@field enable_auto_tracing boolean Refresh annotations automatically as traces arrive
---@field auto_tracing vitals.AutoTracing How annotations refresh when enable_auto_tracing is on
---@field path_mappings table<string, string> Path prefixes in traces → local folders, e.g. { ["/app/"] = "~/src/shop/" }
---@field timeout_ms integer How long to wait for the backend
---@field max_response integer The most bytes read of one response or trace file (default 256 MiB)
---@field max_spans integer The most spans of one trace kept; a larger trace is cut, with a warning
---@field rollup_retention string How long the otlp provider's store keeps the rollups of :VitalsTrends (e.g. "90d"), after their traces are gone
---@field auth vitals.Auth Credentials for the backend
---@field binary? string Path to the vitals binary (default: found automatically)
---@field search vitals.SearchDefaults Defaults for :VitalsSearch
---@field analyze vitals.AnalyzeDefaults What :VitalsAnalyze looks at
---@field regressions vitals.RegressionDefaults What :VitalsRegressions compares
---@field service_map vitals.ServiceMapOptions Health thresholds and live refresh of :VitalsServiceMap
---@field tail vitals.TailOptions What :VitalsTail keeps, and how often it polls a remote backend
---@field alerts vitals.AlertRule[] Rules evaluated on the otlp provider's store as traffic arrives (see |vitals-alerts|)
---@field float vitals.FloatOptions Look of the trace float
---@field transaction vitals.TransactionOptions How far :VitalsTransaction follows span links

---@class vitals.AlertRule
---@field service string
---@field operation? string One operation; none means every entry operation of the service
---@field name? string What notifications and the statusline call it (default: service and operation)
---@field p50? string|number Latency thresholds ("500ms"; a number is milliseconds)
---@field p95? string|number
---@field p99? string|number
---@field error_rate? number Share of failed requests (0–1)
---@field window? string The trailing window (default "5m")

---@class vitals.Receivers
---@field otlp_http string|boolean OTLP/HTTP (POST /v1/traces): "host:port", or false for off (trace_endpoint, when set, wins)
---@field otlp_grpc string|boolean OTLP/gRPC (TraceService/Export, most SDKs' default): "host:port", or false for off
---@field zipkin string|boolean Zipkin v2 JSON (POST /api/v2/spans): "host:port", or false for off

---@class vitals.SearchDefaults
---@field limit integer
---@field lookback string

---@class vitals.AnalyzeDefaults
---@field lookback string How far back to take traces (e.g. "1h")
---@field limit integer How many of the most recent traces
---@field slow_query_ms integer Database calls at least this long are slow queries

---@class vitals.AutoTracing
---@field interval_ms integer How often to look for new traces
---@field services string[] Whose traces to annotate with; {} means every service

---@class vitals.RegressionDefaults
---@field window string Length of the baseline and the current window when the service has no two versions to compare (e.g. "1h")
---@field limit integer How many traces to fetch at most for each side
---@field min_samples integer Fewer requests than this in a window give no verdict

---@class vitals.ServiceMapOptions
---@field degraded_error_rate number Error rate (0-1) from which a service is degraded
---@field critical_error_rate number … and critical
---@field degraded_p95_ms integer P95 from which a service is degraded
---@field critical_p95_ms integer … and critical
---@field refresh_ms integer With the otlp provider, how often an open map is rebuilt

---@class vitals.TailOptions
---@field max_rows integer The most traces listed (the oldest go first)
---@field poll_ms integer How often a remote backend (or a store another editor receives into) is asked for new traces; the embedded receivers push theirs

---@class vitals.TransactionOptions
---@field depth integer Links followed from the first trace (a consumer of a consumer is 2)
---@field max_traces integer The most traces stitched into one transaction

---@class vitals.FloatOptions
---@field border string|table
---@field width number Fraction of the editor width (0-1)
---@field height number Fraction of the editor height (0-1)

---@type vitals.Options
M.defaults = {
  trace_provider = "otlp",
  trace_endpoint = "",
  tenant = "",
  receivers = { otlp_http = "127.0.0.1:4318", otlp_grpc = "127.0.0.1:4317", zipkin = false },
  store_path = "",
  receive_on_startup = true,
  enable_code_lens_annotations = true,
  performance_threshold = 5,
  enable_auto_tracing = false,
  auto_tracing = { interval_ms = 30000, services = {} },
  path_mappings = {},
  timeout_ms = 10000,
  max_response = 256 * 1024 * 1024,
  max_spans = 1000000,
  rollup_retention = "90d",
  auth = {},
  binary = nil,
  search = { limit = 20, lookback = "1h" },
  analyze = { lookback = "1h", limit = 50, slow_query_ms = 500 },
  regressions = { window = "1h", limit = 2000, min_samples = 20 },
  service_map = {
    degraded_error_rate = 0.01,
    critical_error_rate = 0.05,
    degraded_p95_ms = 500,
    critical_p95_ms = 2000,
    refresh_ms = 5000,
  },
  tail = { max_rows = 100, poll_ms = 2000 },
  alerts = {},
  float = { border = "rounded", width = 0.9, height = 0.8 },
  transaction = { depth = 3, max_traces = 20 },
}

---The providers, as `trace_provider` names them.
M.PROVIDERS = { "jaeger", "tempo", "zipkin", "file", "otlp" }

---The options :VitalsConfigure chooses, and remembers across restarts.
M.CHOSEN = { "trace_provider", "trace_endpoint", "store_path", "tenant" }

---Chosen fields a remembered choice may lack, having been saved before they existed.
local ADDED_LATER = { tenant = "" }

---The chosen fields of some options.
---@param options table
---@return table
local function chosen_part(options)
  local part = {}
  for _, field in ipairs(M.CHOSEN) do
    part[field] = options[field]
  end
  return part
end

---Where :VitalsConfigure remembers its choice: `stdpath("state")/vitals/provider.json`.
---@return string
function M.choice_file()
  return vim.fs.joinpath(vim.fn.stdpath("state"), "vitals", "provider.json")
end

---The remembered choice, when the file holds a well-formed one.
---@return {chosen: table, setup: table}?
local function read_choice()
  local file = io.open(M.choice_file(), "r")
  if not file then
    return nil
  end
  local content = file:read("*a")
  file:close()
  local ok, saved = pcall(vim.json.decode, content)
  if not ok or type(saved) ~= "table" or type(saved.chosen) ~= "table" or type(saved.setup) ~= "table" then
    return nil
  end
  for _, part in ipairs({ saved.chosen, saved.setup }) do
    for field, default in pairs(ADDED_LATER) do
      part[field] = part[field] == nil and default or part[field]
    end
  end
  for _, field in ipairs(M.CHOSEN) do
    if type(saved.chosen[field]) ~= "string" then
      return nil
    end
  end
  if not vim.tbl_contains(M.PROVIDERS, saved.chosen.trace_provider) then
    return nil
  end
  return saved
end

---What setup() asked for before a remembered choice was applied over it.
---@type table
M.requested = chosen_part(M.defaults)

---The file whose choice is in effect, or nil when the options are setup()'s own.
---@type string?
M.choice_in_effect = nil

---Remembers the provider options in effect now as the user's choice, together with what
---setup() asked for, so that the choice lasts until setup()'s provider options change.
---@return boolean saved
---@return string? error
function M.save_choice()
  local path = M.choice_file()
  vim.fn.mkdir(vim.fs.dirname(path), "p")
  local file, err = io.open(path, "w")
  if not file then
    return false, err
  end
  file:write(vim.json.encode({ chosen = chosen_part(M.options), setup = M.requested }))
  file:close()
  M.choice_in_effect = path
  return true
end

---Forgets the remembered choice: setup()'s provider options apply again.
function M.forget_choice()
  os.remove(M.choice_file())
  for _, field in ipairs(M.CHOSEN) do
    M.options[field] = M.requested[field]
  end
  M.choice_in_effect = nil
end

---Applies the choice :VitalsConfigure remembered over `merged`, unless setup()'s provider
---options changed since it was made: then they win (editing the config is the newer
---decision). The file is left alone, since setup() may be called with other options
---before the user's own call (a plugin manager loading the module first).
---@param merged vitals.Options
local function apply_choice(merged)
  M.requested = chosen_part(merged)
  M.choice_in_effect = nil
  local saved = read_choice()
  if not saved or not vim.deep_equal(saved.setup, M.requested) then
    return
  end
  for _, field in ipairs(M.CHOSEN) do
    merged[field] = saved.chosen[field]
  end
  M.choice_in_effect = M.choice_file()
end

---Each receiver's well-known address, which `true` stands for.
M.RECEIVER_PORTS = { otlp_http = 4318, otlp_grpc = 4317, zipkin = 9411 }

---Checks the receivers option and turns `true` into each receiver's default address.
---@param receivers table
local function check_receivers(receivers)
  for key, value in pairs(receivers) do
    if not M.RECEIVER_PORTS[key] then
      error(("receivers.%s: no such receiver; use otlp_http, otlp_grpc or zipkin"):format(tostring(key)), 0)
    end
    if value == true then
      receivers[key] = "127.0.0.1:" .. M.RECEIVER_PORTS[key]
    elseif value ~= false and type(value) ~= "string" then
      error(("receivers.%s: expected an address such as \"127.0.0.1:%d\", or false"):format(key, M.RECEIVER_PORTS[key]), 0)
    end
  end
end

---@param value any
---@return boolean
local function positive(value)
  return type(value) == "number" and value > 0
end

---Merges user options over the defaults, checks their types, and applies the provider
---remembered by :VitalsConfigure (see |vitals-configure-remembered|).
---@param opts? table
---@return vitals.Options
function M.set(opts)
  local merged = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  vim.validate({
    trace_provider = {
      merged.trace_provider,
      function(v)
        return vim.tbl_contains(M.PROVIDERS, v)
      end,
      '"jaeger", "tempo", "zipkin", "file" or "otlp"',
    },
    trace_endpoint = { merged.trace_endpoint, "string" },
    tenant = { merged.tenant, "string" },
    receivers = { merged.receivers, "table" },
    store_path = { merged.store_path, "string" },
    receive_on_startup = { merged.receive_on_startup, "boolean" },
    enable_code_lens_annotations = { merged.enable_code_lens_annotations, "boolean" },
    performance_threshold = { merged.performance_threshold, "number" },
    enable_auto_tracing = { merged.enable_auto_tracing, "boolean" },
    auto_tracing = { merged.auto_tracing, "table" },
    path_mappings = { merged.path_mappings, "table" },
    timeout_ms = { merged.timeout_ms, "number" },
    max_response = { merged.max_response, positive, "a number of bytes above 0" },
    max_spans = { merged.max_spans, positive, "a number of spans above 0" },
    rollup_retention = { merged.rollup_retention, "string" },
    auth = { merged.auth, "table" },
    analyze = { merged.analyze, "table" },
    regressions = { merged.regressions, "table" },
    service_map = { merged.service_map, "table" },
    tail = { merged.tail, "table" },
    transaction = { merged.transaction, "table" },
    alerts = { merged.alerts, vim.islist, "a list of rules" },
    binary = { merged.binary, "string", true },
  })
  vim.validate({
    ["tail.max_rows"] = { merged.tail.max_rows, positive, "a number of traces above 0" },
    ["tail.poll_ms"] = { merged.tail.poll_ms, positive, "a number of milliseconds above 0" },
    ["transaction.depth"] = { merged.transaction.depth, "number" },
    ["transaction.max_traces"] = { merged.transaction.max_traces, positive, "a number of traces above 0" },
  })
  check_receivers(merged.receivers)
  apply_choice(merged)
  M.options = merged
  return merged
end

---@type vitals.Options
M.options = M.set()

---The credentials as the host reads them: files with `~` expanded.
---@param auth vitals.Auth
---@return vitals.Auth
local function host_auth(auth)
  local expanded = vim.deepcopy(auth)
  for _, field in ipairs({ "token_file", "password_file" }) do
    if type(expanded[field]) == "string" then
      expanded[field] = vim.fs.normalize(expanded[field])
    end
  end
  return expanded
end

---The part of the options the host needs to reach the backend.
---@param options? vitals.Options
---@return table
function M.provider_settings(options)
  local o = options or M.options
  return {
    trace_provider = o.trace_provider,
    trace_endpoint = o.trace_endpoint,
    tenant = o.tenant,
    receivers = vim.deepcopy(o.receivers),
    timeout_ms = o.timeout_ms,
    max_response = math.floor(o.max_response),
    max_spans = math.floor(o.max_spans),
    auth = host_auth(o.auth),
    store_path = o.store_path,
    rollup_retention = o.rollup_retention,
    -- An empty table would reach the host as a map.
    alerts = #o.alerts > 0 and vim.deepcopy(o.alerts) or nil,
  }
end

---An endpoint as it may be shown: without the user and password a URL may carry.
---@param endpoint string
---@return string
function M.shown_endpoint(endpoint)
  return (endpoint:gsub("^(%a[%w+.-]*://)[^/?#]*@", "%1"))
end

return M
