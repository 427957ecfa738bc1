---@mod vitals.client Starting, supervising and talking to the vitals host process
---
---Every call is a notification carrying an id; the host answers later by calling
---`_resolve(id, err, result)`, so the editor never blocks on the network. The host is
---started on first use and started again on the next call if it died.

local config = require("vitals.config")

local M = {}

local state = {
  chan = nil, ---@type integer?
  next_id = 1,
  pending = {}, ---@type table<integer, {callback: fun(err?: string, result?: any), timer: uv.uv_timer_t}>
  stderr = {}, ---@type string[]
  binary = nil, ---@type string?
}

local uv = vim.uv or vim.loop
local STDERR_LINES = 30

---The plugin's root folder (where `cargo build --release` puts target/).
---@return string
function M.plugin_root()
  local source = debug.getinfo(1, "S").source:sub(2)
  return vim.fn.fnamemodify(source, ":p:h:h:h")
end

---Finds the vitals binary: the `binary` option, then a release build in the plugin
---folder, then `vitals` on PATH, then a debug build in the plugin folder.
---@return string? path
---@return string[] tried
function M.find_binary()
  local root = M.plugin_root()
  local candidates = {}
  if config.options.binary then
    table.insert(candidates, vim.fn.expand(config.options.binary))
  else
    table.insert(candidates, root .. "/target/release/vitals")
    local on_path = vim.fn.exepath("vitals")
    table.insert(candidates, on_path ~= "" and on_path or "vitals (on PATH)")
    table.insert(candidates, root .. "/target/debug/vitals")
  end
  for _, path in ipairs(candidates) do
    if vim.fn.executable(path) == 1 then
      return path, candidates
    end
  end
  return nil, candidates
end

local function fail_pending(message)
  local pending = state.pending
  state.pending = {}
  for _, entry in pairs(pending) do
    entry.timer:stop()
    entry.timer:close()
    entry.callback(message)
  end
end

---Handles the end of host process `job`. A host stopped on purpose, or one already
---replaced by a newer host, is not reported.
local function on_exit(job, code)
  if state.chan ~= job then
    return
  end
  local tail = table.concat(state.stderr, "\n")
  state.chan = nil
  local message = ("vitals host exited with code %d"):format(code)
  if tail ~= "" then
    message = message .. ":\n" .. tail
  end
  if code ~= 0 then
    vim.notify(message, vim.log.levels.ERROR, { title = "Vitals" })
  end
  fail_pending(message)
end

local function on_stderr(_, data)
  for _, line in ipairs(data or {}) do
    if line ~= "" then
      table.insert(state.stderr, line)
      if #state.stderr > STDERR_LINES then
        table.remove(state.stderr, 1)
      end
    end
  end
end

---Starts the host if it is not running.
---@return integer? channel
---@return string? error
function M.ensure_started()
  if state.chan then
    return state.chan
  end
  local binary, tried = M.find_binary()
  if not binary then
    return nil,
      "vitals binary not found. Build it with `cargo build --release` in "
        .. M.plugin_root()
        .. ", put `vitals` on PATH, or set the `binary` option. Tried: "
        .. table.concat(tried, ", ")
  end
  state.stderr = {}
  local ok, chan = pcall(vim.fn.jobstart, { binary, "nvim" }, {
    rpc = true,
    on_stderr = on_stderr,
    on_exit = on_exit,
  })
  if not ok or chan <= 0 then
    return nil, ("cannot start %s: %s"):format(binary, ok and tostring(chan) or chan)
  end
  state.chan = chan
  state.binary = binary
  -- The first message configures the provider; the host applies it before anything else.
  M.reconfigure()
  return chan
end

---Calls the host without waiting; `callback(err, result)` runs later on the main loop.
---@param method string
---@param params? table
---@param callback fun(err?: string, result?: any)
function M.call(method, params, callback)
  local chan, err = M.ensure_started()
  if not chan then
    vim.schedule(function()
      callback(err)
    end)
    return
  end
  local id = state.next_id
  state.next_id = id + 1
  local timer = assert(uv.new_timer())
  state.pending[id] = { callback = callback, timer = timer }
  -- A safety net: the host has its own backend timeout, so this fires only if it hangs.
  timer:start(
    config.options.timeout_ms + 5000,
    0,
    vim.schedule_wrap(function()
      M._resolve(id, ("vitals host gave no answer to %s in time (see :VitalsLog)"):format(method))
    end)
  )
  vim.rpcnotify(chan, method, id, params or vim.empty_dict())
end

---Calls the host with `progress` shown meanwhile; an error is reported to the user, and
---`on_result(result)` runs only on success.
---@param method string
---@param params table
---@param progress string
---@param on_result fun(result: any)
function M.fetch(method, params, progress, on_result)
  local notify = require("vitals.notify")
  local done = notify.progress(progress)
  M.call(method, params, function(err, result)
    done()
    if err then
      return notify.error(err)
    end
    on_result(result)
  end)
end

---Called by the host with the answer to call `id`.
---@param id integer
---@param err? string
---@param result? any
function M._resolve(id, err, result)
  local entry = state.pending[id]
  if not entry then
    return
  end
  state.pending[id] = nil
  entry.timer:stop()
  entry.timer:close()
  if err == vim.NIL then
    err = nil
  end
  if result == vim.NIL then
    result = nil
  end
  local ok, failure = pcall(entry.callback, err, result)
  if not ok then
    vim.notify("Vitals: " .. tostring(failure), vim.log.levels.ERROR, { title = "Vitals" })
  end
end

---Asks the host something that needs no network (e.g. its version), waiting for the answer.
---@param method string
---@return any? result
---@return string? error
function M.request(method)
  local chan, err = M.ensure_started()
  if not chan then
    return nil, err
  end
  local ok, result = pcall(vim.rpcrequest, chan, method)
  if not ok then
    return nil, tostring(result)
  end
  return result
end

---Sends new settings to a running host (a host started later reads them itself).
function M.reconfigure()
  if state.chan then
    M.call("configure", config.provider_settings(), function(err)
      if err then
        vim.notify(err, vim.log.levels.ERROR, { title = "Vitals" })
      end
    end)
  end
end

---Whether calls wait for the host's answer.
---@return boolean
function M.busy()
  return next(state.pending) ~= nil
end

---@return boolean
function M.is_running()
  return state.chan ~= nil
end

---@return string? binary the path of the running host
function M.running_binary()
  return state.chan and state.binary or nil
end

---Stops the host (it is started again on the next call).
function M.stop()
  local chan = state.chan
  if chan then
    state.chan = nil
    fail_pending("vitals host stopped")
    pcall(vim.fn.jobstop, chan)
  end
end

return M
