---@mod vitals.annotate Performance annotations on the lines of code that cost them
---
---The host turns traces into annotations (code location, text, severity, share of
---request time, the traces through that code); this module puts them on the lines of
---open buffers as end-of-line virtual text, a severity badge and, for lines at or above
---`performance_threshold` % of request time, a line highlight graded by heat.

local config = require("vitals.config")
local paths = require("vitals.paths")

local M = {}

---One extmark namespace per feature, so each can be cleared alone.
M.ns = {
  annotations = vim.api.nvim_create_namespace("vitals_annotations"),
  hot = vim.api.nvim_create_namespace("vitals_hot"),
}

---Heat grades: a line at or above `HEAT[i]` % of request time uses VitalsHot{i}.
M.HEAT = { 0, 10, 20, 40, 60 }

---@class vitals.Annotation
---@field filepath? string
---@field lineno? integer
---@field function? string
---@field kind string "timing", "n_plus_one", "slow_query", "error_root_cause", …
---@field text string
---@field severity "info"|"warn"|"error"
---@field percent number
---@field traces vitals.TraceRef[] slowest first, each with its own spans to mark

---The annotations last received, applied to buffers as they open.
---@type vitals.Annotation[]
M.current = {}

---What was placed, by buffer and 1-based line.
---@type table<integer, table<integer, vitals.Annotation[]>>
M.placed = {}

local KIND_GROUP = {
  timing = "VitalsAnnotation",
  n_plus_one = "VitalsNPlusOne",
  slow_query = "VitalsSlowQuery",
  error_root_cause = "VitalsErrorOrigin",
}
local SEVERITY_RANK = { info = 1, warn = 2, error = 3 }
local BADGE = { info = "VitalsBadgeInfo", warn = "VitalsBadgeWarn", error = "VitalsBadgeError" }

---The heat grade (1–#HEAT) of a share of request time.
---@param percent number
---@return integer
function M.heat(percent)
  local grade = 1
  for i, from in ipairs(M.HEAT) do
    if percent >= from then
      grade = i
    end
  end
  return grade
end

---The last part of a function name: `Orders.load` → `load`, `shop::load` → `load`.
local function short_name(name)
  return name:match("([%w_]+)[^%w_]*$") or name
end

local DEFINITION_NODES = {
  function_definition = true,
  function_declaration = true,
  method_definition = true,
  method_declaration = true,
  function_item = true,
  method = true,
  local_function = true,
}

---1-based line of a function's definition in `buf`, by treesitter when the buffer has
---a parser, else by a pattern (a definition keyword, then the name and `(`).
---@param buf integer
---@param lines string[]
---@param name string
---@return integer?
function M.find_definition(buf, lines, name)
  local wanted = short_name(name)
  local ok, parser = pcall(vim.treesitter.get_parser, buf)
  if ok and parser then
    local tree = parser:parse()[1]
    local found
    local function visit(node)
      if found then
        return
      end
      if DEFINITION_NODES[node:type()] then
        local name_node = node:field("name")[1]
        if name_node and short_name(vim.treesitter.get_node_text(name_node, buf)) == wanted then
          found = node:start() + 1
          return
        end
      end
      for child in node:iter_children() do
        visit(child)
      end
    end
    if tree then
      visit(tree:root())
    end
    if found then
      return found
    end
  end
  local name_pattern = "%f[%w_]" .. vim.pesc(wanted) .. "%s*[%(<=:]"
  for i, line in ipairs(lines) do
    for _, keyword in ipairs({ "def", "func", "function", "fn", "fun", "sub" }) do
      if line:find("%f[%w]" .. keyword .. "%f[%W]") and line:find(name_pattern) then
        return i
      end
    end
  end
  return nil
end

---Finds the lines of `buf` annotations belong on. Paths are matched once each and the
---buffer's text is read only when a location is known by function alone.
---@param buf integer
---@param absolute string the buffer's file, absolute and normalized
local function locator(buf, absolute)
  local cwd = vim.fs.normalize(vim.fn.getcwd())
  local line_count = vim.api.nvim_buf_line_count(buf)
  local matched, defined, lines = {}, {}, nil
  ---@param annotation vitals.Annotation
  ---@return integer? line 1-based, or nil when it is about another file
  return function(annotation)
    local filepath, lineno, fn = annotation.filepath, annotation.lineno, annotation["function"]
    if filepath then
      if matched[filepath] == nil then
        matched[filepath] = paths.matches(filepath, absolute, cwd)
      end
      if not matched[filepath] then
        return nil
      end
      if lineno then
        return math.max(1, math.min(lineno, line_count))
      end
    end
    if fn then
      if defined[fn] == nil then
        lines = lines or vim.api.nvim_buf_get_lines(buf, 0, -1, false)
        defined[fn] = M.find_definition(buf, lines, fn) or false
      end
      return defined[fn] or nil
    end
    return nil
  end
end

---Clears what this module placed in a buffer.
---@param buf integer
function M.clear_buffer(buf)
  for _, ns in pairs(M.ns) do
    pcall(vim.api.nvim_buf_clear_namespace, buf, ns, 0, -1)
  end
  M.placed[buf] = nil
end

---Puts the annotations that belong to `buf` on its lines.
---@param buf integer
---@param annotations? vitals.Annotation[] default: the last received
---@return integer count of annotated lines
function M.apply_buffer(buf, annotations)
  annotations = annotations or M.current
  M.clear_buffer(buf)
  local name = vim.api.nvim_buf_get_name(buf)
  if not config.options.enable_code_lens_annotations or name == "" or vim.bo[buf].buftype ~= "" then
    return 0
  end
  local line_of = locator(buf, vim.fs.normalize(vim.fn.fnamemodify(name, ":p")))
  ---@type table<integer, vitals.Annotation[]>
  local by_line = {}
  for _, annotation in ipairs(annotations) do
    local line = line_of(annotation)
    if line then
      by_line[line] = by_line[line] or {}
      table.insert(by_line[line], annotation)
    end
  end
  local threshold = config.options.performance_threshold
  local count = 0
  for line, here in pairs(by_line) do
    local chunks, severity, timing = {}, "info", nil
    for i, annotation in ipairs(here) do
      if i > 1 then
        table.insert(chunks, { "  ", "VitalsAnnotation" })
      end
      table.insert(chunks, { annotation.text, KIND_GROUP[annotation.kind] or "VitalsAnnotation" })
      if SEVERITY_RANK[annotation.severity] > SEVERITY_RANK[severity] then
        severity = annotation.severity
      end
      if annotation.kind == "timing" then
        timing = annotation
      end
    end
    vim.api.nvim_buf_set_extmark(buf, M.ns.annotations, line - 1, 0, {
      virt_text = chunks,
      virt_text_pos = "eol",
      sign_text = severity == "error" and "✖" or severity == "warn" and "▲" or "●",
      sign_hl_group = BADGE[severity],
    })
    if timing and timing.percent >= threshold then
      vim.api.nvim_buf_set_extmark(buf, M.ns.hot, line - 1, 0, {
        line_hl_group = "VitalsHot" .. M.heat(timing.percent),
      })
    end
    count = count + 1
  end
  M.placed[buf] = by_line
  return count
end

---Takes new annotations and puts them on every loaded buffer.
---@param annotations vitals.Annotation[]
function M.apply(annotations)
  M.current = annotations or {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      M.apply_buffer(buf)
    end
  end
end

---Removes every annotation and forgets them (see |:VitalsClear|).
function M.clear()
  M.current = {}
  for buf in pairs(M.placed) do
    M.clear_buffer(buf)
  end
end

---Annotations on the cursor's line of the current buffer.
---@return vitals.Annotation[]
function M.at_cursor()
  local buf = vim.api.nvim_get_current_buf()
  return (M.placed[buf] or {})[vim.api.nvim_win_get_cursor(0)[1]] or {}
end

---Lists the traces through the code on the cursor's line, one entry per trace, slowest
---first, and opens the chosen one with its span focused and what was found in it marked
---(the calls of an N+1 in that very trace).
function M.trace_here()
  local here = M.at_cursor()
  if #here == 0 then
    return require("vitals.notify").info("No Vitals annotation on this line; run :VitalsAnalyze first")
  end
  local refs = {}
  for _, annotation in ipairs(here) do
    for _, trace in ipairs(annotation.traces or {}) do
      local finding = annotation.kind ~= "timing" and { annotation.kind } or {}
      table.insert(refs, vim.tbl_extend("force", trace, { kinds = finding }))
    end
  end
  require("vitals.trace_list").pick(refs, "Traces through this line")
end

---The annotated lines of the project as quickfix items, one per line (its findings first,
---then its timing), hottest first.
---@return table[]
function M.hot_list()
  local by_place, items = {}, {}
  for _, annotation in ipairs(M.current) do
    local file = annotation.filepath and paths.local_file(annotation.filepath)
    if file then
      local key = file .. ":" .. (annotation.lineno or 1)
      local item = by_place[key]
      if not item then
        item = { filename = file, lnum = annotation.lineno or 1, texts = {}, percent = 0, rank = 0 }
        by_place[key] = item
        table.insert(items, item)
      end
      local text = annotation.text
      if annotation.kind == "timing" then
        table.insert(item.texts, text)
      else
        table.insert(item.texts, 1, text)
      end
      item.percent = math.max(item.percent, annotation.percent)
      item.rank = math.max(item.rank, SEVERITY_RANK[annotation.severity] or 1)
    end
  end
  for _, item in ipairs(items) do
    item.text = table.concat(item.texts, "  ")
    item.type = ({ "I", "W", "E" })[item.rank]
    item.texts = nil
  end
  table.sort(items, function(a, b)
    if a.percent ~= b.percent then
      return a.percent > b.percent
    end
    return a.rank > b.rank
  end)
  return items
end

---Opens the hottest lines in the quickfix list (see |:VitalsHot|).
function M.hot()
  local items = M.hot_list()
  if #items == 0 then
    return require("vitals.notify").info("No annotated lines in this project; run :VitalsAnalyze first")
  end
  vim.fn.setqflist({}, " ", { title = "Vitals: hottest lines", items = items })
  vim.cmd.copen()
end

---Asks the host for annotations of some services' recent traces and applies them.
---@param services? string[] default: every service
---@param done? fun()
function M.refresh(services, done)
  local options = config.options.analyze
  require("vitals.client").call("annotations", {
    services = services or {},
    lookback = options.lookback,
    limit = options.limit,
    slow_query_ms = options.slow_query_ms,
  }, function(err, annotations)
    if err then
      require("vitals.notify").error(err)
    else
      M.apply(annotations or {})
    end
    if done then
      done()
    end
  end)
end

local timer
local in_flight = false

---Starts or stops refreshing annotations every `auto_tracing.interval_ms` and as buffers
---open, following `enable_auto_tracing`. A refresh never overlaps the previous one.
function M.auto()
  if timer then
    timer:stop()
    timer:close()
    timer = nil
  end
  if not config.options.enable_auto_tracing then
    return
  end
  local function tick()
    if in_flight then
      return
    end
    in_flight = true
    M.refresh(config.options.auto_tracing.services, function()
      in_flight = false
    end)
  end
  timer = vim.uv.new_timer()
  timer:start(0, config.options.auto_tracing.interval_ms, vim.schedule_wrap(tick))
end

return M
