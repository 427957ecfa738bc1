-- Nothing a command shows asks for Enter or pages: every step of every interactive
-- command, in a real Neovim in tmux, with Neovim's own vim.ui.select and vim.ui.input.

local h = require("helpers")
local terminal = require("terminal")

---A folder of trace files: the demo shop's five traces `copies` times over (new trace
---ids), so that a search finds more results than a screen has lines.
---@param copies integer
---@return string folder
local function shop_traces(copies)
  local source = table.concat(vim.fn.readfile(h.root .. "/samples/shop-traces.json"), "\n")
  local ids = vim.tbl_map(function(trace)
    return trace.traceID
  end, vim.json.decode(source).data)
  local folder = vim.fn.tempname() .. "-traces"
  vim.fn.mkdir(folder, "p")
  for copy = 0, copies - 1 do
    local text = source
    for _, id in ipairs(ids) do
      text = text:gsub(id, ("%x"):format(copy) .. id:sub(2))
    end
    vim.fn.writefile(vim.split(text, "\n"), ("%s/copy-%d.json"):format(folder, copy))
  end
  return folder
end

---A project with the file the shop's checkout handler spans point at
---(web/handlers/checkout.py:42).
---@return string folder
local function shop_project()
  local folder = vim.fn.tempname() .. "-project"
  vim.fn.mkdir(folder .. "/web/handlers", "p")
  local lines = {}
  for i = 1, 80 do
    lines[i] = ("# line %d"):format(i)
  end
  vim.fn.writefile(lines, folder .. "/web/handlers/checkout.py")
  return folder
end

---Picks the item of the picker float that reads `label` (searching the list, as a
---person would), and presses Enter.
local function pick(term, label)
  term:type("/" .. label)
  term:keys("Enter")
  term:keys("Enter")
end

---The float's title line, e.g. "╭──── Service (7) ────╮".
local function line_with(screen, text)
  for _, line in ipairs(vim.split(screen, "\n")) do
    if line:find(text, 1, true) then
      return line
    end
  end
end

if not terminal.available() then
  return
end

for _, size in ipairs({ { 80, 24 }, { 200, 50 } }) do
  local columns, lines = size[1], size[2]
  it(("%dx%d: :VitalsSearch service → operation → trace, in floats, with no Enter to press"):format(columns, lines), function()
    local term = terminal.start({
      columns = columns,
      lines = lines,
      setup = { trace_provider = "file", trace_endpoint = shop_traces(5) },
    })
    term:type(":VitalsSearch")
    term:keys("Enter")
    local screen = term:expect("Service (7)", "after :VitalsSearch")
    assert(line_with(screen, "cart"), "the services are listed:\n" .. screen)

    pick(term, "frontend")
    term:expect("Operation of frontend (5)", "after picking the service")
    term:keys("Enter") -- the cursor starts on the first item: all operations
    screen = term:expect("Traces of frontend (20)", "after picking the operation")
    assert(not screen:find("Type number", 1, true), "no inputlist:\n" .. screen)

    term:keys("Enter")
    screen = term:expect("q close", "after picking the trace")
    assert(line_with(screen, "frontend: POST /checkout"), "the trace float is open:\n" .. screen)
    -- The progress is gone once the work is done, and never was a message to keep.
    assert(not term:command_line():find("Vitals", 1, true), "progress left behind: " .. term:command_line())
    local messages = term:messages()
    assert(not messages:find("loading", 1, true) and not messages:find("searching", 1, true), messages)
    term:stop()
  end)
end

it("80x24: :VitalsAnalyze picks the service in a float and opens the report without a prompt", function()
  local term = terminal.start({ setup = { trace_provider = "file", trace_endpoint = shop_traces(1) } })
  term:type(":VitalsAnalyze")
  term:keys("Enter")
  term:expect("Analyze which service? (7)", "after :VitalsAnalyze")
  pick(term, "frontend")
  term:expect("Vitals analysis: frontend", "after picking the service")
  assert(not term:command_line():find("analyzing", 1, true), "progress left behind: " .. term:command_line())
  term:stop()
end)

it("80x24: :VitalsTraceHere lists 20 traces in a float (never a pager) and opens the chosen one", function()
  local project = shop_project()
  local term = terminal.start({
    cwd = project,
    args = { "web/handlers/checkout.py" },
    setup = { trace_provider = "file", trace_endpoint = shop_traces(5) },
  })
  term:type(":VitalsAnalyze frontend")
  term:keys("Enter")
  term:expect("Vitals analysis: frontend", "after :VitalsAnalyze frontend")
  term:keys("q")
  term:type("42G:VitalsTraceHere")
  term:keys("Enter")
  local screen = term:expect("Traces through this line, slowest first (20)", "after :VitalsTraceHere")
  assert(not screen:find("-- More --", 1, true), screen)
  term:keys("Enter")
  term:expect("q close", "after picking a trace")
  term:stop()
end)

it("80x24: :VitalsConfigure picks the provider in a float and reports the connection without a prompt", function()
  local traces = shop_traces(1)
  local term = terminal.start({ setup = { trace_provider = "jaeger", trace_endpoint = "http://127.0.0.1:9" } })
  term:type(":VitalsConfigure")
  term:keys("Enter")
  term:expect("Trace provider (5)", "after :VitalsConfigure")
  pick(term, "file ")
  term:expect("Trace file or folder:", "after picking the file provider")
  term:keys("C-u")
  term:type(traces)
  term:keys("Enter")
  term:expect("Connected to file " .. traces, "after giving the folder")
  term:stop()
end)

it("progress fits one line and goes when the work ends, even in 50 columns", function()
  local term = terminal.start({
    columns = 50,
    setup = { trace_provider = "jaeger", trace_endpoint = h.jaeger("slow"), timeout_ms = 30000 },
  })
  term:type(":VitalsTrace " .. h.slow_trace)
  term:keys("Enter")
  -- The stand-in answers after 5 s: meanwhile the progress is on the command line.
  term:expect("Vitals:", "while the trace loads")
  local progress = term:command_line()
  assert(progress:find("…", 1, true), "cut to fit: " .. progress)
  assert(vim.fn.strdisplaywidth(progress) <= 50, progress)
  term:expect("q close", "once the trace arrived", 20000)
  assert(not term:command_line():find("Vitals", 1, true), "progress left behind: " .. term:command_line())
  term:stop()
end)

for _, columns in ipairs({ 80, 200 }) do
  it(("%dx24: :VitalsExport says where it wrote (or why not) on one line, and :VitalsOpen opens the file"):format(columns), function()
    local id = "0" .. h.slow_trace:sub(2) -- its copy in shop_traces(1)
    local folder = vim.fn.tempname() .. "-export"
    vim.fn.mkdir(folder, "p")
    local term = terminal.start({
      columns = columns,
      cwd = folder,
      setup = { trace_provider = "file", trace_endpoint = shop_traces(1) },
    })
    term:type(":VitalsTrace " .. id)
    term:keys("Enter")
    term:expect("q close", "after :VitalsTrace")
    term:type(":VitalsExport")
    term:keys("Enter")
    term:expect("Wrote vitals-" .. id, "after :VitalsExport")
    term:type(":VitalsExport")
    term:keys("Enter")
    term:expect(columns > 80 and "exists: give another path" or "Vitals: vitals-" .. id, "after exporting again")
    term:keys("q")
    term:type(":VitalsOpen vitals-" .. id .. ".json")
    term:keys("Enter")
    term:expect("q close", "after :VitalsOpen")
    term:stop()
    vim.fn.delete(folder, "rf")
  end)
end
