local h = require("helpers")

---Sends releases of `shop` (tests/otel/send_versions.py) through the OpenTelemetry SDK.
---@param url string the editor's receiver
---@param ... string the versions to send
local function send_versions(url, ...)
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local sent = vim.fn.system({ python, h.root .. "/tests/otel/send_versions.py", url, ... })
  assert(vim.v.shell_error == 0, sent)
end

---The text of the regression report float, once it shows.
---@return string
local function report_text()
  return table.concat(h.lines((h.wait_float("vitals-report"))), "\n")
end

it(":VitalsBaseline saves a release's numbers and :VitalsRegressions --baseline names the next one's regression", function()
  local url = h.receive()
  send_versions(url, "1.0.0")
  vim.cmd("VitalsBaseline save shop")
  h.wait_for("the baseline saved", function()
    return h.message("Saved the baseline 1.0.0 of shop (660 requests)")
  end)
  send_versions(url, "1.1.0")

  assert(vim.deep_equal(vim.fn.getcompletion("VitalsBaseline ", "cmdline"), { "save", "list", "delete" }))
  assert(vim.deep_equal(vim.fn.getcompletion("VitalsBaseline delete shop ", "cmdline"), { "1.0.0" }))
  assert(vim.deep_equal(vim.fn.getcompletion("VitalsRegressions shop --baseline ", "cmdline"), { "1.0.0" }))

  -- The list is a float (several lines as a message would ask for Enter); <CR> on a
  -- baseline compares the service's latest traffic with it.
  vim.cmd("VitalsBaseline list")
  local buf, list = h.wait_float("vitals-baselines")
  local line = h.find_line(buf, "shop     1.0.0")
  assert(line and h.lines(buf)[line]:find(" 660$"), table.concat(h.lines(buf), "\n"))
  assert(vim.api.nvim_win_get_config(list).title[1][1]:find("1 saved baseline", 1, true))
  assert(#vim.tbl_filter(function(m)
    return m.msg:find("saved baseline", 1, true) ~= nil
  end, h.messages) == 0, "no message of several lines")
  vim.api.nvim_set_current_win(list)
  vim.api.nvim_win_set_cursor(list, { line, 0 })
  h.press("<CR>")
  assert(report_text():find('baseline "1.0.0" saved ', 1, true))
  for _, win in ipairs(h.floats()) do
    vim.api.nvim_win_close(win, true)
  end

  vim.cmd("VitalsRegressions shop --baseline 1.0.0 8m")
  local text = report_text()
  for _, expected in ipairs({
    'baseline "1.0.0" saved ',
    "✖ regression  slower: POST /checkout P95 +32%",
    "POST /checkout  Baseline P95 = 481ms, Current P95 = 636ms, +32%, regression",
    "GET /home  Baseline P95 = 56.5ms, Current P95 = 56.5ms, 0.0%, no significant change",
  }) do
    assert(text:find(expected, 1, true), "missing " .. expected .. " in\n" .. text)
  end

  vim.cmd("VitalsBaseline delete shop 1.0.0")
  h.wait_for("the baseline deleted", function()
    return h.message("Deleted the baseline 1.0.0 of shop")
  end)
  assert(vim.deep_equal(vim.fn.getcompletion("VitalsBaseline delete shop ", "cmdline"), {}))
end)
