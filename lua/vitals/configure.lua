---@mod vitals.configure :VitalsConfigure — choose the backend and test it

local client = require("vitals.client")
local config = require("vitals.config")
local notify = require("vitals.notify")

local M = {}

local PROVIDERS = {
  { name = "jaeger", description = "Jaeger query service (API v1 or api/v3)" },
  { name = "file", description = "A trace file or a folder of them" },
}

---Tests the current settings and reports the result.
---@param callback? fun(err?: string, message?: string)
function M.test(callback)
  notify.progress("testing the connection…")
  client.call("test_connection", config.provider_settings(), function(err, message)
    notify.progress("")
    if err then
      notify.error(err)
    else
      notify.info(message)
    end
    if callback then
      callback(err, message)
    end
  end)
end

---Asks for the provider and endpoint, applies them and tests the connection.
function M.run()
  vim.ui.select(PROVIDERS, {
    prompt = "Trace provider",
    format_item = function(p)
      return ("%-8s %s"):format(p.name, p.description)
    end,
  }, function(choice)
    if not choice then
      return
    end
    local current = config.options.trace_provider == choice.name and config.options.trace_endpoint or ""
    local default = current ~= "" and current or (choice.name == "jaeger" and "http://localhost:16686" or vim.fn.getcwd())
    vim.ui.input({
      prompt = choice.name == "jaeger" and "Jaeger URL: " or "Trace file or folder: ",
      default = default,
      completion = choice.name == "file" and "file" or nil,
    }, function(endpoint)
      if not endpoint or endpoint == "" then
        return
      end
      config.options.trace_provider = choice.name
      config.options.trace_endpoint = choice.name == "file" and vim.fn.fnamemodify(vim.fn.expand(endpoint), ":p") or endpoint
      require("vitals.search").known_services = nil
      client.reconfigure()
      M.test()
    end)
  end)
end

return M
