local h = require("helpers")

---Starts `vitals lsp` with Neovim's own client (no plugin involved) on the project of
---|helpers.annotated_project()|, attached to the current buffer.
---@param dir string
---@return integer client id
local function start(dir)
  local id = vim.lsp.start({
    name = "vitals",
    cmd = { h.binary, "lsp" },
    root_dir = dir,
    init_options = {
      trace_provider = "file",
      trace_endpoint = dir .. "/trace.json",
      path_mappings = { ["/build/x/"] = dir .. "/" },
      enable_auto_tracing = true,
    },
  })
  assert(id, "vim.lsp.start gave no client")
  return id
end

---A buffer's diagnostics as "line:severity:code:message", sorted (1-based lines).
local function diagnostics(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    assert(d.source == "vitals", vim.inspect(d))
    table.insert(out, ("%d:%s:%s:%s"):format(d.lnum + 1, vim.diagnostic.severity[d.severity], d.code, d.message))
  end
  table.sort(out)
  return out
end

it("Neovim's own LSP client gets vitals lsp's diagnostics, inlay hints and hover on the right lines", function()
  local dir = h.annotated_project()
  vim.cmd.cd(dir)
  vim.cmd.edit("shop/orders.py")
  local orders = vim.api.nvim_get_current_buf()
  local id = start(dir)
  h.wait_for("the diagnostics of orders.py", function()
    return #vim.diagnostic.get(orders) == 2
  end)
  local found = diagnostics(orders)
  assert(vim.deep_equal(found, {
    "12:ERROR:timing:p95 100ms · 100% of GET /checkout · 1 call",
    "12:WARN:n_plus_one:N+1: 6× SELECT * FROM items WHERE order_id = ? (36.0ms)",
  }), "100% of the request is an error, the N+1 a warning: " .. vim.inspect(found))

  -- Another file, found through path_mappings, and one found by its function.
  vim.cmd.edit("lib/pricing.py")
  local pricing = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(pricing, id)
  vim.cmd.edit("shop/users.py")
  local users = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(users, id)
  h.wait_for("the diagnostics of pricing.py and users.py", function()
    return #vim.diagnostic.get(pricing) == 1 and #vim.diagnostic.get(users) == 1
  end)
  local mapped = diagnostics(pricing)[1]
  assert(mapped:find("^3:INFO:timing:p95 8.00ms · 8%% of GET /checkout"), mapped)
  local by_function = diagnostics(users)[1]
  assert(by_function:find("^7:HINT:timing:"), "3% is under performance_threshold: " .. by_function)

  -- Inlay hints at the end of line 12, with the plugin's own end-of-line text.
  vim.cmd.buffer(orders)
  vim.lsp.inlay_hint.enable(true, { bufnr = orders })
  local hints
  h.wait_for("the inlay hints", function()
    hints = vim.lsp.inlay_hint.get({ bufnr = orders })
    return #hints > 0
  end)
  local hint = hints[1].inlay_hint
  assert(hint.position.line == 11, vim.inspect(hint))
  assert(hint.label:find("⏱ p95 100ms · 100% of GET /checkout · 1 call  ⚠ N+1: 6×", 1, true), hint.label)

  -- Hover on line 12: the finding's suggestion and the flame graph.
  local answers = vim.lsp.buf_request_sync(orders, "textDocument/hover", {
    textDocument = { uri = vim.uri_from_bufnr(orders) },
    position = { line = 11, character = 0 },
  }, 10000)
  local hover = answers and answers[id] and answers[id].result
  assert(hover, vim.inspect(answers))
  assert(hover.contents.value:find("*Suggestion:* load items for all 6 in one query", 1, true), hover.contents.value)
  assert(hover.contents.value:find("```text", 1, true), hover.contents.value)

  vim.lsp.stop_client(id)
  h.wait_for("the server to stop", function()
    return vim.lsp.get_client_by_id(id) == nil
  end)
  vim.cmd("silent! %bwipeout!")
  vim.cmd.cd(h.root)
  vim.fn.delete(dir, "rf")
end)
