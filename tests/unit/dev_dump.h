// SPDX-License-Identifier: GPL-2.0
// Where tests/run leaves the real dump the vmcore tests read, and its ground truth.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace kstuck::dev_dump {

// the kernel cache outside the clone ($KSTUCK_CACHE, else ~/.cache/kstuck).
std::filesystem::path cache();
// The foundation suite's QMP dump and the console log of the guest it came from.
std::filesystem::path foundation_dump();
std::filesystem::path foundation_console();

// KSTUCK-TRUTH lines of a console log, role-prefixed: "irqoff_spinner pid=125" becomes
// {"irqoff_spinner.pid": "125"}.
std::map<std::string, std::string> truth(const std::filesystem::path& console);

}  // namespace kstuck::dev_dump
