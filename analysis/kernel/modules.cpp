// SPDX-License-Identifier: GPL-2.0
// Loading the module list with each module's text range, kallsyms and ORC pointers.
#include "analysis/kernel/modules.h"

namespace kstuck {

const ModuleInfo* ModuleSet::containing(uint64_t addr) const {
  for (const auto& m : modules)
    if (m.contains(addr)) return &m;
  return nullptr;
}

const ModuleInfo* ModuleSet::by_name(std::string_view name) const {
  for (const auto& m : modules)
    if (m.name == name) return &m;
  return nullptr;
}

namespace {

void read_module(Fields& f, ModuleInfo& m) {
  auto note = [&](const char* what, const Error& e) { m.problems.push_back(std::string(what) + ": " + e.describe()); };
  if (auto v = f.read_chars(m.address, "module", "name")) m.name = *v; else note("name", v.error());
  if (auto v = f.read_int(m.address, "module", "state")) m.state = int(*v);
  if (f.has("module", "core_layout")) {  // up to 6.3
    if (auto v = f.read_ptr(m.address, "module", "core_layout.base")) m.base = *v; else note("core_layout", v.error());
    if (auto v = f.read_uint(m.address, "module", "core_layout.size")) m.size = *v;
    if (auto v = f.read_uint(m.address, "module", "core_layout.text_size")) m.text_size = *v;
    if (f.has("module", "init_layout")) {
      auto b = f.read_ptr(m.address, "module", "init_layout.base");
      auto n = f.read_uint(m.address, "module", "init_layout.size");
      auto tx = f.read_uint(m.address, "module", "init_layout.text_size");
      if (b && n && *b && *n && is_kernel_pointer(*b)) {
        m.init_base = *b;
        m.init_size = *n;
        m.init_text_size = tx && *tx <= *n ? *tx : *n;
      } else if (!b || !n) {
        note("init_layout", !b ? b.error() : n.error());
      }
    }
  } else if (f.has("module", "mem")) {
    // 6.4+ (commit ac3b43283923 "module: replace module_layout with module_memory"):
    // struct module_memory mem[MOD_MEM_NUM_TYPES]; MOD_TEXT is element 0. "mem" is an
    // array, so the element's members are read from its start, not through a dotted path.
    auto mem = f.offset("module", "mem");
    if (!mem) {
      note("mem[MOD_TEXT]", mem.error());
    } else {
      uint64_t text = m.address + *mem;
      if (auto v = f.read_ptr(text, "module_memory", "base")) m.base = *v; else note("mem[MOD_TEXT].base", v.error());
      if (auto v = f.read_uint(text, "module_memory", "size")) m.size = m.text_size = *v;
      else note("mem[MOD_TEXT].size", v.error());
      // Core regions after the text: MOD_DATA 1, MOD_RODATA 2, MOD_RO_AFTER_INIT 3; then
      // MOD_INIT_TEXT 4, MOD_INIT_DATA 5, MOD_INIT_RODATA 6, live only while init runs
      // (zeroed when freed). The array's length (MOD_MEM_NUM_TYPES) comes from the type
      // information; the enum's order is the one of ac3b43283923, unchanged since.
      auto elem = f.size("module_memory");
      auto arr = f.member("module", "mem");
      uint64_t count = elem && *elem > 0 && *elem < 4096 && arr ? arr->size / *elem : 0;
      auto region = [&](uint64_t i) -> std::pair<uint64_t, uint64_t> {
        auto b = f.read_ptr(text + i * *elem, "module_memory", "base");
        auto n = f.read_uint(text + i * *elem, "module_memory", "size");
        if (b && n && *b && *n && is_kernel_pointer(*b)) return {*b, *n};
        return {0, 0};
      };
      for (uint64_t i = 1; i <= 3 && i < count; ++i)
        if (auto [b, n] = region(i); n) m.data_ranges.emplace_back(b, n);
      if (count >= 7) {
        if (auto [b, n] = region(4); n) m.init_base = b, m.init_size = m.init_text_size = n;
        for (uint64_t i = 5; i <= 6; ++i)
          if (auto [b, n] = region(i); n) m.init_data_ranges.emplace_back(b, n);
      } else if (arr && elem) {
        m.problems.push_back("module.mem has " + std::to_string(count) +
                             " elements, fewer than the 7 of MOD_MEM_NUM_TYPES: init memory not read");
      }
    }
  } else {
    m.problems.push_back("struct module has neither core_layout nor mem");
  }
  if (m.text_size == 0 || m.text_size > m.size) m.text_size = m.size;
  if (auto ks = f.read_ptr(m.address, "module", "kallsyms"); ks && *ks) {
    if (auto v = f.read_ptr(*ks, "mod_kallsyms", "symtab")) m.symtab = *v;
    if (auto v = f.read_uint(*ks, "mod_kallsyms", "num_symtab")) m.num_symtab = *v;
    if (auto v = f.read_ptr(*ks, "mod_kallsyms", "strtab")) m.strtab = *v;
  } else if (!ks) {
    note("kallsyms", ks.error());
  }
  if (f.has("module", "arch.num_orcs")) {
    if (auto v = f.read_uint(m.address, "module", "arch.num_orcs")) m.num_orcs = *v;
    if (auto v = f.read_ptr(m.address, "module", "arch.orc_unwind_ip")) m.orc_unwind_ip = *v;
    if (auto v = f.read_ptr(m.address, "module", "arch.orc_unwind")) m.orc_unwind = *v;
  }
}

}  // namespace

ModuleSet load_modules(Fields& f, size_t limit) {
  ModuleSet set;
  auto head = f.target().symbol_address("modules");
  auto list_off = f.offset("module", "list");
  if (!head || !list_off) {
    set.walk_status = WalkStatus::Fault;
    set.problems.push_back("module list: " + (!head ? head.error() : list_off.error()).describe());
    return set;
  }
  ListWalk w = walk_list(f.target(), *head, *list_off, limit);
  set.walk_status = w.status;
  if (!w.complete())
    set.problems.push_back(std::string("module list ") + walk_status_name(w.status) +
                           (w.error ? ": " + w.error->describe() : ""));
  for (uint64_t addr : w.entries) {
    ModuleInfo m;
    m.address = addr;
    read_module(f, m);
    set.modules.push_back(std::move(m));
  }
  return set;
}

}  // namespace kstuck
