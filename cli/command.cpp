// SPDX-License-Identifier: GPL-2.0
// The subcommand registry.
#include "cli/command.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "cli/live_command.h"

namespace kstuck::cli {
namespace {
std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

// The dump commands that also read the running kernel: `--live` anywhere in their
// arguments goes to cli/live_command.cpp, everything else to the command's own run.
std::map<std::string, int (*)(const std::vector<std::string>&)>& dump_forms() {
  static std::map<std::string, int (*)(const std::vector<std::string>&)> forms;
  return forms;
}
int dispatch(const char* name, const std::vector<std::string>& args) {
  if (wants_live(args)) return run_live(name, args);
  return dump_forms().at(name)(args);
}
int run_hang(const std::vector<std::string>& a) { return dispatch("hang", a); }
int run_analyze(const std::vector<std::string>& a) { return dispatch("analyze", a); }
int run_tasks(const std::vector<std::string>& a) { return dispatch("tasks", a); }
int run_bt(const std::vector<std::string>& a) { return dispatch("bt", a); }
int run_xcall(const std::vector<std::string>& a) { return dispatch("xcall", a); }
int run_mutex(const std::vector<std::string>& a) { return dispatch("mutex", a); }
int (*live_trampoline(const std::string& name))(const std::vector<std::string>&) {
  if (name == "hang") return run_hang;
  if (name == "analyze") return run_analyze;
  if (name == "tasks") return run_tasks;
  if (name == "bt") return run_bt;
  if (name == "xcall") return run_xcall;
  if (name == "mutex") return run_mutex;
  return nullptr;
}
}  // namespace

CommandRegistrar::CommandRegistrar(Command command) {
  if (auto* t = live_trampoline(command.name); t && has_live_form(command.name)) {
    dump_forms()[command.name] = command.run;
    command.run = t;
  }
  auto& commands = registry();
  auto at = std::lower_bound(commands.begin(), commands.end(), command,
                             [](const Command& a, const Command& b) { return std::strcmp(a.name, b.name) < 0; });
  commands.insert(at, command);
}

const std::vector<Command>& registered_commands() { return registry(); }

const Command* find_command(const std::string& name) {
  for (const auto& c : registry())
    if (name == c.name) return &c;
  return nullptr;
}

}  // namespace kstuck::cli
