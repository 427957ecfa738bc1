-- Every float readable in an 80-column editor: drawings, footers, the keys list and the
-- status fit their window (or wrap, for prose), and nothing is cut mid-word.

local h = require("helpers")

---Fails naming the lines of `buf` wider than its window `win` (in display cells).
local function assert_fits(win, buf, what)
  local width = vim.api.nvim_win_get_width(win)
  local wide = {}
  for _, line in ipairs(h.lines(buf)) do
    if vim.fn.strdisplaywidth(line) > width then
      table.insert(wide, line)
    end
  end
  assert(#wide == 0, ("%s: lines wider than %d columns:\n%s"):format(what, width, table.concat(wide, "\n")))
end

---The footer a float shows, as text.
local function footer(win)
  local chunks = vim.api.nvim_win_get_config(win).footer or {}
  return table.concat(vim.tbl_map(function(chunk)
    return chunk[1]
  end, chunks))
end

local function assert_footer_fits(win, what)
  local text = footer(win)
  local width = vim.api.nvim_win_get_width(win)
  assert(vim.fn.strdisplaywidth(text) <= width, ("%s: footer %q is wider than %d"):format(what, text, width))
  assert(text:find("? keys", 1, true), what .. ": the footer points to the keys list: " .. text)
end

it("at 80 columns every trace view, its footer, the keys and the span details fit", function()
  vim.o.columns = 80
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  assert_fits(view.win, view.buf, "the flame graph")
  assert_footer_fits(view.win, "the trace float")
  for _, step in ipairs({ { "c", "flame" }, { "w", "waterfall" }, { "n", "network" }, { "s", "stats" } }) do
    local before = table.concat(h.lines(view.buf), "\n")
    h.press(step[1])
    h.wait_for("the " .. step[2] .. " view after " .. step[1], function()
      return view.view == step[2] and table.concat(h.lines(view.buf), "\n") ~= before
    end)
    assert_fits(view.win, view.buf, "the " .. step[2] .. " view")
    assert_footer_fits(view.win, "the " .. step[2] .. " view")
  end
  local stats = table.concat(h.lines(view.buf), "\n")
  assert(stats:find("% self", 1, true), "the share of self time stays at 80 columns:\n" .. stats)
  assert(stats:find("checkout PlaceOrder", 1, true) and stats:find("checkout POST payment/Charge", 1, true), stats)

  h.press("?")
  local keys_win = vim.api.nvim_get_current_win()
  assert(keys_win ~= view.win, "? opens the keys float")
  local keys_buf = vim.api.nvim_win_get_buf(keys_win)
  assert_fits(keys_win, keys_buf, "the keys float")
  local keys = table.concat(h.lines(keys_buf), "\n")
  for _, expected in ipairs({ "q / <Esc>", "<CR>", "critical path", "network calls", "statistics", "waterfall" }) do
    assert(keys:find(expected, 1, true), "the keys float lists " .. expected .. ":\n" .. keys)
  end
  assert(keys:find("(again: back)", 1, true), "descriptions wrap instead of being cut:\n" .. keys)
  h.press("q")
  assert(vim.api.nvim_get_current_win() == view.win, "q closes the keys float")

  h.press("s")
  h.wait_for("the waterfall again", function()
    return view.view == "waterfall"
  end)
  local line = h.find_line(view.buf, "payment: Charge")
  local col = h.lines(view.buf)[line]:find("payment: Charge", 1, true)
  vim.api.nvim_win_set_cursor(view.win, { line, col })
  local detail = h.open_detail()
  assert(detail:find("payment: Charge", 1, true), detail)
  assert_fits(view.detail_win, vim.api.nvim_win_get_buf(view.detail_win), "the span details")
end)

it("at 80 columns the critical path is a line through the bars, in no error colour", function()
  vim.o.columns = 80
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local view = h.wait_view()
  h.press("c")
  h.wait_for("the critical path", function()
    return view.critical_path == true
  end)
  local text = table.concat(h.lines(view.buf), "\n")
  assert(text:find("━━", 1, true), "critical bar cells are a line, visible without colour:\n" .. text)
  assert(text:find("━ critical path: 1.60s of 1.60s", 1, true), "the footer names the mark:\n" .. text)
  local groups = h.groups(view.buf)
  assert(groups.VitalsCriticalLabel, "labels over the path are marked: " .. vim.inspect(groups))
  assert(not groups.VitalsCriticalPath, "no colour of its own for the path's bars")
  local get = function(name)
    return vim.api.nvim_get_hl(0, { name = name, link = false })
  end
  local label, error_fg = get("VitalsCriticalLabel"), get("DiagnosticError").fg
  assert(label.bg and label.bg ~= error_fg and label.bg ~= get("VitalsFlameError").bg, "the band is not error red")
  for i = 1, 20 do
    local service = get("VitalsFlame" .. i)
    assert(service.bg ~= error_fg and service.bg ~= get("VitalsFlameError").bg, "VitalsFlame" .. i .. " is red")
  end
end)

it("at 80 columns the status float wraps what does not fit instead of cutting it", function()
  vim.o.columns = 80
  local port = h.free_port()
  local store = vim.fn.tempname() .. "-a-store-folder-with-a-long-name/traces.db"
  h.setup({ trace_provider = "otlp", store_path = store, trace_endpoint = "127.0.0.1:" .. port })
  h.wait_for("the receiver", function()
    return h.status_text():find("receiving on http", 1, true)
  end)
  require("vitals").status()
  h.wait_for("the status float", function()
    return #h.floats() > 0
  end)
  local win = h.floats()[#h.floats()]
  local lines = h.lines(vim.api.nvim_win_get_buf(win))
  local width = vim.api.nvim_win_get_width(win)
  local overflow = vim.iter(lines):any(function(line)
    return vim.fn.strdisplaywidth(line) > width
  end)
  assert(overflow, "the store's path is wider than the float:\n" .. table.concat(lines, "\n"))
  assert(vim.wo[win].wrap, "a line wider than the float wraps instead of being cut")
  local rows = vim.api.nvim_win_text_height(win, {}).all
  assert(rows > #lines and vim.api.nvim_win_get_height(win) >= rows, "the float is tall enough for the wrapped lines")
end)

it("at 80 columns the service map keeps each service's health and the bottleneck", function()
  vim.o.columns = 80
  h.setup({ trace_provider = "file", trace_endpoint = h.root .. "/samples/shop-traces.json" })
  vim.cmd("VitalsServiceMap")
  h.wait_for("the map", function()
    local map = require("vitals.service_map").current
    return map and vim.api.nvim_win_is_valid(map.win)
  end)
  local map = require("vitals.service_map").current
  assert_fits(map.win, map.buf, "the service map")
  assert_footer_fits(map.win, "the service map")
  local text = table.concat(h.lines(map.buf), "\n")
  assert(text:find("payment", 1, true) and text:find("◆ bottleneck", 1, true), text)
  for _, health in ipairs({ "· critical", "· degraded", "· healthy" }) do
    assert(text:find(health, 1, true), "the health column stays: " .. health .. "\n" .. text)
  end
  h.press("?")
  local keys = table.concat(h.lines(vim.api.nvim_get_current_buf()), "\n")
  assert(keys:find("the whole map again", 1, true), "the keys float lists what the footer left out:\n" .. keys)
end)
