---@mod vitals.baseline :VitalsBaseline, a service's numbers saved under a name

local client = require("vitals.client")
local cmdline = require("vitals.cmdline")
local config = require("vitals.config")
local float = require("vitals.ui.float")
local notify = require("vitals.notify")
local search = require("vitals.search")

local M = {}

---What `:VitalsBaseline` does.
M.ACTIONS = { "save", "list", "delete" }

---Says what the host did, in one line.
---@param result {message: string, lines: string[]}
local function show(result)
  search.forget_completions("baseline_names")
  notify.info(result.message)
end

---Shows the baselines in a float (a message of several lines would stop the user at a
---Press ENTER prompt), where `<CR>` on a baseline compares its service's latest traffic
---with it.
---@param result {message: string, lines: string[]}
local function show_list(result)
  if #result.lines == 0 then
    return notify.info(result.message)
  end
  local drawing = { title = "Vitals: " .. result.message, lines = result.lines, highlights = {} }
  float.open_list(drawing, { footer = "q close · <CR> compare with it", filetype = "vitals-baselines" }, {
    function(line)
      local service, name = (result.lines[line] or ""):match("^(%S+)%s+(%S+)")
      if not service or service == "service" then
        return
      end
      vim.cmd.close()
      vim.cmd(("VitalsRegressions %s --baseline %s"):format(service, name))
    end,
    "compare the service's latest traffic with this baseline",
  })
end

---Runs `:VitalsBaseline save [service] [name] | list [service] | delete {service} {name}`.
---Saving without a service asks for one; the window saved is the `regressions.window`
---option (1h), ending at the service's newest request.
---@param words string[]
function M.run(words)
  local action, service, name = words[1], words[2], words[3]
  if action == "save" then
    local params = { action = "save", name = name or "", window = config.options.regressions.window or "" }
    local prompt = "Save a baseline of which service?"
    return search.fetch_for_service(service, prompt, "baseline", params, "saving %s's numbers…", show)
  elseif action == "list" then
    return client.fetch("baseline", { action = "list", service = service or "" }, "listing baselines…", show_list)
  elseif action == "delete" then
    if not service or not name then
      return notify.error("Which baseline? :VitalsBaseline delete {service} {name}")
    end
    return client.fetch("baseline", { action = "delete", service = service, name = name }, "deleting…", show)
  end
  notify.error("usage: :VitalsBaseline save [service] [name] | list [service] | delete {service} {name}")
end

---The saved baselines' names of `service` starting with `lead`.
---@param service string
---@param lead string
---@return string[]
function M.complete_names(service, lead)
  return cmdline.starting_with(search.completion_list("baseline_names", { service = service }), lead)
end

---Completes the action, then a service, then (deleting) a saved baseline's name.
---@param words string[] the words before the one completed
---@param lead string
---@return string[]
function M.complete(words, lead)
  if #words == 0 then
    return cmdline.starting_with(M.ACTIONS, lead)
  elseif #words == 1 then
    return search.complete_service(lead)
  elseif #words == 2 and words[1] == "delete" then
    return M.complete_names(words[2], lead)
  end
  return {}
end

return M
