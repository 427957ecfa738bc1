-- Tempo and Zipkin as a user reaches them: :VitalsSearch with attribute filters, opening a
-- result, :VitalsConfigure and :checkhealth, against the stand-in answering with real
-- Tempo and Zipkin traces.

local h = require("helpers")

local FAILED_TRACE = "e8b6dff9f8d44b28f1b22bc3bd2f6768"
local ZEROS_TRACE = "000000000000000000000c0ffee0beef"
local ASCEND_TRACE = "0000000000000000ef86c83c0a05a6d6"

---The requests the stand-in of `scenario` got for `path`.
local function requests_to(scenario, path)
  return vim.tbl_filter(function(request)
    return request.path == path
  end, h.requests(scenario))
end

---Answers every picker with the result whose trace id is `trace_id`.
local function pick(trace_id)
  return h.answer_select(function(items)
    for _, item in ipairs(items) do
      if type(item) == "table" and item.trace_id == trace_id then
        return item
      end
    end
  end)
end

it(":VitalsSearch on Tempo lists span sets as such, then opens the whole trace", function()
  h.setup({ trace_provider = "tempo", trace_endpoint = h.jaeger("tempo"), tenant = "team-a" })
  local shown = pick(ZEROS_TRACE)
  vim.cmd([[VitalsSearch mythical-server http.method=POST "http.route=/:endpoint"]])
  local view = h.wait_view()
  assert(view.trace_id == ZEROS_TRACE, view.trace_id)
  local labels = table.concat(shown[1].labels, "\n")
  for _, expected in ipairs({ "mythical-requester: requester", "9 of 15 spans matched", "✗ 3 errors" }) do
    assert(labels:find(expected, 1, true), "results lack " .. expected .. ":\n" .. labels)
  end
  local search = h.last_params("tempo", "/api/search")
  local q = [[{ resource.service.name = "mythical-server" && .http.method = "POST" && .http.route = "/:endpoint" }]]
  assert(search.q == q, search.q)
  -- The result list held span sets: the trace was fetched whole when opened, by its full id.
  local fetched = requests_to("tempo", "/api/v2/traces/" .. ZEROS_TRACE)
  assert(#fetched == 1 and fetched[1].tenant == "team-a", vim.inspect(fetched))
  local text = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
  assert(text:find("15 spans · 2 services · 3 errors", 1, true), text)
end)

it(":VitalsSearch on Tempo takes a quoted TraceQL query as typed", function()
  h.setup({ trace_provider = "tempo", trace_endpoint = h.jaeger("tempo") })
  local shown = pick(FAILED_TRACE)
  vim.cmd([[VitalsSearch mythical-server '{ span.http.method = "POST" } >> { status = error }' lookback=2h]])
  h.wait_view()
  local search = h.last_params("tempo", "/api/search")
  assert(search.q == [[{ span.http.method = "POST" } >> { status = error }]], search.q)
  assert(tonumber(search["end"]) - tonumber(search.start) >= 7200, vim.inspect(search))
  assert(#shown[1].items == 4, "the stand-in does not evaluate TraceQL: " .. vim.inspect(shown[1].labels))
end)

it(":VitalsSearch on Zipkin sends filters as annotationQuery and opens a result", function()
  h.setup({ trace_provider = "zipkin", trace_endpoint = h.jaeger("zipkin") })
  local shown = pick(ASCEND_TRACE)
  vim.cmd("VitalsSearch mobile-gateway http.method=GET error=true 1ms")
  local view = h.wait_view()
  assert(view.trace_id == ASCEND_TRACE, view.trace_id)
  assert(#shown[1].items == 2, vim.inspect(shown[1].labels))
  local params = h.last_params("zipkin", "/api/v2/traces")
  assert(params.serviceName == "mobile-gateway", vim.inspect(params))
  assert(params.annotationQuery == "http.method=GET and error", vim.inspect(params))
  assert(params.minDuration == "1000" and tonumber(params.lookback) == 3600000, vim.inspect(params))
  -- Zipkin's search returns whole traces: the result opens without asking again.
  assert(#requests_to("zipkin", "/api/v2/trace/ef86c83c0a05a6d6") == 0, "opened from the search's own copy")
end)

it(":VitalsSearch completes filters from Tempo's tag API and Zipkin's autocomplete", function()
  h.setup({ trace_provider = "tempo", trace_endpoint = h.jaeger("tempo"), tenant = "team-a" })
  local keys = vim.fn.getcompletion("VitalsSearch mythical-server ", "cmdline")
  for _, expected in ipairs({ "http.method=", "http.route=", "db.system=" }) do
    assert(vim.tbl_contains(keys, expected), expected .. " not offered: " .. vim.inspect(keys))
  end
  local asked = h.last_params("tempo", "/api/v2/search/tags")
  assert(asked.q == [[{ resource.service.name = "mythical-server" }]], vim.inspect(asked))
  local methods = vim.fn.getcompletion("VitalsSearch mythical-server http.method=", "cmdline")
  assert(vim.deep_equal(methods, { "http.method=GET", "http.method=POST" }), vim.inspect(methods))
  local posts = vim.fn.getcompletion("VitalsSearch mythical-server http.method=P", "cmdline")
  assert(vim.deep_equal(posts, { "http.method=POST" }), vim.inspect(posts))

  h.setup({ trace_provider = "zipkin", trace_endpoint = h.jaeger("zipkin") })
  keys = vim.fn.getcompletion("VitalsSearch auth-service ", "cmdline")
  for _, expected in ipairs({ "http.method=", "http.path=", "error=true" }) do
    assert(vim.tbl_contains(keys, expected), expected .. " not offered: " .. vim.inspect(keys))
  end
  methods = vim.fn.getcompletion("VitalsSearch auth-service http.method=", "cmdline")
  assert(vim.deep_equal(methods, { "http.method=GET", "http.method=POST" }), vim.inspect(methods))
  assert(h.last_params("zipkin", "/api/v2/autocompleteValues").key == "http.method")
end)

---Answers :VitalsConfigure: the provider, then the URL, then (Tempo) the tenant.
---@return table answers the prompts asked, in order
local function configure(provider, url, tenant)
  h.answer_select(function(items, opts)
    if opts.prompt == "Trace provider" then
      for _, item in ipairs(items) do
        if item.name == provider then
          return item
        end
      end
    end
  end)
  local prompts = {}
  vim.ui.input = function(opts, on_confirm)
    table.insert(prompts, { prompt = opts.prompt, default = opts.default })
    vim.schedule(function()
      on_confirm(#prompts == 1 and url or tenant)
    end)
  end
  vim.cmd("VitalsConfigure")
  return prompts
end

it(":VitalsConfigure lists Tempo and Zipkin with their defaults and asks Tempo's tenant", function()
  h.setup({ trace_endpoint = "http://127.0.0.1:9" })
  local url = h.jaeger("tempo")
  local shown = h.answer_select(function() end)
  vim.cmd("VitalsConfigure")
  h.wait_for("the provider list", function()
    return #shown == 1
  end)
  local listed = table.concat(shown[1].labels, "\n")
  for _, expected in ipairs({ "tempo", "http://localhost:3200", "zipkin", "http://localhost:9411" }) do
    assert(listed:find(expected, 1, true), "the list lacks " .. expected .. ":\n" .. listed)
  end

  local prompts = configure("tempo", url, " team-a ")
  h.wait_for("the connection report", function()
    return h.message("Connected to tempo at " .. url)
  end)
  assert(prompts[1].prompt == "Tempo URL: " and prompts[1].default == "http://localhost:3200", vim.inspect(prompts))
  assert(prompts[2].prompt:find("Tenant", 1, true), vim.inspect(prompts))
  assert(h.message("4 services"), vim.inspect(h.messages))
  local options = require("vitals.config").options
  assert(options.trace_provider == "tempo" and options.tenant == "team-a", vim.inspect(options))
  local saved = vim.json.decode(table.concat(vim.fn.readfile(require("vitals.config").choice_file()), "\n"))
  assert(saved.chosen.tenant == "team-a", vim.inspect(saved))
  -- The host uses it at once: the next call carries the tenant.
  h.wait_for("the services", function()
    return #requests_to("tempo", "/api/v2/search/tag/resource.service.name/values") >= 1
  end)
  local asked = requests_to("tempo", "/api/v2/search/tag/resource.service.name/values")
  assert(asked[#asked].tenant == "team-a", vim.inspect(asked[#asked]))
end)

it(":VitalsConfigure to Zipkin tests and applies it", function()
  h.setup({ trace_endpoint = "http://127.0.0.1:9" })
  local url = h.jaeger("zipkin")
  local prompts = configure("zipkin", url)
  h.wait_for("the connection report", function()
    return h.message("Connected to zipkin at " .. url)
  end)
  assert(#prompts == 1 and prompts[1].prompt == "Zipkin URL: ", vim.inspect(prompts))
  assert(prompts[1].default == "http://localhost:9411", vim.inspect(prompts))
  assert(h.message("24 services"), vim.inspect(h.messages))
  assert(require("vitals.config").options.trace_provider == "zipkin")
end)

it("a choice remembered before the tenant option existed still applies", function()
  local config = require("vitals.config")
  vim.fn.mkdir(vim.fs.dirname(config.choice_file()), "p")
  local setup = { trace_provider = "otlp", trace_endpoint = "", store_path = "" }
  local chosen = { trace_provider = "zipkin", trace_endpoint = "http://zipkin:9411", store_path = "" }
  vim.fn.writefile({ vim.json.encode({ chosen = chosen, setup = setup }) }, config.choice_file())
  config.set({})
  assert(config.options.trace_provider == "zipkin" and config.options.tenant == "", vim.inspect(config.options))
  os.remove(config.choice_file())
  config.set({ receive_on_startup = false })
end)

it(":checkhealth vitals tests Tempo with its tenant, and Zipkin", function()
  vim.g.health = { style = "float" }
  for _, case in ipairs({
    { provider = "tempo", scenario = "tempo", expected = { ", tenant ops", "OK Connected to tempo at" } },
    { provider = "zipkin", scenario = "zipkin", expected = { "provider zipkin", "OK Connected to zipkin at" } },
  }) do
    h.setup({ trace_provider = case.provider, trace_endpoint = h.jaeger(case.scenario), tenant = "ops" })
    vim.cmd("checkhealth vitals")
    local text = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
    for _, expected in ipairs(case.expected) do
      assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
    end
    vim.cmd("bwipeout!")
  end
  h.setup({ trace_provider = "tempo", trace_endpoint = "http://127.0.0.1:9" })
  vim.cmd("checkhealth vitals")
  local text = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
  assert(text:find("port 3200", 1, true), "the advice names Tempo's port:\n" .. text)
  vim.cmd("bwipeout!")
end)

---The text of the float whose buffer has `filetype`, once it opens.
local function float_text(filetype)
  local buf
  h.wait_for("a " .. filetype .. " float", function()
    for _, win in ipairs(h.floats()) do
      local b = vim.api.nvim_win_get_buf(win)
      if vim.bo[b].filetype == filetype then
        buf = b
        return true
      end
    end
  end)
  local text = table.concat(h.lines(buf), "\n")
  for _, win in ipairs(h.floats()) do
    vim.api.nvim_win_close(win, true)
  end
  return text
end

it("every command works on Tempo and on Zipkin", function()
  for _, case in ipairs({
    {
      provider = "tempo",
      service = "mythical-server",
      traces = { FAILED_TRACE, ZEROS_TRACE },
      analysis = "Analysis of 3 traces",
      map = "mythical-server",
    },
    {
      provider = "zipkin",
      service = "servicea",
      traces = { "00000000000000000562809467078eab", "00000000000000001e223ff1f80f1c69" },
      analysis = "Analysis of 2 traces",
      map = "✗",
    },
  }) do
    h.setup({ trace_provider = case.provider, trace_endpoint = h.jaeger(case.provider) })
    local function check(text, expected, what)
      assert(text:find(expected, 1, true), ("%s on %s lacks %q:\n%s"):format(what, case.provider, expected, text))
    end
    vim.cmd("VitalsAnalyze " .. case.service)
    check(float_text("vitals-report"), case.analysis, ":VitalsAnalyze")
    vim.cmd("VitalsFlame " .. case.service)
    check(float_text("vitals-flame"), "Aggregated flame graph · " .. case.service, ":VitalsFlame")
    vim.cmd("VitalsServiceMap")
    check(float_text("vitals-map"), case.map, ":VitalsServiceMap")
    vim.cmd("VitalsRegressions " .. case.service)
    check(float_text("vitals-report"), "Regressions · " .. case.service, ":VitalsRegressions")
    vim.cmd(("VitalsCompare %s %s"):format(case.traces[1], case.traces[2]))
    check(float_text("vitals-report"), "Trace comparison", ":VitalsCompare")
    vim.cmd("VitalsTrace " .. case.traces[2])
    assert(h.wait_view().trace_id == case.traces[2])
    local annotations
    require("vitals.client").call(
      "annotations",
      { services = { case.service }, lookback = "1h", limit = 5, slow_query_ms = 500 },
      function(err, found)
        annotations = err or found
      end
    )
    h.wait_for("the annotations", function()
      return annotations
    end)
    assert(type(annotations) == "table", ("annotations on %s: %s"):format(case.provider, vim.inspect(annotations)))
    h.reset()
  end
end)
