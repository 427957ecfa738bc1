local h = require("helpers")

local TOKEN = "tok-Sup3rS3cret"
local PASSWORD = "pw-Sup3rS3cret"

---What the host wrote to its log since `from` bytes.
---@param path string
---@param from integer
---@return string
local function log_since(path, from)
  local file = assert(io.open(path, "r"))
  file:seek("set", from)
  local text = file:read("*a")
  file:close()
  return text
end

---The host's log file and its size now.
---@return string path
---@return integer size
local function log_mark()
  local path = assert(require("vitals.client").request("log_file"))
  return path, vim.fn.getfsize(path) > 0 and vim.fn.getfsize(path) or 0
end

it("at debug level the log holds neither the token nor the password of the endpoint", function()
  require("vitals.client").stop()
  vim.env.VITALS_LOG = "debug"
  local ok, err = pcall(function()
    local url = h.jaeger("v1"):gsub("^http://", "http://ops:" .. PASSWORD .. "@")
    h.setup({ trace_endpoint = url, auth = { token = TOKEN } })
    local path, size = log_mark()
    vim.cmd("VitalsTrace 00000000000000000000000000000bad")
    local shown
    h.wait_for("not found", function()
      shown = h.message("trace 00000000000000000000000000000bad not found in jaeger at")
      return shown
    end)
    assert(not shown.msg:find(PASSWORD, 1, true), "the password is shown: " .. shown.msg)
    assert(shown.msg:find("at http://127.0.0.1:", 1, true), shown.msg)
    local log = log_since(path, size)
    assert(log:find("DEBUG", 1, true), "the log is at debug level:\n" .. log)
    assert(log:find("not found in jaeger", 1, true), "the error is logged:\n" .. log)
    assert(not log:find(TOKEN, 1, true), "the token is in the log:\n" .. log)
    assert(not log:find(PASSWORD, 1, true), "the password is in the log:\n" .. log)
  end)
  require("vitals.client").stop()
  vim.env.VITALS_LOG = nil
  assert(ok, err)
end)

it("a backend that echoes the request's headers gets no credential shown or logged", function()
  h.setup({ trace_endpoint = h.jaeger("echo"), auth = { token = TOKEN } })
  local path, size = log_mark()
  vim.cmd("VitalsTrace " .. h.slow_trace)
  local shown
  h.wait_for("the refusal", function()
    shown = h.message("answered 502")
    return shown
  end)
  assert(shown.msg:find("authorization: Bearer ***", 1, true), "the echo is shown, scrubbed: " .. shown.msg)
  assert(not shown.msg:find(TOKEN, 1, true), "the token is shown: " .. shown.msg)
  local log
  h.wait_for("the logged error", function()
    log = log_since(path, size)
    return log:find("answered 502", 1, true)
  end)
  assert(not log:find(TOKEN, 1, true), "the token is in the log:\n" .. log)
end)

it("endpoints are shown without their user and password", function()
  local config = require("vitals.config")
  assert(config.shown_endpoint("https://ops:" .. PASSWORD .. "@jaeger:16686/q") == "https://jaeger:16686/q")
  assert(config.shown_endpoint("http://localhost:16686") == "http://localhost:16686")
  assert(config.shown_endpoint("./traces") == "./traces")
end)

it("the token can come from a file, named with ~", function()
  local home = vim.env.HOME
  vim.env.HOME = vim.fn.tempname()
  local ok, err = pcall(function()
    vim.fn.mkdir(vim.env.HOME, "p")
    vim.fn.writefile({ "tok-from-a-file" }, vim.env.HOME .. "/jaeger-token")
    h.setup({ trace_endpoint = h.jaeger("v1"), auth = { token_file = "~/jaeger-token" } })
    vim.cmd("VitalsTrace " .. h.slow_trace)
    h.wait_view()
  end)
  vim.env.HOME = home
  assert(ok, err)
  local last = h.requests("v1")[#h.requests("v1")]
  assert(last.authorization == "Bearer tok-from-a-file", vim.inspect(last))
end)
