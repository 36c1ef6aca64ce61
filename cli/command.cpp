// SPDX-License-Identifier: GPL-2.0
// The subcommand registry.
#include "cli/command.h"

#include <algorithm>
#include <cstring>

namespace kstuck::cli {
namespace {
std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace

CommandRegistrar::CommandRegistrar(Command command) {
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
