---@mod vitals.health :checkhealth vitals

local M = {}

---Where each provider's backend usually listens, for the advice on a failed test.
local USUAL_PORTS = {
  jaeger = "Jaeger's query service listens on port 16686 (not the collector's 14268 or 4318)",
  tempo = "Tempo's HTTP API listens on port 3200 (http_listen_port); a multi-tenant Tempo needs the tenant option",
  zipkin = "Zipkin's server listens on port 9411",
}

function M.check()
  local health = vim.health
  local client = require("vitals.client")
  local config = require("vitals.config")

  health.start("vitals: Neovim")
  if vim.fn.has("nvim-0.10") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Neovim 0.10 or newer is needed; this is " .. tostring(vim.version()))
  end

  health.start("vitals: host binary")
  local binary, tried = client.find_binary()
  if not binary then
    health.error("vitals binary not found (tried " .. table.concat(tried, ", ") .. ")", {
      "Run `cargo build --release` in " .. client.plugin_root(),
      "or put `vitals` on PATH, or set require('vitals').setup({ binary = '/path/to/vitals' })",
    })
    return
  end
  local version = vim.fn.system({ binary, "--version" })
  if vim.v.shell_error == 0 then
    health.ok(("%s (%s)"):format(vim.trim(version), binary))
  else
    health.error(("%s does not run: %s"):format(binary, vim.trim(version)))
    return
  end
  local log = client.request("log_file")
  if log then
    health.info("Host log: " .. log)
  end

  health.start("vitals: trace provider")
  local settings = config.provider_settings()
  local endpoint = settings.trace_endpoint ~= "" and config.shown_endpoint(settings.trace_endpoint) or "(default)"
  local tenant = settings.trace_provider == "tempo" and settings.tenant ~= "" and (", tenant " .. settings.tenant) or ""
  health.info(("provider %s, endpoint %s%s"):format(settings.trace_provider, endpoint, tenant))
  if config.choice_in_effect then
    health.info(("chosen with :VitalsConfigure and remembered in %s; setup() asked for %s"):format(
      config.choice_in_effect,
      config.requested.trace_provider
    ))
  end
  local result, failure, done = nil, nil, false
  client.call("test_connection", settings, function(err, message)
    result, failure, done = message, err, true
  end)
  vim.wait(config.options.timeout_ms + 1000, function()
    return done
  end, 50)
  if not done then
    health.error("no answer from the host within the timeout")
  elseif failure then
    health.error(failure, { "Check the endpoint with :VitalsConfigure", USUAL_PORTS[settings.trace_provider] })
  else
    health.ok(result)
  end

  M.check_receivers(settings)

  local status
  done = false
  client.call("status", { receivers = false }, function(_, drawing)
    status, done = drawing, true
  end)
  vim.wait(2000, function()
    return done
  end, 20)
  for _, line in ipairs(status and status.lines or {}) do
    health.info(line)
  end
end

---Each receiver of the otlp provider: where it listens, what it took and refused.
---@param settings table the provider settings in effect
function M.check_receivers(settings)
  local health = vim.health
  health.start("vitals: receivers")
  if settings.trace_provider ~= "otlp" then
    health.info("none: the receivers run with the otlp provider")
    return
  end
  local checks, done = nil, false
  require("vitals.client").call("receiver_checks", {}, function(_, result)
    checks, done = result, true
  end)
  vim.wait(2000, function()
    return done
  end, 20)
  for _, check in ipairs(checks or {}) do
    local advice
    if check.level == "warn" and check.text:find(" is taken ", 1, true) then
      advice = { ("Give this editor another address in receivers.%s, or stop the other receiver"):format(check.key) }
    elseif check.level == "info" then
      advice = { ('Set receivers.%s = "127.0.0.1:%d" to receive it'):format(check.key, require("vitals.config").RECEIVER_PORTS[check.key]) }
    end
    if check.level == "ok" then
      health.ok(check.text)
    elseif check.level == "warn" then
      health.warn(check.text, advice)
    else
      health.info(check.text .. (advice and (" (" .. advice[1] .. ")") or ""))
    end
  end
end

return M
