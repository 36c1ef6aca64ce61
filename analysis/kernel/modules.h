// SPDX-License-Identifier: GPL-2.0
// Loaded modules of a dumped kernel: name, core text range, kallsyms and ORC tables.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "analysis/fields.h"
#include "analysis/list_walk.h"

namespace kstuck {

struct ModuleInfo {
  uint64_t address = 0;   // struct module
  std::string name;
  int state = 0;          // MODULE_STATE_LIVE 0, COMING 1, GOING 2, UNFORMED 3
  uint64_t base = 0;      // core text (6.1: core_layout.base; 6.4+: mem[MOD_TEXT].base)
  uint64_t size = 0;      // core size (6.1: whole core layout; 6.4+: text only)
  uint64_t text_size = 0; // executable part of [base, base+size)
  // mod->kallsyms (the core copy kept after init): Elf64_Sym[num_symtab] and strings.
  uint64_t symtab = 0;
  uint64_t num_symtab = 0;
  uint64_t strtab = 0;
  // mod->arch (x86 ORC): int orc_unwind_ip[num_orcs], struct orc_entry orc_unwind[num_orcs].
  uint64_t orc_unwind_ip = 0;
  uint64_t orc_unwind = 0;
  uint64_t num_orcs = 0;
  // 6.4+: the other core regions, allocated apart from the text (MOD_DATA, MOD_RODATA,
  // MOD_RO_AFTER_INIT), as {base, size}; empty on 6.1 where core_layout spans them all.
  std::vector<std::pair<uint64_t, uint64_t>> data_ranges;
  // Init memory while the module's init runs (state COMING; the kernel frees it and zeroes
  // these once init returns): its text, where a hung module_init sleeps, and its data.
  // Up to 6.3 init_layout (text first, then data); 6.4+ mem[MOD_INIT_TEXT] and
  // mem[MOD_INIT_DATA], mem[MOD_INIT_RODATA] in init_data_ranges. The module's ORC table
  // and kallsyms (mod->kallsyms points at the init copy during init) cover it too.
  uint64_t init_base = 0;
  uint64_t init_size = 0;       // 6.1: the whole init layout; 6.4+: init text only
  uint64_t init_text_size = 0;
  std::vector<std::pair<uint64_t, uint64_t>> init_data_ranges;
  std::vector<std::string> problems;

  bool contains(uint64_t addr) const {
    if (addr >= base && addr - base < size) return true;
    if (init_size && addr >= init_base && addr - init_base < init_size) return true;
    for (const auto& [b, n] : data_ranges)
      if (addr >= b && addr - b < n) return true;
    for (const auto& [b, n] : init_data_ranges)
      if (addr >= b && addr - b < n) return true;
    return false;
  }
  bool text_contains(uint64_t addr) const {
    return (addr >= base && addr - base < text_size) ||
           (init_text_size && addr >= init_base && addr - init_base < init_text_size);
  }
};

struct ModuleSet {
  std::vector<ModuleInfo> modules;
  WalkStatus walk_status = WalkStatus::Complete;
  std::vector<std::string> problems;
  const ModuleInfo* containing(uint64_t addr) const;
  const ModuleInfo* by_name(std::string_view name) const;
};

// Walks the `modules` list (bounded, cycle-safe). The layout branches on type info:
// 6.4 replaced core_layout with mem[MOD_MEM_NUM_TYPES] (ac3b43283923 "module: replace
// module_layout with module_memory"), so we probe which member exists.
ModuleSet load_modules(Fields& fields, size_t limit = 4096);

}  // namespace kstuck
