local h = require("helpers")

local annotate = require("vitals.annotate")

---The text Vitals wrote at the end of a 1-based line.
local function annotation_at(buf, line)
  local text = {}
  local marks = vim.api.nvim_buf_get_extmarks(buf, annotate.ns.annotations, { line - 1, 0 }, { line - 1, -1 }, { details = true })
  for _, mark in ipairs(marks) do
    for _, chunk in ipairs(mark[4].virt_text or {}) do
      table.insert(text, chunk[1])
    end
  end
  return table.concat(text)
end

---A backend that knows no traces at all: a colleague's editor.
local function colleague()
  local empty = vim.fn.tempname()
  vim.fn.mkdir(empty, "p")
  h.setup({ trace_provider = "file", trace_endpoint = empty })
end

it(":VitalsExport writes the open trace as OTLP JSON, never over a file, and :VitalsOpen reads it back without the backend", function()
  local dir = vim.fs.normalize(vim.fn.tempname())
  vim.fn.mkdir(dir, "p")
  vim.cmd.cd(dir)
  h.setup({ trace_endpoint = h.jaeger("v1") })
  vim.cmd("VitalsTrace " .. h.slow_trace .. " waterfall")
  local view = h.wait_view()
  local drawn = table.concat(h.lines(view.buf), "\n")
  vim.cmd("VitalsExport")
  h.wait_for("the export", function()
    return h.message("Wrote ")
  end)
  local file = dir .. "/vitals-" .. h.slow_trace .. ".json"
  assert(h.message("Wrote vitals-" .. h.slow_trace .. ".json (26 spans)"), vim.inspect(h.messages))
  local written = vim.json.decode(table.concat(vim.fn.readfile(file), "\n"))
  assert(written.resourceSpans and #written.resourceSpans > 0, "OTLP JSON")
  assert(written.resourceSpans[1].scopeSpans[1].spans[1].traceId == h.slow_trace)

  vim.cmd("VitalsExport " .. h.slow_trace)
  h.wait_for("the refusal", function()
    return h.message("exists: give another path")
  end)
  vim.cmd("VitalsExport " .. h.slow_trace .. " copy.json")
  h.wait_for("the second export", function()
    return h.message("Wrote copy.json")
  end)
  assert(vim.fn.filereadable(dir .. "/copy.json") == 1)
  h.reset()

  colleague()
  vim.cmd("VitalsOpen vitals-" .. h.slow_trace .. ".json")
  local opened = h.wait_view()
  assert(opened.trace_id == h.slow_trace, opened.trace_id)
  vim.cmd("VitalsTrace " .. h.slow_trace .. " waterfall")
  h.wait_for("the waterfall", function()
    local current = require("vitals.ui.trace_view").current()
    return current and current.view == "waterfall"
  end)
  local again = table.concat(h.lines(require("vitals.ui.trace_view").current().buf), "\n")
  assert(again == drawn, "the same waterfall as from the backend:\n" .. drawn .. "\n---\n" .. again)
  h.reset()

  vim.cmd("VitalsOpen nothing-here.json")
  h.wait_for("the error", function()
    return h.message("nothing-here.json")
  end)
  assert(#h.floats() == 0)
  vim.cmd.cd(h.root)
  vim.fn.delete(dir, "rf")
end)

it("a trace exported with its code insights annotates the same lines when a colleague opens it", function()
  local dir = h.annotated_project()
  vim.cmd.cd(dir)
  h.setup({ trace_provider = "file", trace_endpoint = dir .. "/trace.json", path_mappings = { ["/build/x/"] = dir .. "/" } })
  vim.cmd("VitalsExport c0ffee shared.json")
  h.wait_for("the export", function()
    return h.message("Wrote shared.json")
  end)
  vim.fn.delete(dir .. "/trace.json")
  annotate.clear()
  h.reset()

  colleague()
  vim.cmd.edit("shop/orders.py")
  local buf = vim.api.nvim_get_current_buf()
  vim.cmd("VitalsOpen shared.json")
  local view = h.wait_view()
  assert(view.trace_id:find("c0ffee", 1, true), view.trace_id)
  h.wait_for("the annotations", function()
    return annotation_at(buf, 12) ~= ""
  end)
  local text = annotation_at(buf, 12)
  assert(text:find("⏱ p95 100ms · 100% of GET /checkout · 1 call", 1, true), text)
  assert(text:find("N+1: 6× SELECT", 1, true), "the findings travel too: " .. text)
  vim.cmd("silent! %bwipeout!")
  vim.cmd.cd(h.root)
  vim.fn.delete(dir, "rf")
end)
