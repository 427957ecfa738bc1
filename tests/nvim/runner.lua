-- A small test runner for the Neovim tests: runs every tests/nvim/spec/*_spec.lua in this
-- headless Neovim, one test after another, and ends with "N passed, N failed".
-- VITALS_SPECS=terminal runs tests/nvim/terminal/*_spec.lua instead: tests that drive a
-- real Neovim in tmux (see tests/nvim/terminal.lua).
--
--   nvim --headless --clean -l tests/nvim/runner.lua [filter]

local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h")
vim.opt.rtp:prepend(root)
package.path = root .. "/tests/nvim/?.lua;" .. package.path

-- Optional: only tests whose "file: name" contains one of the comma-separated words.
local filters = arg and arg[1] and vim.split(arg[1], ",", { plain = true }) or nil

local function selected(title)
  if not filters then
    return true
  end
  for _, word in ipairs(filters) do
    if title:find(word, 1, true) then
      return true
    end
  end
  return false
end
local tests = {}
local current_file

---Declares a test.
---@param name string
---@param fn fun()
function _G.it(name, fn)
  table.insert(tests, { file = current_file, name = name, fn = fn })
end

local folder = os.getenv("VITALS_SPECS") or "spec"
for _, file in ipairs(vim.fn.glob(root .. "/tests/nvim/" .. folder .. "/*_spec.lua", false, true)) do
  current_file = vim.fn.fnamemodify(file, ":t:r")
  dofile(file)
end

local helpers = require("helpers")
local passed, failed = 0, 0
for _, test in ipairs(tests) do
  local title = test.file .. ": " .. test.name
  if selected(title) then
    local ok, err = xpcall(test.fn, debug.traceback)
    helpers.reset()
    if ok then
      passed = passed + 1
      io.stdout:write("ok    " .. title .. "\n")
    else
      failed = failed + 1
      io.stdout:write("FAIL  " .. title .. "\n" .. tostring(err):gsub("\n", "\n      ") .. "\n")
    end
  end
end
helpers.shutdown()
io.stdout:write(("%d passed, %d failed\n"):format(passed, failed))
vim.cmd(failed == 0 and "qall!" or "cquit! 1")
