local h = require("helpers")

it("opens a trace from Jaeger as a labelled, coloured flame graph", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  assert(vim.bo[view.buf].filetype == "vitals")
  assert(vim.api.nvim_win_get_config(view.win).relative == "editor", "the trace opens in a float")
  local text = table.concat(h.lines(view.buf), "\n")
  for _, expected in ipairs({ "frontend: POST /checkout  1.60s", "checkout: PlaceOrder", "payment: Charge", "26 spans" }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  local groups = h.groups(view.buf)
  local flame = vim.tbl_filter(function(g)
    return g:match("^VitalsFlame%d+$")
  end, vim.tbl_keys(groups))
  assert(#flame >= 3, "bars are coloured per service: " .. vim.inspect(groups))
  for group in pairs(groups) do
    assert(vim.fn.hlexists(group) == 1, group .. " is not defined")
  end
end)

it("<CR> on a bar opens the span's details", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  local line = h.find_line(view.buf, "payment: Charge")
  local col = h.lines(view.buf)[line]:find("payment: Charge", 1, true)
  vim.api.nvim_win_set_cursor(view.win, { line, col })
  h.press("<CR>")
  h.wait_for("the detail float", function()
    return view.detail_win and vim.api.nvim_win_is_valid(view.detail_win)
  end)
  local buf = vim.api.nvim_win_get_buf(view.detail_win)
  local text = table.concat(h.lines(buf), "\n")
  for _, expected in ipairs({ "payment: Charge", "Span ID", "Trace ID    " .. h.slow_trace, "Kind        server", "Self time", "payment.provider", "hostname" }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  h.press("q")
  assert(not vim.api.nvim_win_is_valid(view.detail_win), "q closes the detail")
  assert(vim.api.nvim_get_current_win() == view.win, "and returns to the trace")
end)

it("w switches to the waterfall and back, q closes", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  h.press("w")
  h.wait_for("the waterfall", function()
    return view.view == "waterfall"
  end)
  local selects = 0
  for _, line in ipairs(h.lines(view.buf)) do
    if line:find("^          postgres: SELECT items") then
      selects = selects + 1
    end
  end
  assert(selects == 12, "one indented row per query, got " .. selects)
  h.press("w")
  h.wait_for("the flame graph again", function()
    return view.view == "flame"
  end)
  h.press("q")
  assert(not vim.api.nvim_win_is_valid(view.win), "q closes the float")
end)

it("? lists the keys", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  h.wait_view()
  h.press("?")
  local text = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
  assert(text:find("switch between flame graph and waterfall", 1, true), text)
  assert(text:find("list the keys", 1, true), "? lists itself too\n" .. text)
end)

it("re-renders to the new width when the editor is resized", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.o.columns = 160
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  local function root_bar_width()
    return vim.fn.strchars(h.lines(view.buf)[h.find_line(view.buf, "frontend: POST /checkout  1.60s█")])
  end
  assert(root_bar_width() == vim.api.nvim_win_get_width(view.win), "the root bar spans the float")
  vim.o.columns = 100
  vim.cmd("doautocmd VimResized")
  h.wait_for("a narrower drawing", function()
    return root_bar_width() < 100
  end)
  assert(root_bar_width() == vim.api.nvim_win_get_width(view.win), "the root bar spans the resized float")
  assert(vim.api.nvim_win_get_width(view.win) <= 100)
  local widest = 0
  for _, line in ipairs(h.lines(view.buf)) do
    widest = math.max(widest, vim.fn.strchars(line))
  end
  assert(widest <= vim.api.nvim_win_get_width(view.win), "the drawing fits the float")
end)

it("marks failed spans with the error highlight", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.failed_trace)
  local view = h.wait_view()
  assert(h.groups(view.buf).VitalsFlameError, "failed spans use VitalsFlameError")
  assert(table.concat(h.lines(view.buf), "\n"):find("6 errors", 1, true))
end)

it("reads traces through api/v3 when Jaeger has no v1 search", function()
  h.setup({ trace_endpoint = h.jaeger("v3") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  assert(h.find_line(view.buf, "payment: Charge"))
end)

it("opens traces from a file with the file provider", function()
  h.setup({ trace_provider = "file", trace_endpoint = h.root .. "/samples/shop-traces.json" })
  vim.cmd("VitalsTrace " .. h.failed_trace)
  local view = h.wait_view()
  assert(h.find_line(view.buf, "inventory: Reserve"))
end)

it("c marks the critical path, n lists the network calls, s shows span statistics", function()
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  assert(not h.groups(view.buf).VitalsCriticalLabel and not h.find_line(view.buf, "━"), "not marked until asked")
  h.press("c")
  h.wait_for("the critical path", function()
    return view.critical_path == true
  end)
  assert(h.groups(view.buf).VitalsCriticalLabel and h.find_line(view.buf, "━━"), "critical cells are marked")
  assert(h.find_line(view.buf, "━ critical path: 1.60s of 1.60s"), "the footer says what is marked")

  h.press("n")
  h.wait_for("the network calls", function()
    return view.view == "network"
  end)
  local text = table.concat(h.lines(view.buf), "\n")
  assert(text:find("21 calls · 15 DB · 2 HTTP", 1, true), text)
  local first, charge = h.find_line(view.buf, "PlaceOrder"), h.find_line(view.buf, "api.stripe.com")
  assert(first and charge and first < charge, "calls in start order\n" .. text)
  assert(not text:find("LoadCart", 1, true), "server spans are not calls")
  vim.api.nvim_win_set_cursor(view.win, { charge, 0 })
  h.press("<CR>")
  h.wait_for("the call's details", function()
    return view.detail_win and vim.api.nvim_win_is_valid(view.detail_win)
  end)
  h.press("q")
  h.press("n")
  h.wait_for("back to the flame graph", function()
    return view.view == "flame"
  end)
  assert(view.critical_path, "and the critical path stays marked")

  h.press("s")
  h.wait_for("span statistics", function()
    return view.view == "stats"
  end)
  local stats = h.lines(view.buf)
  local row = stats[h.find_line(view.buf, "postgres SELECT items")]
  assert(row:find("^postgres SELECT items%s+12%s+40.3ms"), row)
end)
