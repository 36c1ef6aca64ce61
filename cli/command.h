// SPDX-License-Identifier: GPL-2.0
// The subcommand registry: each file in cli/commands/ registers one Command.
#pragma once

#include <string>
#include <vector>

namespace kstuck::cli {

// A subcommand gets the arguments after its name and returns the process exit code.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

// Registers at static-initialization time; use KSTUCK_REGISTER_COMMAND.
class CommandRegistrar {
 public:
  explicit CommandRegistrar(Command command);
};

const std::vector<Command>& registered_commands();
const Command* find_command(const std::string& name);

}  // namespace kstuck::cli

#define KSTUCK_CONCAT_INNER(a, b) a##b
#define KSTUCK_CONCAT(a, b) KSTUCK_CONCAT_INNER(a, b)
#define KSTUCK_REGISTER_COMMAND(...) \
  static const ::kstuck::cli::CommandRegistrar KSTUCK_CONCAT(kstuck_command_, __LINE__)(__VA_ARGS__)
