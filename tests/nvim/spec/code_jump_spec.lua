-- gd and <C-]> in a span's details jump to the code that made the span, matched as the
-- annotations match it, and never to a file outside the working directory.

local h = require("helpers")

local TRACE = "0af7651916cd43dd8448eb211c80319c"

---A Jaeger JSON trace whose spans name code locations: one in the project (by a
---container path), one with none (its parent's counts), and two that lead out of it.
local function write_trace(folder)
  local start = 1700000000000000
  local function span(id, name, parent, offset, tags)
    local entry = {
      traceID = TRACE,
      spanID = id,
      operationName = name,
      references = parent and { { refType = "CHILD_OF", traceID = TRACE, spanID = parent } } or {},
      startTime = start + offset,
      duration = 1000,
      tags = {},
      logs = {},
      processID = "p1",
    }
    for key, value in pairs(tags) do
      table.insert(entry.tags, { key = key, type = type(value) == "number" and "int64" or "string", value = value })
    end
    return entry
  end
  local trace = {
    traceID = TRACE,
    processes = { p1 = { serviceName = "web", tags = {} } },
    spans = {
      span("a000000000000001", "GET /orders", nil, 0, { ["code.filepath"] = "/app/web/handlers/orders.py", ["code.lineno"] = 12 }),
      span("a000000000000002", "SELECT orders", "a000000000000001", 1000, { ["db.system"] = "postgresql" }),
      span("a000000000000003", "read_secrets", "a000000000000001", 2000, { ["code.filepath"] = "/etc/passwd", ["code.lineno"] = 1 }),
      span("a000000000000004", "climb_out", "a000000000000001", 3000, { ["code.filepath"] = "../outside.py", ["code.lineno"] = 1 }),
    },
  }
  trace.spans[1].duration = 5000
  local path = folder .. "/trace.json"
  vim.fn.writefile({ vim.json.encode({ data = { trace } }) }, path)
  return path
end

---A project folder (the working directory) holding web/handlers/orders.py, with
---outside.py next to it, outside.
local function project()
  local parent = vim.fn.tempname() .. "-parent"
  local folder = parent .. "/shop"
  vim.fn.mkdir(folder .. "/web/handlers", "p")
  local lines = {}
  for i = 1, 30 do
    lines[i] = ("# orders line %d"):format(i)
  end
  vim.fn.writefile(lines, folder .. "/web/handlers/orders.py")
  vim.fn.writefile({ "# outside the project" }, parent .. "/outside.py")
  return folder
end

---Opens the trace's waterfall and the details of the span named `name`.
local function details_of(name)
  h.reset()
  vim.cmd("VitalsTrace " .. TRACE .. " waterfall")
  local view = h.wait_view()
  -- The span's row: the last line naming it (the first is the trace's header).
  local lines = h.lines(view.buf)
  local line = #lines
  while line > 0 and not lines[line]:find(name, 1, true) do
    line = line - 1
  end
  assert(line > 0, name .. " is not drawn")
  vim.api.nvim_win_set_cursor(view.win, { line, lines[line]:find(name, 1, true) - 1 })
  return h.open_detail()
end

local cwd = vim.fn.getcwd()

local function in_project(test)
  return function()
    local folder = project()
    vim.cmd.cd(folder)
    local ok, err = pcall(test, folder)
    vim.cmd.cd(cwd)
    vim.cmd("silent! %bwipeout!")
    assert(ok, err)
  end
end

it("gd and <C-]> in span details open the span's code at its line (a container path found by its tail)", in_project(function(folder)
  h.setup({ trace_provider = "file", trace_endpoint = write_trace(folder) })
  for _, key in ipairs({ "gd", "<C-]>" }) do
    details_of("GET /orders")
    h.press(key)
    h.wait_for("the code", function()
      return vim.api.nvim_buf_get_name(0):find("web/handlers/orders.py$")
    end)
    assert(vim.api.nvim_win_get_cursor(0)[1] == 12, key .. ": on line 12")
    assert(#h.floats() == 0, key .. ": the floats made way for the code")
  end
  -- A span without a location of its own jumps to its nearest ancestor's.
  details_of("SELECT orders")
  h.press("gd")
  h.wait_for("the parent's code", function()
    return vim.api.nvim_buf_get_name(0):find("web/handlers/orders.py$")
  end)
end))

it("gd never opens a file outside the working directory because a trace names it", in_project(function(folder)
  h.setup({ trace_provider = "file", trace_endpoint = write_trace(folder) })
  for _, case in ipairs({ { "read_secrets", "/etc/passwd" }, { "climb_out", "../outside.py" } }) do
    details_of(case[1])
    h.press("gd")
    h.wait_for("the refusal", function()
      return h.message(case[2] .. " is not a file under the working directory")
    end)
    assert(vim.bo.filetype == "vitals-span", "the details stay open")
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      local name = vim.api.nvim_buf_get_name(buf)
      assert(not name:find("passwd") and not name:find("outside.py"), "opened " .. name)
    end
  end
end))

it("a trace's path never leads out of the working directory: ~, $HOME and symlinks stay inside", in_project(function(folder)
  local paths = require("vitals.paths")
  local parent = vim.fn.fnamemodify(folder, ":h")
  local home = vim.env.HOME
  vim.env.HOME = parent
  vim.fn.mkdir(parent .. "/vendor", "p")
  vim.fn.writefile({ "# outside" }, parent .. "/vendor/lib.py")
  vim.uv.fs_symlink(parent .. "/outside.py", folder .. "/web/link.py")
  vim.uv.fs_symlink(parent .. "/vendor", folder .. "/vendor")
  local found = {}
  for _, path in ipairs({ "~/outside.py", "$HOME/outside.py", "${HOME}/outside.py", "web/link.py", "/app/vendor/lib.py", "/etc/passwd" }) do
    found[path] = paths.local_file(path) or false
  end
  vim.env.HOME = home
  for path, file in pairs(found) do
    assert(file == false, path .. " led to " .. tostring(file))
  end
  assert(paths.local_file("$HOME/web/handlers/orders.py") == folder .. "/web/handlers/orders.py", "a literal $HOME folder is no folder here; the tail under the working directory is")
end))
