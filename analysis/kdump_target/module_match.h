// SPDX-License-Identifier: GPL-2.0
// Matching a .ko against a module loaded in the dump, and where the kernel put its sections.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/error.h"
#include "analysis/kdump_target/module_object.h"
#include "analysis/kernel/modules.h"
#include "analysis/target.h"

namespace kstuck {

// The kernel's load address of each .ko section that holds a function the dump's
// kallsyms lists (.text, .text.unlikely, .noinstr.text, ...).
struct LoadedSections {
  struct Placement {
    uint32_t section = 0;  // ELF section index in the .ko
    uint64_t address = 0;  // where the kernel loaded it
    uint64_t size = 0;
  };
  std::vector<Placement> placements;  // sorted by address
  size_t functions_checked = 0;
  const Placement* containing(uint64_t address) const;
};

// Shows that obj is the build of module m that the dump has loaded, or says why not
// (ErrorKind::Invalid, one line). A .ko that does not match must never be used.
//  - names: .gnu.linkonce.this_module and modinfo name= against the dump's module name;
//  - build id: only where struct module keeps one (CONFIG_STACKTRACE_BUILD_ID, off in
//    Debian 6.1);
//  - always: every function of the module's kallsyms in the dump keeps the .ko's
//    section index (st_shndx is copied, st_value relocated), so each must be a function
//    of that name, section and size in the .ko, and address - offset must give one
//    load address per section, inside the module.
Result<LoadedSections> match_module_object(Target& target, const ModuleInfo& m, const ModuleObject& obj);

}  // namespace kstuck
