local h = require("helpers")

---Sends tests/otel/send_queue.py's producers and consumers (real OpenTelemetry SDK) to a
---fresh receiver; returns the trace ids it printed and the least queue wait it made.
local function send_queue()
  local python = os.getenv("VITALS_OTEL_PYTHON")
  assert(python, "VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)")
  local url = h.receive()
  local out = vim.fn.system({ python, h.root .. "/tests/otel/send_queue.py", url })
  assert(vim.v.shell_error == 0, out)
  local sent = { producers = {} }
  for word, value in out:gmatch("(%S+) (%S+)") do
    if word == "producer" then
      table.insert(sent.producers, value)
    elseif word == "wait_ms" then
      sent.wait_ms = tonumber(value)
    else
      sent[word] = value
    end
  end
  assert(#sent.producers == 2 and sent.consumer and sent.batch and sent.wait_ms, out)
  return sent
end

---A duration as the views write it (`251ms`, `1.02s`) in milliseconds.
local function ms(text)
  local number, unit = text:match("^([%d.]+)(%a+)$")
  local scale = ({ ns = 1e-6, ["µs"] = 1e-3, ms = 1, s = 1000 })[unit] or (text:match("µs$") and 1e-3)
  assert(number and scale, "not a duration: " .. text)
  return tonumber(number) * scale
end

---Waits for the trace float's text to hold `wanted`; returns its lines.
local function wait_text(view, wanted)
  local lines
  h.wait_for(wanted, function()
    lines = h.lines(view.buf)
    return table.concat(lines, "\n"):find(wanted, 1, true)
  end)
  return lines
end

---The 1-based line of the first row (below the title) holding `text`.
local function row_of(view, text)
  local lines = h.lines(view.buf)
  for i = 2, #lines do
    if lines[i]:find(text, 1, true) then
      return i
    end
  end
  error("no row " .. text .. " in\n" .. table.concat(lines, "\n"))
end

---Puts the cursor of the trace float on the row holding `text`.
local function cursor_on(view, text)
  local line = row_of(view, text)
  local col = h.lines(view.buf)[line]:find(text, 1, true)
  vim.api.nvim_win_set_cursor(view.win, { line, col })
end

---The text of the row the cursor of the trace float is on.
local function row_at_cursor(view)
  return h.lines(view.buf)[vim.api.nvim_win_get_cursor(view.win)[1]]
end

it(":VitalsTransaction draws the producers' and consumers' traces in one waterfall with the queue waits", function()
  local sent = send_queue()
  vim.cmd("VitalsTransaction " .. sent.consumer)
  local view = h.wait_view()
  local lines = wait_text(view, "ledger: orders process batch")
  local text = table.concat(lines, "\n")
  -- The consumer links to the first order; the batch links to it too (found through the
  -- store's index) and to the second order: four traces in all.
  assert(vim.api.nvim_win_get_config(view.win).title[1][1]:find("transaction of 4 traces", 1, true), text)
  assert(view.view == "waterfall", "a transaction is a waterfall")
  local publishes, first_publish, billing, handoff = 0, nil, nil, nil
  for i, line in ipairs(lines) do
    if line:find("shop: orders publish", 1, true) then
      publishes = publishes + 1
      first_publish = first_publish or i
    end
    billing = billing or (line:find("billing: orders process", 1, true) and i)
    handoff = handoff or (line:find("⇢ kafka orders", 1, true) and i)
  end
  assert(publishes == 2, "both orders' producer spans\n" .. text)
  assert(first_publish < handoff and handoff < billing, "in time order: producer, the hand-off, the consumer\n" .. text)
  local waits = {}
  for _, line in ipairs(lines) do
    if line:find("⇢ kafka orders", 1, true) then
      local waited = line:match("waited ([%d.]+[^%s\226]+)")
      assert(waited, "the hand-off says how long the message waited\n" .. line)
      table.insert(waits, ms(waited))
      assert(line:find("┄", 1, true), "a dotted gap across the wait\n" .. line)
    end
  end
  -- One hand-off to billing, two to the batch consumer.
  assert(#waits == 3, "three hand-offs\n" .. text)
  for _, wait in ipairs(waits) do
    assert(wait >= sent.wait_ms, ("a message waited at least %d ms, shown %s\n%s"):format(sent.wait_ms, wait, text))
  end
  assert(text:find("4 traces, 3 queue hand-offs", 1, true) and text:find("waiting in queues", 1, true), text)
  for _, line in ipairs(lines) do
    assert(vim.fn.strdisplaywidth(line) <= vim.api.nvim_win_get_width(view.win), "fits the float: " .. line)
  end
  h.press("q")
end)

it(":VitalsTransaction without an id stitches the trace in the float", function()
  local sent = send_queue()
  vim.cmd("VitalsTrace " .. sent.batch .. " waterfall")
  local view = h.wait_view()
  wait_text(view, "ledger: orders process batch")
  vim.cmd("VitalsTransaction")
  h.wait_for("the transaction", function()
    local current = require("vitals.ui.trace_view").current()
    return current and current ~= view and table.concat(h.lines(current.buf), "\n"):find("⇢ kafka orders", 1, true)
  end)
  local text = table.concat(h.lines(require("vitals.ui.trace_view").current().buf), "\n")
  assert(text:find("ledger: orders process batch", 1, true) and text:find("shop: POST /orders", 1, true), text)
  h.press("q")
end)

it("l follows a span link both ways: consumer → producer, producer → its consumers", function()
  local sent = send_queue()
  vim.cmd("VitalsTrace " .. sent.consumer .. " waterfall")
  local consumer = h.wait_view()
  wait_text(consumer, "billing: orders process")
  assert(h.lines(consumer.buf)[row_of(consumer, "billing: orders process")]:find("→ 1 linked", 1, true),
    "the consumer span shows its link\n" .. table.concat(h.lines(consumer.buf), "\n"))
  cursor_on(consumer, "billing: orders process")
  h.press("l")
  -- One link: its producer opens straight away, the producer span under the cursor.
  h.wait_for("the producer's trace", function()
    local current = require("vitals.ui.trace_view").current()
    return current and current.trace_id == sent.producers[1]
  end)
  local producer = require("vitals.ui.trace_view").current()
  assert(row_at_cursor(producer):find("shop: orders publish", 1, true), "focused: " .. row_at_cursor(producer))
  -- Nothing in the producer's spans says who consumed it: the store's index does.
  assert(row_at_cursor(producer):find("→ 2 linked", 1, true), "billing and ledger link to it: " .. row_at_cursor(producer))
  local shown = h.answer_select(function(items)
    for _, item in ipairs(items) do
      if item.trace_id == sent.batch then
        return item
      end
    end
  end)
  h.press("l")
  h.wait_for("the batch consumer's trace", function()
    local current = require("vitals.ui.trace_view").current()
    return current and current.trace_id == sent.batch
  end)
  local labels = table.concat(shown[1].labels, "\n")
  assert(#shown[1].labels == 2, labels)
  assert(labels:find("→ billing: orders process", 1, true) and labels:find("→ ledger: orders process batch", 1, true), labels)
  local batch = require("vitals.ui.trace_view").current()
  assert(row_at_cursor(batch):find("ledger: orders process batch", 1, true), "focused: " .. row_at_cursor(batch))
  assert(row_at_cursor(batch):find("→ 2 linked", 1, true), "the batch links to both orders: " .. row_at_cursor(batch))
  h.press("q")
end)

it(":VitalsExport! writes the trace with every trace linked to it into one file", function()
  local sent = send_queue()
  local dir = vim.fs.normalize(vim.fn.tempname())
  vim.fn.mkdir(dir, "p")
  vim.cmd.cd(dir)
  vim.cmd("VitalsExport! " .. sent.consumer .. " queue.json")
  h.wait_for("the export", function()
    return h.message("Wrote queue.json")
  end)
  vim.cmd.cd(h.root)
  assert(h.message("Wrote queue.json (4 traces"), vim.inspect(h.messages))
  local written = vim.json.decode(table.concat(vim.fn.readfile(dir .. "/queue.json"), "\n"))
  local ids = {}
  for _, resource in ipairs(written.resourceSpans) do
    for _, scope in ipairs(resource.scopeSpans) do
      for _, span in ipairs(scope.spans) do
        ids[span.traceId] = true
      end
    end
  end
  -- The consumer, the order it consumed, the batch that consumed that order too, and the
  -- batch's second order: what :VitalsTransaction stitches.
  for _, id in ipairs({ sent.consumer, sent.batch, sent.producers[1], sent.producers[2] }) do
    assert(ids[id], id .. " is not in the file: " .. vim.inspect(vim.tbl_keys(ids)))
  end
end)
