---@mod vitals.configure :VitalsConfigure — choose the backend, test it, remember it
---
---A choice is tested before it is used. One that connects is applied and remembered
---(see |vitals-configure-remembered|); one that fails is kept only if the user says so,
---since a backend that is down now may be up later.

local client = require("vitals.client")
local config = require("vitals.config")
local notify = require("vitals.notify")
local picker = require("vitals.ui.picker")

local M = {}

local PROVIDERS = {
  { name = "jaeger", description = "Jaeger query service, API v1 or api/v3 (http://localhost:16686)" },
  { name = "tempo", description = "Grafana Tempo or a compatible store (http://localhost:3200)" },
  { name = "zipkin", description = "Zipkin server, API v2 (http://localhost:9411)" },
  { name = "file", description = "A trace file or a folder of them" },
  { name = "otlp", description = "The local trace store that `vitals serve` fills over OTLP" },
}

---What to ask for each provider: the prompt, the value offered when none is set, the
---completion, and the option it sets.
local QUESTIONS = {
  jaeger = { prompt = "Jaeger URL: ", fallback = "http://localhost:16686", field = "trace_endpoint" },
  tempo = { prompt = "Tempo URL: ", fallback = "http://localhost:3200", field = "trace_endpoint" },
  zipkin = { prompt = "Zipkin URL: ", fallback = "http://localhost:9411", field = "trace_endpoint" },
  file = { prompt = "Trace file or folder: ", fallback = nil, completion = "file", field = "trace_endpoint" },
  otlp = { prompt = "Trace store file (empty: the default): ", fallback = "", completion = "file", field = "store_path" },
}

---`jaeger at http://…`, `tempo at http://… (tenant ops)`, `file at ./traces`, `otlp (its
---default)`, for messages.
---@param choice table the chosen options
---@return string
local function describe(choice)
  local where = choice.trace_provider == "otlp" and choice.store_path or choice.trace_endpoint
  local described = where == "" and choice.trace_provider .. " (its default)"
    or ("%s at %s"):format(choice.trace_provider, config.shown_endpoint(where))
  if choice.trace_provider == "tempo" and (choice.tenant or "") ~= "" then
    described = ("%s (tenant %s)"):format(described, choice.tenant)
  end
  return described
end

---Makes `choice` the provider options in effect and remembers it.
---@param choice table trace_provider, trace_endpoint, store_path and tenant
---@param message string what to tell the user
local function apply(choice, message)
  for field, value in pairs(choice) do
    config.options[field] = value
  end
  require("vitals.search").forget_completions()
  client.reconfigure()
  local saved, err = config.save_choice()
  if saved then
    notify.info(message)
  else
    notify.error(("%s, but it could not be remembered in %s: %s"):format(message, config.choice_file(), err))
  end
end

---Tests `choice` without using it yet; applies it when it connects, else asks whether to
---keep it anyway or stay with the provider in effect.
---@param choice table trace_provider, trace_endpoint, store_path and tenant
---@param on_done? fun(kept: boolean) called once the user's decision is applied
function M.try(choice, on_done)
  local settings = config.provider_settings(vim.tbl_extend("force", config.options, choice))
  local done = notify.progress(("testing %s…"):format(describe(choice)))
  client.call("test_connection", settings, function(err, message)
    done()
    local function finish(kept)
      if on_done then
        on_done(kept)
      end
    end
    if not err then
      apply(choice, message)
      return finish(true)
    end
    notify.error(err)
    local keep = ("Keep %s anyway (it may be up later)"):format(describe(choice))
    local back = ("Stay with %s"):format(describe(config.options))
    picker.select({ keep, back }, { prompt = "The connection failed", kind = "vitals_confirm" }, function(answer)
      if answer == keep then
        apply(choice, ("Using %s, although the connection failed"):format(describe(choice)))
        return finish(true)
      end
      notify.info(("Still using %s"):format(describe(config.options)))
      finish(false)
    end)
  end)
end

---Asks a Tempo choice's tenant (optional: only a multi-tenant Tempo needs one), then
---tries the choice.
---@param choice table
local function ask_tenant(choice)
  vim.ui.input({ prompt = "Tenant (X-Scope-OrgID; empty: none): ", default = choice.tenant }, function(tenant)
    if tenant == nil then
      return
    end
    choice.tenant = vim.trim(tenant)
    M.try(choice)
  end)
end

---Asks for the provider and endpoint (and a Tempo's tenant), tests them, and applies them
---(asking first when the test fails).
function M.run()
  local choices = vim.deepcopy(PROVIDERS)
  if config.choice_in_effect then
    table.insert(choices, { name = "forget", description = "Forget the choice: use the options given to setup()" })
  end
  picker.select(choices, {
    prompt = "Trace provider",
    kind = "vitals_provider",
    format_item = function(p)
      return ("%-8s %s"):format(p.name, p.description)
    end,
  }, function(provider)
    if not provider then
      return
    end
    if provider.name == "forget" then
      config.forget_choice()
      require("vitals.search").forget_completions()
      client.reconfigure()
      return notify.info(("Forgot the choice; using %s from setup()"):format(describe(config.options)))
    end
    local question = QUESTIONS[provider.name]
    local current = config.options.trace_provider == provider.name and config.options[question.field] or ""
    vim.ui.input({
      prompt = question.prompt,
      default = current ~= "" and current or (question.fallback or vim.fn.getcwd()),
      completion = question.completion,
    }, function(value)
      if value == nil or (value == "" and provider.name ~= "otlp") then
        return
      end
      if question.completion == "file" and value ~= "" then
        value = vim.fn.fnamemodify(vim.fn.expand(value), ":p")
      end
      -- The field not asked for keeps its value, except an otlp receive address, which
      -- means nothing to the other providers (nor their URLs to otlp).
      local same = config.options.trace_provider == provider.name
      local choice = {
        trace_provider = provider.name,
        trace_endpoint = (same or provider.name ~= "otlp") and config.options.trace_endpoint or "",
        store_path = config.options.store_path,
        tenant = config.options.tenant,
      }
      choice[question.field] = value
      if provider.name ~= "tempo" then
        return M.try(choice)
      end
      ask_tenant(choice)
    end)
  end)
end

return M
