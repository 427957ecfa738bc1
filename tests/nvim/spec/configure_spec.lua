-- :VitalsConfigure asks before keeping a backend that failed its test, and its choice
-- outlives a restart.

local h = require("helpers")

---Answers :VitalsConfigure's questions: the provider, the endpoint, and (when the
---connection fails) whether to keep it.
local function answer(provider, endpoint, keep)
  local shown = h.answer_select(function(items, opts)
    if opts.prompt == "Trace provider" then
      for _, item in ipairs(items) do
        if item.name == provider then
          return item
        end
      end
    end
    return keep and items[1] or items[2]
  end)
  vim.ui.input = function(_, on_confirm)
    vim.schedule(function()
      on_confirm(endpoint)
    end)
  end
  return shown
end

---The provider options a freshly started Neovim ends up with: the plugin loaded as a
---user's config would, with `setup` (Lua source of a table) when given.
---@param setup? string
---@return string "provider endpoint"
local function after_restart(setup)
  local script = vim.fn.tempname() .. ".lua"
  vim.fn.writefile({
    ("vim.opt.rtp:prepend(%q)"):format(h.root),
    setup and ("require('vitals').setup(%s)"):format(setup) or "",
    "local o = require('vitals.config').options",
    "io.stdout:write(o.trace_provider .. ' ' .. o.trace_endpoint)",
  }, script)
  return vim.fn.system({ vim.v.progpath, "--headless", "--clean", "-l", script })
end

it(":VitalsConfigure asks before keeping a backend whose connection test failed", function()
  local working = h.jaeger("v1")
  h.setup({ trace_endpoint = working })
  local shown = answer("jaeger", "http://127.0.0.1:9", false)
  vim.cmd("VitalsConfigure")
  h.wait_for("the answer to the question", function()
    return h.message("Still using jaeger at " .. working)
  end)
  assert(h.message("Failed to connect to jaeger at http://127.0.0.1:9"), vim.inspect(h.messages))
  assert(shown[2].prompt == "The connection failed", vim.inspect(shown[2]))
  assert(shown[2].labels[1]:find("Keep jaeger at http://127.0.0.1:9 anyway", 1, true), vim.inspect(shown[2].labels))
  assert(require("vitals.config").options.trace_endpoint == working, "nothing changed")

  answer("jaeger", "http://127.0.0.1:9", true)
  vim.cmd("VitalsConfigure")
  h.wait_for("the answer to the question", function()
    return h.message("Using jaeger at http://127.0.0.1:9, although the connection failed")
  end)
  assert(require("vitals.config").options.trace_endpoint == "http://127.0.0.1:9", "kept when the user says so")
end)

---setup() options with the otlp provider on a free port and its own store (never the
---real port 4318), and `extra` options.
local function otlp_options(extra)
  return vim.tbl_extend("force", {
    binary = h.binary,
    trace_provider = "otlp",
    trace_endpoint = "127.0.0.1:" .. h.free_port(),
    store_path = vim.fn.tempname() .. "-traces.db",
  }, extra or {})
end

---Options as Lua source, for the Neovim started afterwards.
local function source(options)
  return vim.inspect(options, { newline = " ", indent = "" })
end

it(":VitalsConfigure's choice outlives a restart, until setup()'s provider options change", function()
  local samples = h.root .. "/samples"
  local options = otlp_options()
  require("vitals").setup(options)
  answer("file", samples, false)
  vim.cmd("VitalsConfigure")
  h.wait_for("the connection report", function()
    return h.message("Connected to file " .. samples)
  end)
  local file = require("vitals.config").choice_file()
  assert(vim.startswith(file, vim.fn.stdpath("state") .. "/vitals/"), file)
  assert(vim.uv.fs_stat(file), "remembered in " .. file)
  -- A Neovim started afterwards with the same setup() uses the choice; other options
  -- do not matter.
  assert(after_restart(source(options)) == "file " .. samples .. "/", after_restart(source(options)))
  local other = source(vim.tbl_extend("force", options, { timeout_ms = 2000 }))
  assert(after_restart(other) == "file " .. samples .. "/", "other options do not matter")
  -- setup() asking for another backend since is a newer decision: it wins.
  local changed = after_restart("{ trace_provider = 'jaeger', trace_endpoint = 'http://tracing:16686' }")
  assert(changed == "jaeger http://tracing:16686", changed)
end)

it(":VitalsConfigure can forget its choice, going back to setup()'s options", function()
  require("vitals").setup(otlp_options())
  answer("file", h.root .. "/samples", false)
  vim.cmd("VitalsConfigure")
  h.wait_for("the connection report", function()
    return h.message("Connected to file")
  end)
  local config = require("vitals.config")
  assert(config.choice_in_effect)
  answer("forget")
  vim.cmd("VitalsConfigure")
  h.wait_for("the report", function()
    return h.message("Forgot the choice; using otlp")
  end)
  assert(config.options.trace_provider == "otlp" and not config.choice_in_effect)
  assert(not vim.uv.fs_stat(config.choice_file()))
end)

it("a new backend is asked for a trace even when the previous one's copy is cached", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  h.wait_view()
  h.reset()
  h.setup({ trace_endpoint = h.jaeger("outage") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  h.wait_for("the new backend's answer", function()
    return h.message("answered 500")
  end)
  assert(#h.floats() == 0, "not the previous backend's trace")
end)
