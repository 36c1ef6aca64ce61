// SPDX-License-Identifier: GPL-2.0
// Symbolizer: kernel addresses to "func+0x1c/0x80 [module]" from vmlinux and module kallsyms.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/kernel/modules.h"
#include "analysis/target.h"

namespace kstuck {

class Symbolizer {
 public:
  Symbolizer(Target& target, const ModuleSet& modules) : target_(target), modules_(modules) {}

  // The symbol containing addr: the vmlinux's through the Target, a module's through its
  // kallsyms in the dump (read once per module, bounded).
  std::optional<Symbol> lookup(uint64_t addr);

  // "func+0x1c/0x80 [module]". For a return address (after a call) the lookup uses
  // addr-1 so a call at the very end of a function is attributed to it, as %pB does.
  std::string format(uint64_t addr, bool return_address = false);

  // A module symbol by name ("name" or "module:name"); 0 when absent.
  std::optional<uint64_t> module_symbol(std::string_view module, std::string_view name);

 private:
  struct ModSym {
    uint64_t address;
    uint64_t size;
    uint32_t name;  // offset into strtab
  };
  struct ModSyms {
    std::vector<ModSym> syms;  // sorted by address
    std::string error;
  };
  ModSyms& module_syms(const ModuleInfo& m);
  std::string sym_name(const ModuleInfo& m, uint32_t off);

  Target& target_;
  const ModuleSet& modules_;
  std::map<uint64_t, ModSyms> cache_;  // by struct module address
  std::map<std::pair<uint64_t, uint32_t>, std::string> names_;
};

}  // namespace kstuck
