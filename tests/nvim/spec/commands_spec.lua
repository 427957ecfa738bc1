-- Arguments of the commands: quoting, completion, and saying what is wrong with them.

local h = require("helpers")

it("arguments are split at spaces, with quotes and backslashes keeping words together", function()
  local split = require("vitals.cmdline").split
  local cases = {
    { [[frontend "GET /checkout" 250ms]], { "frontend", "GET /checkout", "250ms" } },
    { [[frontend 'GET /checkout']], { "frontend", "GET /checkout" } },
    { [[frontend POST\ /checkout]], { "frontend", "POST /checkout" } },
    { [[  a  "" b ]], { "a", "", "b" } },
    { [["say \"hi\""]], { 'say "hi"' } },
  }
  for _, case in ipairs(cases) do
    local args = split(case[1])
    assert(vim.deep_equal(args, case[2]), case[1] .. " → " .. vim.inspect(args))
  end
end)

it(":VitalsSearch reads a quoted operation", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  local shown = h.answer_select(function() end)
  vim.cmd([[VitalsSearch frontend "POST /checkout" 250ms 2 30m]])
  h.wait_for("the results", function()
    return #shown == 1
  end)
  local params = h.last_params("v1", "/api/traces")
  assert(params.operation == "POST /checkout" and params.minDuration == "250ms" and params.limit == "2", vim.inspect(params))
end)

it(":VitalsTrace completes trace ids of the last search, then the views", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  local shown = h.answer_select(function() end)
  vim.cmd("VitalsSearch frontend * 1s")
  h.wait_for("the results", function()
    return #shown == 1
  end)
  local ids = vim.fn.getcompletion("VitalsTrace " .. h.slow_trace:sub(1, 3), "cmdline")
  assert(vim.deep_equal(ids, { h.slow_trace }), "the id completes: " .. vim.inspect(ids))
  local views = vim.fn.getcompletion("VitalsTrace " .. h.slow_trace .. " w", "cmdline")
  assert(vim.deep_equal(views, { "waterfall" }), vim.inspect(views))
  assert(#vim.fn.getcompletion("VitalsTrace " .. h.slow_trace .. " flame ", "cmdline") == 0, "nothing after the view")
  local compared = vim.fn.getcompletion("VitalsCompare " .. h.slow_trace .. " " .. h.slow_trace:sub(1, 2), "cmdline")
  assert(vim.tbl_contains(compared, h.slow_trace), ":VitalsCompare completes both ids: " .. vim.inspect(compared))
end)

it(":VitalsTrace with an unknown view names the views, and so does the host", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace .. " bogus")
  assert(h.message('Unknown view "bogus": use flame, waterfall, network or stats'), vim.inspect(h.messages))
  local answer
  require("vitals.client").call("open_trace", { trace_id = h.slow_trace, view = "bogus" }, function(err)
    answer = err
  end)
  h.wait_for("the host's answer", function()
    return answer
  end)
  assert(answer == 'Unknown view "bogus": use flame, waterfall, network, stats', answer)
  assert(#h.floats() == 0)
end)

it("an unknown service is said to be unknown, with the closest names, instead of offering its operations", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  local shown = h.answer_select(function() end)
  vim.cmd("VitalsSearch fronted")
  h.wait_for("the error", function()
    return h.message("Unknown service")
  end)
  assert(h.message('Unknown service "fronted". Did you mean frontend?'), vim.inspect(h.messages))
  assert(#shown == 0, "no operations offered: " .. vim.inspect(shown))
  vim.cmd("VitalsAnalyze pay")
  h.wait_for("the error", function()
    return h.message('Unknown service "pay". Did you mean payment?')
  end)
  vim.cmd("VitalsFlame zzzzzz")
  h.wait_for("the error", function()
    return h.message('Unknown service "zzzzzz". The backend knows cart, checkout, frontend, inventory, payment, postgres, redis')
  end)
  assert(#shown == 0 and #h.floats() == 0)
end)
