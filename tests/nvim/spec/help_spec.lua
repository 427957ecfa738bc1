local h = require("helpers")

it(":help vitals opens the manual at its introduction once :helptags ran, as the README says", function()
  -- A plain runtimepath install: a copy of doc/, tagged as the README tells its users.
  local install = vim.fn.tempname() .. "-vitals"
  vim.fn.mkdir(install .. "/doc", "p")
  vim.fn.writefile(vim.fn.readfile(h.root .. "/doc/vitals.txt"), install .. "/doc/vitals.txt")
  -- In a Neovim of its own: a help window here trips a drawing assertion of headless
  -- Neovim 0.11 in later tests.
  local answer = vim.fn.system({
    vim.v.progpath, "--headless", "--clean",
    "--cmd", "set runtimepath^=" .. vim.fn.fnameescape(install),
    "-c", "helptags " .. vim.fn.fnameescape(install .. "/doc"),
    "-c", "help vitals",
    "-c", "lua io.stdout:write(vim.fn.expand('%:t') .. '\\n' .. vim.api.nvim_get_current_line())",
    "-c", "qall!",
  })
  local file, line = answer:match("^(.-)\n(.*)$")
  assert(file == "vitals.txt", answer)
  assert(line:find("*vitals*", 1, true), "lands on the *vitals* tag, not a neighbour: " .. line)

  local readme = table.concat(vim.fn.readfile(h.root .. "/README.md"), "\n")
  local install_section = readme:match("## Install\n(.-)\n## ")
  assert(install_section and install_section:find(":helptags", 1, true), "the README's Install tells to run :helptags")
end)
