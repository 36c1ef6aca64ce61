// SPDX-License-Identifier: GPL-2.0
// Module memory, 6.1 layouts (core_layout/init_layout) and 6.4+ mem[]: a module whose init
// is still running is symbolized and unwound in its init text.
#include "analysis/kernel/modules.h"

#include <gtest/gtest.h>

#include "analysis/kernel/symbolizer.h"
#include "analysis/kernel/unwind.h"
#include "tests/unit/fake_kernel.h"
#include "tests/unit/orc_fixture.h"

namespace kstuck {
namespace {

using test::OrcSpec2;

constexpr uint64_t kText = 0xffffffff81000000ULL;
constexpr uint64_t kCore = 0xffffffffc0100000ULL, kInit = 0xffffffffc0200000ULL;
constexpr uint64_t kModuleMemorySize = 0x38;  // struct module_memory (base, size, ...)

enum class Layout { CoreInitLayout61, ModMem64 };

struct ModuleInit : ::testing::TestWithParam<Layout> {
  test::OrcTarget t;
  test::FakeKernel k{t};
  Fields f{t};
  uint64_t mod = 0;

  // A module "hung_init" in state COMING: core text [kCore, +0x1000) with core_fn, init
  // text [kInit, +0x1000) with its init function hung_init_fn, and one ORC table for both.
  void build() {
    Layout l = GetParam();
    std::vector<test::FakeMember> members = {{"state", 0x0, 4, "enum module_state"},
                                             {"list", 0x8, 16, "struct list_head"},
                                             {"name", 0x18, 56, "char [56]"},
                                             {"kallsyms", 0x100, 8, "struct mod_kallsyms *"},
                                             {"arch", 0x110, 0x18, "struct mod_arch_specific"},
                                             {"arch.num_orcs", 0x110, 4, "unsigned int"},
                                             {"arch.orc_unwind_ip", 0x118, 8, "int *"},
                                             {"arch.orc_unwind", 0x120, 8, "struct orc_entry *"}};
    if (l == Layout::CoreInitLayout61) {
      for (const char* which : {"core_layout", "init_layout"}) {
        uint64_t at = std::string(which) == "core_layout" ? 0x60 : 0x80;
        members.push_back({which, at, 0x20, "struct module_layout"});
        members.push_back({std::string(which) + ".base", at, 8, "void *"});
        members.push_back({std::string(which) + ".size", at + 8, 4, "unsigned int"});
        members.push_back({std::string(which) + ".text_size", at + 0xc, 4, "unsigned int"});
      }
    } else {
      members.push_back({"mem", 0x130, 7 * kModuleMemorySize, "struct module_memory [7]"});
      t.add_struct("module_memory", kModuleMemorySize, {{"base", 0, 8, "void *"}, {"size", 8, 4, "unsigned int"}});
    }
    t.add_struct("module", 0x300, members);
    test::declare_orc_kernel(t, l == Layout::ModMem64 ? OrcFormat::V3 : OrcFormat::V1);
    OrcFormat fmt = l == Layout::ModMem64 ? OrcFormat::V3 : OrcFormat::V1;

    t.map(kCore, 0x1000);
    t.map(kInit, 0x1000);
    mod = t.alloc(0x300);
    t.set_string(mod, "module", "name", "hung_init");
    t.set(mod, "module", "state", 1);  // MODULE_STATE_COMING
    if (l == Layout::CoreInitLayout61) {
      t.set(mod, "module", "core_layout.base", kCore);
      t.set(mod, "module", "core_layout.size", 0x1000);
      t.set(mod, "module", "core_layout.text_size", 0x800);
      t.set(mod, "module", "init_layout.base", kInit);
      t.set(mod, "module", "init_layout.size", 0x1000);
      t.set(mod, "module", "init_layout.text_size", 0x400);
    } else {
      uint64_t mem = t.addr_of(mod, "module", "mem");
      t.write_u64(mem + 0 * kModuleMemorySize, kCore);  // MOD_TEXT
      t.write_u32(mem + 0 * kModuleMemorySize + 8, 0x800);
      t.write_u64(mem + 1 * kModuleMemorySize, kCore + 0x800);  // MOD_DATA
      t.write_u32(mem + 1 * kModuleMemorySize + 8, 0x800);
      t.write_u64(mem + 4 * kModuleMemorySize, kInit);  // MOD_INIT_TEXT
      t.write_u32(mem + 4 * kModuleMemorySize + 8, 0x400);
      t.write_u64(mem + 5 * kModuleMemorySize, kInit + 0x400);  // MOD_INIT_DATA
      t.write_u32(mem + 5 * kModuleMemorySize + 8, 0x400);
    }
    // kallsyms (the init copy during init: core and init symbols).
    struct S { const char* name; uint64_t addr, size; };
    const S syms[] = {{"core_fn", kCore + 0x100, 0x80}, {"hung_init_fn", kInit + 0x10, 0x60}};
    uint64_t symtab = t.alloc(24 * 3);
    std::string strtab(1, '\0');
    for (size_t i = 0; i < 2; ++i) {
      uint64_t sym = symtab + 24 * (i + 1);
      t.write_u32(sym, uint32_t(strtab.size()));
      t.write_u8(sym + 4, 0x12);
      t.write_u16(sym + 6, 1);
      t.write_u64(sym + 8, syms[i].addr);
      t.write_u64(sym + 16, syms[i].size);
      strtab += syms[i].name;
      strtab.push_back('\0');
    }
    uint64_t str = t.alloc(strtab.size());
    t.write(str, strtab.data(), strtab.size());
    uint64_t ks = t.alloc(0x20);
    t.set(ks, "mod_kallsyms", "symtab", symtab);
    t.set(ks, "mod_kallsyms", "num_symtab", 3);
    t.set(ks, "mod_kallsyms", "strtab", str);
    t.set(mod, "module", "kallsyms", ks);
    k.list_add_tail(t.addr_of(mod, "module", "list"), *t.symbol_address("modules"));
    // One ORC table for core and init text (objtool covers .init.text too), in core data.
    // hung_init_fn is frame-pointer style; its caller do_one_initcall ends the stack.
    const std::pair<uint64_t, OrcSpec2> orcs[] = {
        {kCore + 0x100, {8, kOrcRegSp, kOrcRegUndefined, OrcType::Call}},
        {kCore + 0x180, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::Undefined}},
        {kInit + 0x10, {16, kOrcRegSp, kOrcRegPrevSp, OrcType::Call, false, -16}},
        {kInit + 0x70, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::Undefined}}};
    uint64_t ips = kCore + 0x900, entries = kCore + 0x940;
    for (size_t i = 0; i < 4; ++i) {
      t.write_u32(ips + 4 * i, uint32_t(int32_t(int64_t(orcs[i].first) - int64_t(ips + 4 * i))));
      auto raw = test::encode_orc(orcs[i].second, fmt);
      t.write(entries + 6 * i, raw.data(), 6);
    }
    t.set(mod, "module", "arch.num_orcs", 4);
    t.set(mod, "module", "arch.orc_unwind_ip", ips);
    t.set(mod, "module", "arch.orc_unwind", entries);
    // vmlinux: do_one_initcall, the end of this test's stack.
    t.map(kText, 0x1000);
    t.add_symbol("_stext", kText);
    t.add_symbol("_etext", kText + 0x1000);
    t.add_symbol("do_one_initcall", kText + 0x100, 0x100);
    test::add_vmlinux_orc(t, fmt, {{kText + 0x100, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::EndOfStack}}});
  }
};

TEST_P(ModuleInit, InitTextIsTheModules) {
  build();
  ModuleSet mods = load_modules(f);
  ASSERT_EQ(mods.modules.size(), 1u);
  const ModuleInfo& m = mods.modules[0];
  EXPECT_TRUE(m.problems.empty()) << m.problems.front();
  EXPECT_EQ(m.init_base, kInit);
  EXPECT_TRUE(m.text_contains(kInit + 0x20));
  EXPECT_TRUE(m.contains(kInit + 0x500));     // init data
  EXPECT_FALSE(m.text_contains(kInit + 0x500));
  EXPECT_FALSE(m.contains(kInit + 0x1000));
  EXPECT_EQ(mods.containing(kInit + 0x20), &m);
  Symbolizer sym(t, mods);
  EXPECT_EQ(sym.format(kInit + 0x24), "hung_init_fn+0x14/0x60 [hung_init]");
  EXPECT_EQ(sym.format(kCore + 0x110), "core_fn+0x10/0x80 [hung_init]");
}

TEST_P(ModuleInit, SleeperInModuleInitUnwindsThroughIt) {
  build();
  ModuleSet mods = load_modules(f);
  Symbolizer sym(t, mods);
  OrcTables orc(f, mods);
  Unwinder u(f, orc);
  uint64_t stack = t.alloc(kThreadSize, kThreadSize);
  uint64_t frame = stack + 0x3f00;
  t.write_u64(frame + 0x30, kInit + 0x40);              // schedule() returned into hung_init_fn
  t.write_u64(frame + 0x38 + 8, kText + 0x150);         // hung_init_fn's caller
  Stack s = u.from_thread_sp(frame, StackRanges{{{StackKind::Task, stack, stack + kThreadSize}}});
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  ASSERT_EQ(s.frames.size(), 2u);
  EXPECT_EQ(sym.format(s.frames[0].ip, true), "hung_init_fn+0x30/0x60 [hung_init]");
  EXPECT_EQ(sym.format(s.frames[1].ip, true), "do_one_initcall+0x50/0x100");
}

TEST_P(ModuleInit, FreedInitMemoryIsNotTheModulesAnyMore) {
  build();
  if (GetParam() == Layout::CoreInitLayout61) {
    t.set(mod, "module", "init_layout.base", 0);
    t.set(mod, "module", "init_layout.size", 0);
  } else {
    uint64_t mem = t.addr_of(mod, "module", "mem");
    for (uint64_t i = 4; i <= 6; ++i) t.write_u64(mem + i * kModuleMemorySize, 0);
  }
  t.set(mod, "module", "state", 0);  // LIVE
  ModuleSet mods = load_modules(f);
  ASSERT_EQ(mods.modules.size(), 1u);
  EXPECT_FALSE(mods.modules[0].contains(kInit + 0x20));
  EXPECT_EQ(mods.containing(kInit + 0x20), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Modules, ModuleInit, ::testing::Values(Layout::CoreInitLayout61, Layout::ModMem64),
                         [](const auto& info) {
                           return std::string(info.param == Layout::ModMem64 ? "mod_mem_6_4" : "init_layout_6_1");
                         });

TEST(ModuleMem, ShortMemArrayIsReported) {
  test::OrcTarget t;
  test::FakeKernel k{t};
  t.add_struct("module", 0x300,
               {{"state", 0x0, 4}, {"list", 0x8, 16}, {"name", 0x18, 56}, {"mem", 0x130, 4 * kModuleMemorySize}});
  t.add_struct("module_memory", kModuleMemorySize, {{"base", 0, 8}, {"size", 8, 4}});
  uint64_t mod = t.alloc(0x300);
  t.set_string(mod, "module", "name", "m");
  k.list_add_tail(t.addr_of(mod, "module", "list"), *t.symbol_address("modules"));
  Fields f(t);
  ModuleSet mods = load_modules(f);
  ASSERT_EQ(mods.modules.size(), 1u);
  bool said = false;
  for (const auto& p : mods.modules[0].problems) said |= p.find("MOD_MEM_NUM_TYPES") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace kstuck
