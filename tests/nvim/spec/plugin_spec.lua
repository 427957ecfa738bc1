local h = require("helpers")

it("defines the commands behind a load guard", function()
  local commands = { "VitalsSearch", "VitalsTrace", "VitalsAnalyze", "VitalsFlame", "VitalsCompare", "VitalsRegressions" }
  vim.list_extend(commands, { "VitalsConfigure", "VitalsStatus", "VitalsLog", "VitalsServiceMap" })
  vim.list_extend(commands, { "VitalsTraceHere", "VitalsHot", "VitalsClear", "VitalsAnnotate", "VitalsTail" })
  vim.list_extend(commands, { "VitalsExport", "VitalsOpen" })
  for _, name in ipairs(commands) do
    assert(vim.fn.exists(":" .. name) == 2, name .. " is missing")
  end
  assert(vim.g.loaded_vitals == 1)
  vim.cmd("runtime plugin/vitals.lua") -- a second load is a no-op, not an error
  assert(vim.fn.maparg("<Plug>(vitals-search)", "n") ~= "")
end)

it("works without setup() and keeps the documented defaults", function()
  local o = require("vitals.config").defaults
  assert(o.trace_provider == "otlp" and o.trace_endpoint == "" and o.performance_threshold == 5)
  assert(o.enable_auto_tracing == false and o.enable_code_lens_annotations == true and o.timeout_ms == 10000)
  local ok, err = pcall(require("vitals").setup, { trace_provider = "honeycomb" })
  assert(not ok and tostring(err):find("trace_provider"), "a wrong provider is refused: " .. tostring(err))
end)

it("highlight groups exist with default links and survive a colour scheme change", function()
  local function check()
    assert(vim.api.nvim_get_hl(0, { name = "VitalsTitle" }).link == "Title")
    assert(vim.api.nvim_get_hl(0, { name = "VitalsError" }).link == "DiagnosticError")
    assert(vim.api.nvim_get_hl(0, { name = "VitalsFlame3" }).bg ~= nil)
    assert(vim.api.nvim_get_hl(0, { name = "VitalsFlameError" }).bg ~= nil)
    for _, group in ipairs({ "VitalsSlower", "VitalsFaster", "VitalsNeutral", "VitalsService20" }) do
      assert(vim.api.nvim_get_hl(0, { name = group }).fg ~= nil, group)
    end
    for _, group in ipairs({ "VitalsNeutralLabel", "VitalsCriticalLabel", "VitalsFlame20" }) do
      assert(vim.api.nvim_get_hl(0, { name = group }).bg ~= nil, group)
    end
  end
  check()
  vim.cmd("highlight clear")
  vim.cmd("colorscheme default")
  check()
  vim.api.nvim_set_hl(0, "VitalsTitle", { link = "Normal" })
  require("vitals.highlights").define()
  assert(vim.api.nvim_get_hl(0, { name = "VitalsTitle" }).link == "Normal", "a user's own colour wins")
end)

it(":checkhealth vitals reports Neovim, the binary and the provider", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  -- In a float rather than a tab: drawing a tabline after 'columns' changed trips an
  -- assertion in headless Neovim 0.11.
  vim.g.health = { style = "float" }
  vim.cmd("checkhealth vitals")
  local text = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
  for _, expected in ipairs({ "OK Neovim", "OK vitals 0.", "OK Connected to jaeger at" }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  vim.cmd("bwipeout!")
end)
