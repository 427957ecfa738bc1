local h = require("helpers")

---A real store (`vitals demo --db`) cut to half its length, as a full disk or an
---interrupted copy leaves one; returns its path.
---@return string
local function truncated_store()
  local db = vim.fn.tempname() .. "-traces.db"
  local out = vim.fn.system({ h.binary, "demo", "--width", "80", "--db", db })
  assert(vim.v.shell_error == 0, out)
  local file = assert(io.open(db, "rb"))
  local bytes = file:read("*a")
  file:close()
  file = assert(io.open(db, "wb"))
  file:write(bytes:sub(1, math.floor(#bytes / 2)))
  file:close()
  return db
end

it("a damaged store is named with what to do, and once moved aside a new one starts", function()
  local db = truncated_store()
  local endpoint = "127.0.0.1:" .. h.free_port()
  h.setup({ trace_provider = "otlp", store_path = db, trace_endpoint = endpoint })
  vim.cmd("VitalsSearch frontend")
  h.wait_for("the error", function()
    return h.message("is damaged")
  end)
  local message = h.message("is damaged").msg
  local expected = ("The trace store %s is damaged (database disk image is malformed). "
    .. "Move it (and its -wal and -shm files) aside and Vitals starts a new store, or run `vitals store repair --db %s` to keep what can be read"):format(
    db,
    db
  )
  assert(message == expected, message)

  -- The advice works: moved aside, the next command opens a new, empty store.
  assert(os.rename(db, db .. ".damaged"))
  h.setup({ trace_provider = "otlp", store_path = db, trace_endpoint = endpoint })
  h.wait_for("the new store", function()
    return h.status_text():find("0 spans in 0 traces", 1, true)
  end)
  assert(vim.uv.fs_stat(db), "a new store file")
end)
