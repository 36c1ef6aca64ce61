// SPDX-License-Identifier: GPL-2.0
// ModuleSourceLines: file:line of an address in a loaded module, from its .ko's DWARF (libdwfl).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "analysis/error.h"
#include "analysis/kdump_target/module_files.h"
#include "analysis/kernel/modules.h"
#include "analysis/target.h"

namespace kstuck {

// For each module asked about, once: find its .ko under the --module-dir directories,
// refuse it unless it is the build the dump has loaded (match_module_object), then
// keep one Dwfl for it. A .ko is relocatable (every section at address 0):
// dwfl_report_offline lays its sections out and applies the DWARF relocations, so an
// address A in the kernel's copy of section S is looked up at dwfl's address of S
// plus (A - the kernel's address of S).
class ModuleSourceLines {
 public:
  ModuleSourceLines(Target& target, const ModuleSet& modules, std::vector<std::string> dirs);
  ~ModuleSourceLines();
  ModuleSourceLines(const ModuleSourceLines&) = delete;
  ModuleSourceLines& operator=(const ModuleSourceLines&) = delete;

  // "kstuck_scenario.c:102" for a (KASLR-applied) address in a loaded module's code;
  // the path is relative to the .ko's directory when the source lies below it.
  Result<std::string> at(uint64_t address);

  // One line per module asked about whose .ko was missing, refused or unreadable, and
  // per --module-dir that could not be searched; for the report's problem list.
  std::vector<std::string> problems();

 private:
  struct Loaded;
  Loaded& loaded(const ModuleInfo& m);
  Result<std::unique_ptr<Loaded>> load(const ModuleInfo& m, const std::string& path);

  Target& target_;
  const ModuleSet& modules_;
  ModuleFiles files_;
  std::map<uint64_t, std::unique_ptr<Loaded>> by_module_;  // by struct module address
};

}  // namespace kstuck
