-- Benchmark: annotating a 10,000-line buffer with 1,000 annotations, from the host's
-- result (a list of annotations) to extmarks placed. Target (issue 5): under 5 ms.
--
--   nvim --headless --clean -l benches/annotate.lua
--
-- Prints the median and the fastest of 50 runs.

local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h")
vim.opt.rtp:prepend(root)
require("vitals.config").set({ receive_on_startup = false, performance_threshold = 5 })
local annotate = require("vitals.annotate")

local dir = vim.fn.tempname()
vim.fn.mkdir(dir .. "/shop", "p")
local lines = {}
for i = 1, 10000 do
  lines[i] = ("    total = total + price(item_%d)  # line %d"):format(i, i)
end
vim.fn.writefile(lines, dir .. "/shop/orders.py")
vim.cmd.cd(dir)
vim.cmd.edit("shop/orders.py")
local buf = vim.api.nvim_get_current_buf()

local annotations = {}
for i = 1, 1000 do
  local n_plus_one = i % 10 == 0
  table.insert(annotations, {
    filepath = "/app/shop/orders.py",
    lineno = i * 10,
    kind = n_plus_one and "n_plus_one" or "timing",
    text = n_plus_one and "⚠ N+1: 15× SELECT * FROM items WHERE order_id = ? (41.0ms)"
      or ("⏱ p95 %dms · %d%% of GET /checkout · %d calls"):format(i, i % 50, i % 30),
    severity = n_plus_one and "warn" or "info",
    percent = i % 50,
    traces = { { trace_id = "4bf92f3577b34da6a3ce929d0e0e4736", span_id = "00f067aa0ba902b7", duration_ns = 1e6, root = "web: GET /checkout" } },
    span_ids = {},
  })
end

local times = {}
for _ = 1, 50 do
  local start = vim.uv.hrtime()
  local placed = annotate.apply_buffer(buf, annotations)
  table.insert(times, (vim.uv.hrtime() - start) / 1e6)
  assert(placed == 1000, "placed " .. placed)
end
table.sort(times)
print(("annotate 10,000-line buffer, 1,000 annotations: median %.2f ms, fastest %.2f ms (target < 5 ms)"):format(times[25], times[1]))
vim.fn.delete(dir, "rf")
vim.cmd("qa!")
