// SPDX-License-Identifier: GPL-2.0
// The --live form of the dump commands (hang, analyze, tasks, bt, xcall, mutex).
#pragma once

#include <string>
#include <vector>

namespace kstuck::cli {

// Whether a command's arguments ask for the running kernel.
bool wants_live(const std::vector<std::string>& args);
// Runs `kstuck COMMAND --live ...`; the same renderers and schemas as the dump form.
int run_live(const std::string& command, const std::vector<std::string>& args);
// The commands that have a --live form.
bool has_live_form(const std::string& command);

}  // namespace kstuck::cli
