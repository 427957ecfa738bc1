local h = require("helpers")

local annotate = require("vitals.annotate")

it("spans the OpenTelemetry SDK sent with memory.allocated give per-line allocations and the memory flame graph", function()
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local dir = vim.fs.normalize(vim.fn.tempname())
  vim.fn.mkdir(dir .. "/shop", "p")
  local source = {}
  for i = 1, 20 do
    source[i] = ("# line %d"):format(i)
  end
  vim.fn.writefile(source, dir .. "/shop/report.py")
  vim.fn.writefile(source, dir .. "/shop/views.py")
  local url = h.receive()
  local sent = vim.fn.systemlist({ python, h.root .. "/tests/otel/send_memory.py", url })
  assert(vim.v.shell_error == 0 and #sent == 4, table.concat(sent, "\n"))
  vim.cmd.cd(dir)
  vim.cmd.edit("shop/report.py")
  local buf = vim.api.nvim_get_current_buf()

  -- Per request: 10, 20, 30 and 40 MB at line 9; 2 × 500 kB at line 4; 2 MB in the handler.
  annotate.clear()
  vim.cmd("VitalsAnnotate reports")
  h.wait_for("the annotations", function()
    return h.annotation_at(buf, 9) ~= ""
  end)
  assert(h.annotation_at(buf, 9):find("▣ 25.0 MB per request · p95 40.0 MB", 1, true), h.annotation_at(buf, 9))
  assert(h.annotation_at(buf, 4):find("▣ 1.00 MB per request · p95 1.00 MB", 1, true), h.annotation_at(buf, 4))
  assert(h.annotation_at(buf, 3) == "", "nothing on a line no span names: " .. h.annotation_at(buf, 3))
  vim.cmd.edit("shop/views.py")
  local views = vim.api.nvim_get_current_buf()
  h.wait_for("the handler's line", function()
    return h.annotation_at(views, 3) ~= ""
  end)
  assert(h.annotation_at(views, 3):find("▣ 2.00 MB per request · p95 2.00 MB", 1, true), h.annotation_at(views, 3))

  vim.cmd("VitalsFlame reports memory")
  local flame = h.wait_float("vitals-flame")
  local text = table.concat(h.lines(flame), "\n")
  for _, expected in ipairs({
    "Aggregated flame graph · reports, last 1h · 4 traces · 112 MB allocated",
    "width = share of allocated bytes on each call path",
    "Most allocated",
    "89.3%   100 MB      4  reports GET /report › reports build_report",
    "Most allocating code",
    "25.0 MB  40.0 MB  shop/report.py:9 (build_report)",
  }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end
  assert(not text:find("self time", 1, true), "a memory profile says nothing of time:\n" .. text)
  -- <CR> on the heaviest path opens the span that allocated most: the last request's.
  local row = h.find_line(flame, "89.3%   100 MB")
  local path = vim.api.nvim_buf_get_lines(flame, row - 1, row, false)[1]:find("reports GET", 1, true)
  vim.api.nvim_win_set_cursor(0, { row, path })
  h.press("<CR>")
  local view = h.wait_view()
  assert(view.trace_id == sent[4], "the 40 MB request: " .. view.trace_id)
  local details = h.open_detail()
  assert(details:find("memory.allocated", 1, true) and details:find("40000000", 1, true), details)
  vim.cmd("silent! %bwipeout!")
  vim.cmd.cd(h.root)
  vim.fn.delete(dir, "rf")
end)
