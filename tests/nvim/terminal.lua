-- A real Neovim in a real terminal, for tests of what a person sees: tmux at a given size
-- (80x24 unless told), the plugin on the runtimepath with the options a test gives, and an
-- RPC socket (--listen) to ask that Neovim what the screen cannot show: its mode (a
-- hit-enter or more prompt blocks it) and its :messages.
--
--   local terminal = require("terminal")
--   local term = terminal.start({ setup = { trace_provider = "file", trace_endpoint = dir } })
--   term:type(":VitalsSearch")
--   term:keys("Enter")
--   term:expect("Service (7)", "after :VitalsSearch") -- waits for it; fails on a prompt
--   term:stop()
--
-- Every session runs on a tmux server of its own (-L), never the user's.

local h = require("helpers")

local M = {}

---@class vitals.Terminal
---@field name string the tmux session
---@field dir string its folder: init.lua, the socket, the state and data folders
---@field chan integer RPC channel to the Neovim inside
local Terminal = {}
Terminal.__index = Terminal

local SERVER = "vitals-tests-" .. vim.fn.getpid()
local sessions = 0

---Runs tmux on the tests' own server; fails the test when tmux does.
---@param args string[]
---@return string output
local function tmux(args)
  local command = vim.list_extend({ "tmux", "-L", SERVER }, args)
  local output = vim.fn.system(command)
  assert(vim.v.shell_error == 0, table.concat(command, " ") .. " failed: " .. output)
  return output
end

---@return boolean
function M.available()
  return vim.fn.executable("tmux") == 1
end

---The Neovim the terminal tests run: the one running them.
---@return string
local function nvim_binary()
  return vim.v.progpath
end

---Starts Neovim in a new tmux session.
---@param opts {columns?: integer, lines?: integer, setup?: table, cwd?: string, args?: string[]}
---  setup: options for require("vitals").setup (the test binary is added); cwd: where
---  Neovim starts; args: more Neovim arguments (files to open)
---@return vitals.Terminal
function M.start(opts)
  sessions = sessions + 1
  local dir = vim.fn.tempname() .. "-terminal"
  vim.fn.mkdir(dir, "p")
  local setup = vim.tbl_extend("force", { binary = h.binary, receive_on_startup = false }, opts.setup or {})
  local init = dir .. "/init.lua"
  vim.fn.writefile({
    ("vim.opt.rtp:prepend(%q)"):format(h.root),
    ("require('vitals').setup(%s)"):format(vim.inspect(setup, { newline = " ", indent = "" })),
  }, init)
  local socket = dir .. "/nvim.sock"
  local env = ("XDG_STATE_HOME=%s XDG_DATA_HOME=%s XDG_CONFIG_HOME=%s"):format(
    vim.fn.shellescape(dir .. "/state"),
    vim.fn.shellescape(dir .. "/data"),
    vim.fn.shellescape(dir .. "/config")
  )
  local args = vim.tbl_map(vim.fn.shellescape, opts.args or {})
  local command = ("cd %s && env %s %s -u %s --listen %s %s"):format(
    vim.fn.shellescape(opts.cwd or dir),
    env,
    vim.fn.shellescape(nvim_binary()),
    vim.fn.shellescape(init),
    vim.fn.shellescape(socket),
    table.concat(args, " ")
  )
  local self = setmetatable({ name = "vitals-" .. sessions, dir = dir }, Terminal)
  tmux({
    "new-session", "-d", "-s", self.name,
    "-x", tostring(opts.columns or 80), "-y", tostring(opts.lines or 24),
    command,
  })
  -- The socket file appears a moment before Neovim accepts on it: try until it does.
  h.wait_for("Neovim's socket in tmux", function()
    local ok, chan = pcall(vim.fn.sockconnect, "pipe", socket, { rpc = true })
    self.chan = ok and chan > 0 and chan or nil
    return self.chan
  end)
  h.wait_for("Neovim to start", function()
    self:assert_no_prompt("at startup")
    return self:request("nvim_get_vvar", "vim_did_enter") == 1
  end)
  return self
end

---What the terminal shows, line by line as text.
---@return string
function Terminal:screen()
  return tmux({ "capture-pane", "-p", "-t", self.name })
end

---The bottom line of the screen: the command line, where messages and progress go.
---@return string
function Terminal:command_line()
  local lines = vim.split(self:screen(), "\n", { trimempty = false })
  while #lines > 0 and lines[#lines] == "" do
    table.remove(lines)
  end
  return lines[#lines] or ""
end

---Types text as it is (no key names).
---@param text string
function Terminal:type(text)
  tmux({ "send-keys", "-t", self.name, "-l", text })
end

---Presses keys by tmux's names: "Enter", "Escape", "C-u", "q".
---@param ... string
function Terminal:keys(...)
  tmux(vim.list_extend({ "send-keys", "-t", self.name }, { ... }))
end

---Neovim's mode, which it answers even while a prompt blocks it.
---@return {mode: string, blocking: boolean}
function Terminal:mode()
  return vim.rpcrequest(self.chan, "nvim_get_mode")
end

---What stands in the user's way right now: a hit-enter, more or inputlist prompt on the
---screen, or Neovim blocked waiting for an answer; nil when nothing does.
---@return string?
function Terminal:prompt()
  local screen = self:screen()
  if screen:find("Press ENTER", 1, true) then
    return "a hit-enter prompt (Press ENTER)"
  end
  if screen:find("-- More --", 1, true) then
    return "a more prompt (-- More --)"
  end
  if screen:find("Type number and <Enter>", 1, true) then
    return "an inputlist prompt (Type number and <Enter>)"
  end
  local mode = self:mode()
  if mode.blocking or mode.mode:find("^r") then
    return ("Neovim blocked at a prompt (mode %q)"):format(mode.mode)
  end
  return nil
end

---Fails the test when a prompt is in the way.
---@param step string what was just done, for the failure message
function Terminal:assert_no_prompt(step)
  local prompt = self:prompt()
  assert(not prompt, ("%s %s:\n%s"):format(prompt, step, self:screen()))
end

---Waits until `text` is on the screen, failing as soon as a prompt gets in the way.
---@param text string
---@param step string what was just done, for the failure message
---@param timeout? integer ms
---@return string screen
function Terminal:expect(text, step, timeout)
  local found = vim.wait(timeout or 10000, function()
    return self:screen():find(text, 1, true) ~= nil or self:prompt() ~= nil
  end, 50)
  self:assert_no_prompt(step)
  local screen = self:screen()
  assert(found and screen:find(text, 1, true), ("%q never showed %s:\n%s"):format(text, step, screen))
  return screen
end

---Calls the Neovim inside; refused while a prompt blocks it (the call would wait for a
---person to press Enter).
---@param method string
---@param ... any
---@return any
function Terminal:request(method, ...)
  self:assert_no_prompt("before asking Neovim " .. method)
  return vim.rpcrequest(self.chan, method, ...)
end

---Runs Lua inside and returns its result.
---@param code string
---@param ... any
---@return any
function Terminal:lua(code, ...)
  return self:request("nvim_exec_lua", code, { ... })
end

---Its :messages.
---@return string
function Terminal:messages()
  return self:request("nvim_exec2", "messages", { output = true }).output
end

---Ends the session and its Neovim.
function Terminal:stop()
  pcall(vim.fn.chanclose, self.chan)
  pcall(tmux, { "kill-session", "-t", self.name })
  vim.fn.delete(self.dir, "rf")
end

---Stops the tests' tmux server (every session of this run) and removes its socket.
function M.shutdown()
  vim.fn.system({ "tmux", "-L", SERVER, "kill-server" })
  local folder = ("%s/tmux-%d"):format(os.getenv("TMUX_TMPDIR") or "/tmp", vim.uv.getuid())
  vim.fn.delete(folder .. "/" .. SERVER)
end

-- However the run ends (a crash of the runner included), its Neovims in tmux end too.
vim.api.nvim_create_autocmd("VimLeavePre", { callback = M.shutdown })

return M
