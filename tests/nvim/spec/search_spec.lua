local h = require("helpers")

it(":VitalsSearch with no arguments prompts for service and operation, then opens the pick", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  local shown = h.answer_select(function(items, opts)
    if opts.prompt == "Service" then
      return "frontend"
    elseif opts.prompt:find("^Operation") then
      return "slow traces (>1s)"
    end
    for _, item in ipairs(items) do
      if item.trace_id == h.slow_trace then
        return item
      end
    end
  end)
  vim.cmd("VitalsSearch")
  local view = h.wait_view()
  assert(view.trace_id == h.slow_trace)
  assert(vim.deep_equal(shown[1].items, { "cart", "checkout", "frontend", "inventory", "payment", "postgres", "redis" }), vim.inspect(shown[1].items))
  assert(vim.tbl_contains(shown[2].items, "POST /checkout") and vim.tbl_contains(shown[2].items, "slow traces (>1s)"))
  local labels = table.concat(shown[3].labels, "\n")
  for _, expected in ipairs({ "frontend: POST /checkout", "1.60s", "26 spans", "✗ 6 errors", "ago" }) do
    assert(labels:find(expected, 1, true), "results lack " .. expected .. ":\n" .. labels)
  end
  local params = h.last_params("v1", "/api/traces")
  assert(params.service == "frontend" and params.minDuration == "1000ms", vim.inspect(params))
end)

it(":VitalsSearch service operation min-duration limit lookback searches at once", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  local shown = h.answer_select(function() end)
  vim.cmd([[VitalsSearch frontend POST\ /checkout 250ms 2 30m]])
  h.wait_for("the results", function()
    return #shown == 1
  end)
  assert(#shown[1].items == 2, "the limit applies")
  local params = h.last_params("v1", "/api/traces")
  assert(params.operation == "POST /checkout" and params.minDuration == "250ms" and params.limit == "2", vim.inspect(params))
  assert(tonumber(params["end"]) - tonumber(params.start) == 30 * 60 * 1000000, "lookback of 30m")
end)

it("completes service names on the command line", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  local completions = vim.fn.getcompletion("VitalsSearch fr", "cmdline")
  assert(vim.deep_equal(completions, { "frontend" }), vim.inspect(completions))
  assert(vim.deep_equal(vim.fn.getcompletion("VitalsSearch frontend x", "cmdline"), {}))
end)

it(":VitalsConfigure picks the provider and endpoint and reports the connection", function()
  h.setup({ trace_endpoint = "http://127.0.0.1:9" })
  h.answer_select(function(items)
    return items[1] -- jaeger
  end)
  local url = h.jaeger("v1")
  vim.ui.input = function(_, on_confirm)
    vim.schedule(function()
      on_confirm(url)
    end)
  end
  vim.cmd("VitalsConfigure")
  h.wait_for("the connection report", function()
    return h.message("Connected to jaeger at " .. url .. ": 7 services")
  end)
  assert(require("vitals.config").options.trace_endpoint == url)
end)

it("searches a folder of trace files whole, whatever their age (the quick start's demo)", function()
  h.setup({ trace_provider = "file", trace_endpoint = h.root .. "/samples" })
  local shown = h.answer_select(function(items, opts)
    if opts.prompt:find("^Operation") then
      return "all operations"
    end
    return items[#items]
  end)
  vim.cmd("VitalsSearch frontend")
  local view = h.wait_view()
  assert(#shown[2].items == 5, "all five sample traces are found: " .. vim.inspect(shown[2].labels))
  assert(h.find_line(view.buf, "frontend: POST /checkout"))
end)

it(":VitalsSearch reads key=value filters wherever they stand, quoted values included", function()
  local search = require("vitals.search")
  local args = search.parse(require("vitals.cmdline").split([[checkout http.route=/cart 500ms]]))
  assert(args.service == "checkout" and args.min_duration == "500ms" and vim.deep_equal(args.tags, { "http.route=/cart" }), vim.inspect(args))
  args = search.parse(require("vitals.cmdline").split([[frontend status=error "GET /checkout" http.route="/api/users/{id}" 2 6h maxDuration=2s]]))
  assert(args.operation == "GET /checkout" and args.limit == 2 and args.lookback == "6h" and args.max_duration == "2s", vim.inspect(args))
  assert(vim.deep_equal(args.tags, { "status=error", "http.route=/api/users/{id}" }), vim.inspect(args.tags))
  args = search.parse({ "frontend", "*", "1s" })
  assert(args.operation == nil and args.min_duration == "1s", vim.inspect(args))

  h.setup({ trace_endpoint = h.jaeger("v1") })
  local shown = h.answer_select(function() end)
  vim.cmd([[VitalsSearch frontend http.route="/checkout" status=error 250ms]])
  h.wait_for("the results", function()
    return #shown == 1
  end)
  local params = h.last_params("v1", "/api/traces")
  assert(params.minDuration == "250ms" and params.operation == nil, vim.inspect(params))
  assert(vim.deep_equal(vim.json.decode(params.tags), { ["http.route"] = "/checkout", error = "true" }), params.tags)
end)

it(":VitalsSearch completes attribute filters and their values from the service's traces", function()
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local url = h.receive()
  local sent = vim.fn.system({ python, h.root .. "/tests/otel/send_shop.py", url })
  assert(vim.v.shell_error == 0, sent)
  local after_service = vim.fn.getcompletion("VitalsSearch orders ", "cmdline")
  for _, expected in ipairs({ "http.route=", "code.function.name=", "service.version=", "error=true", "minDuration=", "GET /orders" }) do
    assert(vim.tbl_contains(after_service, expected), expected .. " not offered: " .. vim.inspect(after_service))
  end
  local routes = vim.fn.getcompletion("VitalsSearch orders http.route=", "cmdline")
  assert(vim.deep_equal(routes, { "http.route=/orders" }), vim.inspect(routes))
  local functions = vim.fn.getcompletion("VitalsSearch orders code.function.name=pl", "cmdline")
  assert(vim.deep_equal(functions, { "code.function.name=place_order" }), vim.inspect(functions))

  -- The completed filter searches as typed.
  local shown = h.answer_select(function() end)
  vim.cmd("VitalsSearch orders code.function.name=place_order")
  h.wait_for("the results", function()
    return #shown == 1
  end)
  assert(#shown[1].items == 5, "the five checkouts place an order: " .. vim.inspect(shown[1].labels))
end)

it("a TraceQL query in braces is one argument, sent as typed without asking for a service", function()
  local cmdline = require("vitals.cmdline")
  local words = cmdline.split([[{ resource.service.name = "shop" && span.http.route = "/a b" } 2]])
  assert(vim.deep_equal(words, { [[{ resource.service.name = "shop" && span.http.route = "/a b" }]], "2" }), vim.inspect(words))
  local args = require("vitals.search").parse(words)
  assert(args.traceql == words[1] and args.service == nil and args.limit == 2, vim.inspect(args))
end)

it("span sets joined by a TraceQL operator stay one query", function()
  local words = require("vitals.cmdline").split([[{ span.http.route = "/cart" } >> { status = error } 5m]])
  assert(vim.deep_equal(words, { [[{ span.http.route = "/cart" } >> { status = error }]], "5m" }), vim.inspect(words))
end)
