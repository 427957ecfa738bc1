---@mod vitals.ui.trace_view The trace float: flame graph, waterfall and span details

local client = require("vitals.client")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")

local M = {}

---@class vitals.TraceView
---@field view_id integer the host's id for this view
---@field view "flame"|"waterfall"|"network"|"stats"
---@field critical_path boolean whether the critical path is marked
---@field trace_id string
---@field buf integer
---@field win integer
---@field detail_win? integer

---Open trace views by buffer.
---@type table<integer, vitals.TraceView>
M.open_views = {}

---The trace opened last, for commands whose trace id is optional.
---@type string?
M.last_trace_id = nil

local FOOTER = "q close · <CR> details · L logs · w waterfall/flame · c critical path · n calls · s stats · ? keys"

---Keys of the trace float that ask the host for another drawing: key, what it does, the
---host's view action. (`q`, `<CR>` and `?`, which lists them all, are mapped besides.)
local KEYS = {
  { "w", "switch between flame graph and waterfall", "toggle" },
  { "c", "mark the critical path (a dark line through the bars), or stop marking it", "critical_path" },
  { "n", "network calls in start order (again: back)", "network" },
  { "s", "span statistics by service and operation (again: back)", "stats" },
}

---The view of the current buffer, if it is a trace float.
---@return vitals.TraceView?
function M.current()
  return M.open_views[vim.api.nvim_get_current_buf()]
end

---@class vitals.SpanFloat
---@field action string the host's view action: "detail", "logs" or "logs_tree"
---@field width integer
---@field footer string|fun(drawing: table): string
---@field filetype string
---@field cursor? integer[] the (1-based line, col) of the span in the trace float; the cursor's by default

---Opens a float about the span under the cursor of trace float `view` (its details, its
---log lines), drawn by the host, in place of the one open before; `q` goes back to the
---trace. `keys(drawing, win)` gives the float's other keys.
---@param view vitals.TraceView
---@param request vitals.SpanFloat
---@param keys fun(drawing: table, win: integer): table<string, table>
function M.span_float(view, request, keys)
  local cursor = request.cursor or vim.api.nvim_win_get_cursor(view.win)
  client.call("view_action", {
    view_id = view.view_id,
    action = request.action,
    line = cursor[1] - 1,
    col = cursor[2],
    width = request.width,
  }, function(err, drawing)
    if err then
      return notify.error(err)
    end
    if not drawing then
      return notify.info("No span under the cursor")
    end
    float.close(view.detail_win)
    local footer = type(request.footer) == "function" and request.footer(drawing) or request.footer
    local buf, win = float.open(drawing, { width = request.width, footer = footer, filetype = request.filetype })
    view.detail_win = win
    local function back()
      float.close(win)
      if vim.api.nvim_win_is_valid(view.win) then
        vim.api.nvim_set_current_win(view.win)
      end
    end
    local maps = keys(drawing, win)
    maps.q = { back, "back to the trace" }
    maps["<Esc>"] = { back, "back to the trace" }
    float.map(buf, maps)
  end)
end

local function show_detail(view)
  M.span_float(view, {
    action = "detail",
    width = math.min(100, float.content_width()),
    footer = function(drawing)
      return (drawing.code and "q back · gd code" or "q back") .. (#drawing.jumps > 0 and " · <CR> frame" or "")
    end,
    filetype = "vitals-span",
  }, function(drawing, win)
    local function to_code()
      local paths = require("vitals.paths")
      local file, why = paths.code_file(drawing.code)
      if not file then
        return notify.info(why)
      end
      float.close(win)
      float.close(view.win)
      paths.edit(file, drawing.code.lineno)
    end
    return {
      ["<CR>"] = {
        function()
          require("vitals.logs").follow_frame(win, drawing.jumps, { win, view.win })
        end,
        "on a stack frame: open its code",
      },
      gd = { to_code, "go to the code that made this span" },
      ["<C-]>"] = { to_code, "go to the code that made this span" },
    }
  end)
end

---Replaces the float's content with a new drawing from the host.
local function repaint(view, payload)
  view.view = payload.view
  view.critical_path = payload.critical_path
  float.paint(view.buf, payload)
  float.relayout(view.win, payload, FOOTER)
end

local function act(view, action)
  client.call("view_action", { view_id = view.view_id, action = action, width = float.content_width() }, function(err, payload)
    if err then
      return notify.error(err)
    end
    if vim.api.nvim_buf_is_valid(view.buf) then
      repaint(view, payload)
    end
  end)
end

---Shows a trace the host has drawn (the answer to `open_trace`).
---@param payload table the host's ViewPayload
---@return vitals.TraceView
function M.show(payload)
  local buf, win = float.open(payload, { footer = FOOTER })
  if payload.focus then
    pcall(vim.api.nvim_win_set_cursor, win, { payload.focus[1] + 1, payload.focus[2] })
  end
  ---@type vitals.TraceView
  local view = {
    view_id = payload.view_id,
    view = payload.view,
    critical_path = payload.critical_path,
    trace_id = payload.trace_id,
    buf = buf,
    win = win,
  }
  M.open_views[buf] = view
  M.last_trace_id = view.trace_id
  local function close()
    float.close(view.detail_win)
    float.close(view.win)
  end
  local maps = {
    q = { close, "close the trace" },
    ["<Esc>"] = { close, "close the trace" },
    ["<CR>"] = { function() show_detail(view) end, "details of the span under the cursor" },
    l = { function() require("vitals.links").follow(view) end, "spans linked to this one, both ways: open one" },
    L = { function() require("vitals.logs").of_span(view) end, "events and logs of the span (again: with the spans under it)" },
  }
  for _, key in ipairs(KEYS) do
    maps[key[1]] = { function() act(view, key[3]) end, key[2] }
  end
  float.map(buf, maps)
  float.on_resize_and_close(buf, function()
    act(view, "resize")
  end, function()
    M.open_views[buf] = nil
    client.call("close_view", { view_id = view.view_id }, function() end)
  end)
  return view
end

---Fetches a trace (through the host) and opens it.
---@param trace_id string
---@param opts? {view?: "flame"|"waterfall"|"network"|"stats", span_id?: string, marks?: string[]} span_id: put the cursor on it; marks: spans to mark
function M.open(trace_id, opts)
  opts = opts or {}
  client.fetch("open_trace", {
    trace_id = trace_id,
    view = opts.view or "flame",
    width = float.content_width(),
    span_id = opts.span_id or "",
    marks = opts.marks or {},
  }, "Loading trace " .. trace_id .. "…", M.show)
end

return M
