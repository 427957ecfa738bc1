local h = require("helpers")
-- Required by each test, so that a Vitals without the module fails them one by one.
local function picker()
  return require("vitals.ui.picker")
end

---Opens the picker over `items` and returns what on_choice got, once it got something.
local function choose(items, opts, keys)
  local answer
  picker().select(items, opts, function(item, index)
    answer = { item = item, index = index }
  end)
  if keys then
    h.press(keys)
  end
  return function()
    h.wait_for("the picker's answer", function()
      return answer
    end)
    return answer
  end
end

it("Neovim's own vim.ui.select becomes a float: prompt and count in the title, cursor on the first item", function()
  assert(picker().is_builtin(), "the tests start with Neovim's own vim.ui.select")
  local items = {}
  for i = 1, 40 do
    table.insert(items, { name = ("service-%02d"):format(i) })
  end
  vim.o.columns = 80
  choose(items, { prompt = "Service", format_item = function(item) return item.name end })
  local win = vim.api.nvim_get_current_win()
  local float = vim.api.nvim_win_get_config(win)
  assert(float.relative == "editor", "a float")
  assert(vim.bo.filetype == "vitals-picker")
  local title = table.concat(vim.tbl_map(function(chunk) return chunk[1] end, float.title))
  assert(title:find("Service (40)", 1, true), title)
  -- 40 items never page: the float fits the editor and scrolls.
  assert(float.height + 2 <= vim.o.lines - vim.o.cmdheight, ("height %d of %d lines"):format(float.height, vim.o.lines))
  assert(vim.api.nvim_win_get_cursor(win)[1] == 1, "the cursor starts on the first item")
  assert(h.lines(0)[1]:find("service-01", 1, true))
  h.press("<Esc>")
end)

it("<CR> picks the item under the cursor; q and <Esc> cancel; leaving the float cancels", function()
  local answer = choose({ "a", "b", "c" }, { prompt = "Letter" }, "jj<CR>")()
  assert(answer.item == "c" and answer.index == 3, vim.inspect(answer))
  assert(#h.floats() == 0, "the float closed")
  for _, key in ipairs({ "q", "<Esc>" }) do
    answer = choose({ "a", "b" }, { prompt = "Letter" }, key)()
    assert(answer.item == nil and answer.index == nil, key .. " cancels: " .. vim.inspect(answer))
  end
  answer = choose({ "a", "b" }, { prompt = "Letter" })
  vim.cmd("wincmd p")
  answer = answer()
  assert(answer.item == nil, "leaving cancels")
  h.wait_for("the float to close", function()
    return #h.floats() == 0
  end)
end)

it("long labels are cut to the float, which never outgrows the editor; aligning spaces go first", function()
  vim.o.columns = 80
  local aligned = "GET /a" .. (" "):rep(60) .. "1.2s  ✗ 3 errors  2m ago"
  choose({ ("x"):rep(300), aligned }, { prompt = "Long" })
  local float = vim.api.nvim_win_get_config(0)
  assert(float.width + 2 <= 80, "width " .. float.width)
  local lines = h.lines(0)
  assert(vim.fn.strdisplaywidth(lines[1]) <= float.width and lines[1]:find("…", 1, true), lines[1])
  assert(vim.trim(lines[2]) == "GET /a  1.2s  ✗ 3 errors  2m ago", "the end is kept: " .. lines[2])
  h.press("q")
end)

it("a picker plugin's vim.ui.select gets the same arguments", function()
  local shown = h.answer_select(function(items)
    return items[2]
  end)
  local answer = choose({ "a", "b" }, { prompt = "Letter", kind = "vitals_test" })()
  assert(answer.item == "b", vim.inspect(answer))
  assert(shown[1].prompt == "Letter" and #h.floats() == 0, "no float of Vitals' own")
end)

it("an empty list is said, not shown", function()
  local answer = choose({}, { prompt = "Service" })()
  assert(answer.item == nil and #h.floats() == 0)
  assert(h.message("Service: nothing to choose from"))
end)
