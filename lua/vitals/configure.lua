---@mod vitals.configure :VitalsConfigure — choose the backend and test it

local client = require("vitals.client")
local config = require("vitals.config")
local notify = require("vitals.notify")
local picker = require("vitals.ui.picker")

local M = {}

local PROVIDERS = {
  { name = "jaeger", description = "Jaeger query service (API v1 or api/v3)" },
  { name = "file", description = "A trace file or a folder of them" },
  { name = "otlp", description = "The local trace store that `vitals serve` fills over OTLP" },
}

---Tests the current settings and reports the result.
---@param callback? fun(err?: string, message?: string)
function M.test(callback)
  local done = notify.progress("testing the connection…")
  client.call("test_connection", config.provider_settings(), function(err, message)
    done()
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
  picker.select(PROVIDERS, {
    prompt = "Trace provider",
    kind = "vitals_provider",
    format_item = function(p)
      return ("%-8s %s"):format(p.name, p.description)
    end,
  }, function(choice)
    if not choice then
      return
    end
    local prompts = {
      jaeger = { "Jaeger URL: ", "http://localhost:16686", nil },
      file = { "Trace file or folder: ", vim.fn.getcwd(), "file" },
      otlp = { "Trace store file (empty: the default): ", "", "file" },
    }
    local prompt, fallback, completion = unpack(prompts[choice.name])
    local field = choice.name == "otlp" and "store_path" or "trace_endpoint"
    local current = config.options.trace_provider == choice.name and config.options[field] or ""
    vim.ui.input({
      prompt = prompt,
      default = current ~= "" and current or fallback,
      completion = completion,
    }, function(value)
      if value == nil or (value == "" and choice.name ~= "otlp") then
        return
      end
      config.options.trace_provider = choice.name
      config.options[field] = (completion == "file" and value ~= "") and vim.fn.fnamemodify(vim.fn.expand(value), ":p") or value
      require("vitals.search").known_services = nil
      client.reconfigure()
      M.test()
    end)
  end)
end

return M
