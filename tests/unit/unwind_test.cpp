// SPDX-License-Identifier: GPL-2.0
// The ORC unwinder on synthetic tables: call chains, IRQ regs frames, modules, and bad stacks.
#include "analysis/kernel/unwind.h"

#include <gtest/gtest.h>

#include "analysis/kernel/modules.h"
#include "analysis/kernel/symbolizer.h"
#include "analysis/kernel/task_state.h"
#include "tests/unit/fake_kernel.h"
#include "tests/unit/orc_fixture.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

constexpr uint64_t kText = 0xffffffff81000000ULL;
constexpr uint64_t kFuncA = kText + 0x1000, kFuncB = kText + 0x2000, kFuncC = kText + 0x3000,
                   kThreadStart = kText + 0x4000, kIrqEntry = kText + 0x5000, kUnknown = kText + 0x9000,
                   kStill = kText + 0x6000, kThunk = kText + 0x8000;

// Registers of a CPU stopped in the kernel at ip with rsp = sp.
CpuRegisters kernel_regs(uint64_t ip, uint64_t sp) {
  CpuRegisters regs;
  regs.regs[CpuRegisters::rip] = ip;
  regs.regs[CpuRegisters::rsp] = sp;
  regs.regs[CpuRegisters::cs] = 0x10;
  return regs;
}

struct OrcSpec {
  uint64_t ip;
  int16_t sp_offset;
  uint8_t sp_reg, bp_reg, type;
  bool end;
  int16_t bp_offset = 0;
};

// Lays out a legacy (6.1) ORC table for the vmlinux: relative ip slots + 6-byte entries.
void add_orc_table(FakeTarget& t, const std::vector<OrcSpec>& specs) {
  uint64_t ips = t.add_global("__start_orc_unwind_ip", specs.size() * 4);
  t.add_symbol("__stop_orc_unwind_ip", ips + specs.size() * 4);
  uint64_t orcs = t.add_global("__start_orc_unwind", specs.size() * 6);
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    t.write_u32(ips + 4 * i, uint32_t(int32_t(int64_t(s.ip) - int64_t(ips + 4 * i))));
    t.write_u16(orcs + 6 * i, uint16_t(s.sp_offset));
    t.write_u16(orcs + 6 * i + 2, uint16_t(s.bp_offset));
    t.write_u16(orcs + 6 * i + 4, uint16_t(s.sp_reg | s.bp_reg << 4 | s.type << 8 | (s.end ? 1 : 0) << 10));
  }
}

struct Unwind : ::testing::Test {
  test::OrcTarget t;
  FakeKernel k{t};
  Fields f{t};
  ModuleSet modules;
  std::unique_ptr<OrcTables> orc;
  std::unique_ptr<Unwinder> unwinder;
  Symbolizer sym{t, modules};
  uint64_t stack = 0;

  void SetUp() override {
    test::declare_orc_entry(t, OrcFormat::V1);  // the table below is written 6.1's way
    t.map(kText, 0x10000);
    t.add_symbol("_stext", kText);
    t.add_symbol("_einittext", kText + 0x10000);
    t.add_symbol("func_a", kFuncA, 0x100);
    t.add_symbol("func_b", kFuncB, 0x100);
    t.add_symbol("func_c", kFuncC, 0x100);
    t.add_symbol("thread_start", kThreadStart, 0x100);
    t.add_symbol("irq_entry", kIrqEntry, 0x100);
    t.add_symbol("stuck_here", kStill, 0x100);
    t.add_symbol("__x86_indirect_thunk_rax", kThunk, 0x20);
    t.add_symbol("undescribed", kText + 0x7000, 0x100);  // ORC undefined, like 6.1's __crash_kexec
    // Each function pushed rbp: CFA = sp + 16, rbp saved at CFA - 16 (frame pointer style);
    // thread_start is the end of the stack; irq_entry finds pt_regs at sp; stuck_here
    // claims a CFA equal to sp (bad data, a loop if followed).
    add_orc_table(t, {{kText, 0, kOrcRegUndefined, 0, 0, false},
                      {kFuncA, 16, kOrcRegSp, kOrcRegPrevSp, 0, false, -16},
                      {kFuncB, 16, kOrcRegSp, kOrcRegPrevSp, 0, false, -16},
                      {kFuncC, 16, kOrcRegSp, kOrcRegPrevSp, 0, false, -16},
                      {kThreadStart, 0, kOrcRegUndefined, 0, 0, true},
                      {kIrqEntry, 0, kOrcRegSp, kOrcRegUndefined, 1, false},
                      {kStill, 0, kOrcRegSp, kOrcRegUndefined, 0, false},
                      {kText + 0x7000, 0, kOrcRegUndefined, 0, 0, false},
                      {kThunk, 0, kOrcRegUndefined, 0, 0, true},  // UNWIND_HINT_EMPTY
                      {kThunk + 0x20, 0, kOrcRegUndefined, 0, 0, false}});
    orc = std::make_unique<OrcTables>(f, modules);
    unwinder = std::make_unique<Unwinder>(f, *orc);
    stack = t.alloc(kThreadSize, kThreadSize);
  }
  StackRanges ranges() { return StackRanges{{{StackKind::Task, stack, stack + kThreadSize}}}; }
  // "call target" (e8 rel32) in the text, returning to ret.
  void write_call(uint64_t ret, uint64_t target) {
    t.write_u8(ret - 5, 0xe8);
    t.write_u32(ret - 4, uint32_t(int32_t(int64_t(target) - int64_t(ret))));
  }

  std::vector<std::string> names(const Stack& s) {
    std::vector<std::string> out;
    for (const auto& fr : s.frames) out.push_back(sym.format(fr.ip, !fr.exact_ip));
    return out;
  }
  // A sleeping task's stack: inactive_task_frame, then func_a -> func_b -> func_c -> thread_start.
  uint64_t build_sleeping_stack() {
    uint64_t frame = stack + 0x3e00;
    t.write_u64(frame + 0x30, kFuncA + 0x10);  // ret_addr: where __switch_to_asm returns
    uint64_t sp = frame + 0x38;                // the unwinder starts here in func_a
    // func_a's frame: [saved rbp][return into func_b]
    t.write_u64(sp + 8, kFuncB + 0x20);
    sp += 16;
    t.write_u64(sp + 8, kFuncC + 0x30);
    sp += 16;
    t.write_u64(sp + 8, kThreadStart + 0x8);
    return frame;
  }
};

TEST_F(Unwind, SleepingTaskUnwindsToTheEndOfItsStack) {
  Stack s = unwinder->from_thread_sp(build_sleeping_stack(), ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(names(s), (std::vector<std::string>{"func_a+0x10/0x100", "func_b+0x20/0x100", "func_c+0x30/0x100",
                                                "thread_start+0x8/0x100"}));
  for (const auto& fr : s.frames) EXPECT_EQ(fr.stack, StackKind::Task);
}

TEST_F(Unwind, RegsFrameCrossesFromIrqStackToTaskStack) {
  uint64_t irq_stack = t.alloc(kThreadSize, kThreadSize);
  uint64_t frame = build_sleeping_stack();
  // The CPU was in irq_entry on its IRQ stack; pt_regs there say it interrupted func_b+0x7
  // (exact ip) with rsp at func_b's frame on the task stack.
  uint64_t regs_at = irq_stack + 0x3000;
  t.write_u64(regs_at + 16 * 8, kFuncB + 0x7);       // ip
  t.write_u64(regs_at + 17 * 8, 0x10);               // cs: kernel
  t.write_u64(regs_at + 19 * 8, frame + 0x38 + 16);  // sp: func_b's frame
  CpuRegisters regs = kernel_regs(kIrqEntry + 0x4, regs_at);
  StackRanges r = ranges();
  r.ranges.push_back({StackKind::Irq, irq_stack, irq_stack + kThreadSize});
  Stack s = unwinder->from_registers(regs, r);
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"irq_entry+0x4/0x100", "func_b+0x7/0x100", "func_c+0x30/0x100",
                                                "thread_start+0x8/0x100"}));
  ASSERT_EQ(s.frames.size(), 4u);
  EXPECT_EQ(s.frames[0].stack, StackKind::Irq);
  EXPECT_TRUE(s.frames[1].exact_ip);
  EXPECT_EQ(s.frames[1].stack, StackKind::Task);
}

TEST_F(Unwind, CpuStoppedOnARetpolineThunkStillUnwinds) {
  uint64_t frame = build_sleeping_stack();
  CpuRegisters regs = kernel_regs(kThunk, frame + 0x38 + 8);  // the return address into func_b
  Stack s = unwinder->from_registers(regs, ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"__x86_indirect_thunk_rax+0x0/0x20", "func_b+0x20/0x100",
                                                "func_c+0x30/0x100", "thread_start+0x8/0x100"}));
  ASSERT_EQ(s.frames.size(), 4u);
  EXPECT_TRUE(s.frames[0].reliable);
  EXPECT_FALSE(s.frames[1].reliable);  // a guess: marked
  // A sleeping task's stack that really ends at such an entry is not extended.
  uint64_t f2 = stack + 0x3000;
  t.write_u64(f2 + 0x30, kThunk + 0x1);
  EXPECT_EQ(unwinder->from_thread_sp(f2, ranges()).frames.size(), 1u);
}

// Past the thunk's own inner call (6.1: call .Ldo_rop; ... mov %rax,(%rsp); ret) the word
// at sp is that call's return, inside the thunk: the caller's return address is the next
// word that follows a direct call to the thunk.
TEST_F(Unwind, CpuStoppedInsideARetpolineThunkSkipsTheThunksInnerCall) {
  uint64_t frame = build_sleeping_stack();
  const uint64_t ret = kFuncB + 0x20, inner_ret = kThunk + 5;
  write_call(inner_ret, kThunk + 9);  // call .Ldo_rop
  write_call(ret, kThunk);  // func_b: call __x86_indirect_thunk_rax
  uint64_t sp = frame + 0x38 + 8 - 8;  // one word below func_b's return address
  t.write_u64(sp, inner_ret);
  CpuRegisters regs = kernel_regs(kThunk + 9, sp);
  Stack s = unwinder->from_registers(regs, ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"__x86_indirect_thunk_rax+0x9/0x20", "func_b+0x20/0x100",
                                                "func_c+0x30/0x100", "thread_start+0x8/0x100"}));
  ASSERT_EQ(s.frames.size(), 4u);
  EXPECT_FALSE(s.frames[1].reliable);
  // With no direct call to the thunk on the stack, inside it nothing is guessed.
  t.write_u8(ret - 5, 0x90);
  s = unwinder->from_registers(regs, ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack);
  EXPECT_EQ(s.frames.size(), 1u);
}

// Registers saved inside a function ORC marks undefined (crash_setup_regs() in 6.1's
// __crash_kexec): the first stack word that returns right after "call <that function>"
// is its caller's frame; other text addresses on the way are skipped.
TEST_F(Unwind, RegsInAnUndescribedFunctionContinueAtTheDirectCallersReturn) {
  const uint64_t fn = kText + 0x7000, ret = kFuncC + 0x30;
  write_call(ret, fn);  // call rel32 to fn
  write_call(kFuncA + 0x50, kFuncB);  // a call, but to another function
  uint64_t sp = stack + 0x3e00;
  t.write_u64(sp, kFuncA + 0x50);
  t.write_u64(sp + 8, kFuncB + 0x11);  // text, no call before it
  t.write_u64(sp + 0x10, ret);
  t.write_u64(sp + 0x18 + 8, kThreadStart + 0x8);  // func_c's frame: [rbp][return]
  CpuRegisters regs = kernel_regs(fn + 0x40, sp);
  Stack s = unwinder->from_registers(regs, ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"undescribed+0x40/0x100", "func_c+0x30/0x100",
                                                "thread_start+0x8/0x100"}));
  ASSERT_EQ(s.frames.size(), 3u);
  EXPECT_FALSE(s.frames[1].reliable);
  // Without such a return address, and for a sleeping task's frame, ORC's word stands.
  t.write_u8(ret - 5, 0x90);
  s = unwinder->from_registers(regs, ranges());
  EXPECT_EQ(s.stop, StopReason::NoOrc);
  EXPECT_EQ(s.frames.size(), 1u);
  t.write_u8(ret - 5, 0xe8);
  uint64_t f2 = stack + 0x3000;
  t.write_u64(f2 + 0x30, fn + 0x41);
  t.write_u64(f2 + 0x38, ret);
  EXPECT_EQ(unwinder->from_thread_sp(f2, ranges()).stop, StopReason::NoOrc);
}

// On the first instruction of such a function (7.x's thunks are UNWIND_HINT_UNDEFINED
// there), reached by a jump rather than a call: the word at sp is the return address.
TEST_F(Unwind, RegsOnTheFirstInstructionOfAnUndescribedFunctionReturnAtSp) {
  const uint64_t fn = kText + 0x7000;
  uint64_t sp = stack + 0x3e00;
  t.write_u64(sp, kFuncC + 0x30);  // no call before it: the function was jumped to
  t.write_u64(sp + 8 + 8, kThreadStart + 0x8);
  CpuRegisters regs = kernel_regs(fn, sp);
  Stack s = unwinder->from_registers(regs, ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"undescribed+0x0/0x100", "func_c+0x30/0x100",
                                                "thread_start+0x8/0x100"}));
  ASSERT_EQ(s.frames.size(), 3u);
  EXPECT_FALSE(s.frames[1].reliable);
  regs.regs[CpuRegisters::rip] = fn + 1;  // one instruction in: no guess
  EXPECT_EQ(unwinder->from_registers(regs, ranges()).stop, StopReason::NoOrc);
}

TEST_F(Unwind, UserModeRegsEndTheStack) {
  uint64_t frame = stack + 0x3f00;
  t.write_u64(frame + 0x30, kIrqEntry + 0x4);
  uint64_t regs_at = frame + 0x38;
  t.write_u64(regs_at + 16 * 8, 0x401000);  // a user ip
  t.write_u64(regs_at + 17 * 8, 0x33);      // user cs
  t.write_u64(regs_at + 19 * 8, 0x7ffc0000);
  Stack s = unwinder->from_thread_sp(frame, ranges());
  EXPECT_EQ(s.stop, StopReason::UserMode);
  EXPECT_TRUE(s.complete());
  ASSERT_EQ(s.frames.size(), 2u);
  EXPECT_EQ(s.frames[1].ip, 0x401000u);
}

TEST_F(Unwind, StackThatDoesNotMoveIsStopped) {
  uint64_t frame = stack + 0x3e00;
  t.write_u64(frame + 0x30, kStill + 0x10);
  t.write_u64(frame + 0x38 - 8, kStill + 0x10);  // CFA = sp: the "return address" repeats forever
  Stack s = unwinder->from_thread_sp(frame, ranges());
  EXPECT_EQ(s.stop, StopReason::WrongDirection);
  EXPECT_LE(s.frames.size(), 2u);
}

TEST_F(Unwind, UnreadableStackIsAFaultWithItsAddress) {
  uint64_t frame = stack + kThreadSize - 0x40;  // func_a's return address lies beyond the stack
  t.write_u64(frame + 0x30, kFuncA + 0x10);
  Stack s = unwinder->from_thread_sp(frame, ranges());
  EXPECT_EQ(s.stop, StopReason::Fault);
  EXPECT_EQ(s.stop_address, frame + 0x38 + 8);
  EXPECT_EQ(s.frames.size(), 1u);
}

TEST_F(Unwind, IpWithoutOrcStopsAfterOneFramePointerGuess) {
  uint64_t frame = stack + 0x3e00;
  t.write_u64(frame + 0x28, 0);  // bp = 0: nothing to guess with
  t.write_u64(frame + 0x30, kUnknown + 0x10);
  Stack s = unwinder->from_thread_sp(frame, ranges());
  EXPECT_EQ(s.stop, StopReason::NoOrc);
  EXPECT_EQ(s.stop_address, kUnknown + 0xf);
}

TEST_F(Unwind, WildThreadSpIsMarked) {
  Stack s = unwinder->from_thread_sp(0xffff888055550000ULL, ranges());
  EXPECT_EQ(s.stop, StopReason::Fault);
  EXPECT_TRUE(s.frames.empty());
  EXPECT_EQ(unwinder->from_thread_sp(0, ranges()).stop, StopReason::NoStart);
}

TEST_F(Unwind, FrameLimitBoundsEveryStack) {
  UnwindLimits small;
  small.max_frames = 2;
  Unwinder u(f, *orc, small);
  Stack s = u.from_thread_sp(build_sleeping_stack(), ranges());
  EXPECT_EQ(s.stop, StopReason::Limit);
  EXPECT_EQ(s.frames.size(), 2u);
}

TEST(TaskState, LettersAsTheKernelReportsThem) {
  EXPECT_EQ(decode_task_state(0x0, 0).letter, 'R');
  EXPECT_EQ(decode_task_state(0x1, 0).letter, 'S');
  EXPECT_EQ(decode_task_state(0x2, 0).letter, 'D');
  EXPECT_EQ(decode_task_state(0x102, 0).letter, 'D');  // TASK_KILLABLE
  EXPECT_EQ(decode_task_state(0x402, 0).letter, 'I');  // TASK_IDLE
  EXPECT_EQ(decode_task_state(0x104, 0).letter, 'T');  // TASK_STOPPED
  EXPECT_EQ(decode_task_state(0x8, 0).letter, 't');
  EXPECT_EQ(decode_task_state(0x80, 0x20).letter, 'Z');
  EXPECT_EQ(decode_task_state(0x80, 0x10).letter, 'X');
  EXPECT_EQ(decode_task_state(0x40, 0).letter, 'P');
  EXPECT_EQ(decode_task_state(0x1000, 0).letter, 'D');  // RTLOCK_WAIT
  EXPECT_EQ(decode_task_state(0x8001, 0).letter, 'D');  // frozen
  EXPECT_STREQ(decode_task_state(0x2, 0).name, "uninterruptible");
}

}  // namespace
}  // namespace kstuck

namespace kstuck {
namespace {

TEST(Modules, KallsymsSymbolizeAndModuleOrcUnwinds) {
  test::OrcTarget t;
  test::FakeKernel k(t);
  test::declare_orc_entry(t, OrcFormat::V1);
  uint64_t mod = k.add_module("kstuck_scenario", 0x1000, {{"spin_fn", 0x100, 0x80}, {"other_fn", 0x200, 0x40}});
  k.add_module("second", 0x800, {{"x", 0x10, 0x10}});
  uint64_t base = k.module_base(mod);
  // Module ORC: spin_fn is a leaf whose CFA is sp+8 (just the return address).
  // The tables live in the module's own memory (int32 offsets reach only +-2 GiB).
  uint64_t ips = base + 0x800, orcs = base + 0x840;
  t.write_u32(ips, uint32_t(int32_t(int64_t(base + 0x100) - int64_t(ips))));
  t.write_u32(ips + 4, uint32_t(int32_t(int64_t(base + 0x180) - int64_t(ips + 4))));
  t.write_u16(orcs, 8);
  t.write_u16(orcs + 4, uint16_t(kOrcRegSp | 0 << 8));
  t.write_u16(orcs + 6 + 4, uint16_t(0 | 0 << 8));  // terminator: undefined
  t.set(mod, "module", "arch.num_orcs", 2);
  t.set(mod, "module", "arch.orc_unwind_ip", ips);
  t.set(mod, "module", "arch.orc_unwind", orcs);
  // vmlinux: a caller kthread() whose frame ends the stack.
  constexpr uint64_t kText = 0xffffffff81000000ULL;
  t.map(kText, 0x1000);
  t.add_symbol("_stext", kText);
  t.add_symbol("_etext", kText + 0x1000);
  t.add_symbol("kthread", kText + 0x100, 0x100);
  uint64_t vip = t.add_global("__start_orc_unwind_ip", 4);
  t.add_symbol("__stop_orc_unwind_ip", vip + 4);
  uint64_t vorc = t.add_global("__start_orc_unwind", 6);
  t.write_u32(vip, uint32_t(int32_t(int64_t(kText + 0x100) - int64_t(vip))));
  t.write_u16(vorc + 4, 0x0400);  // end of stack

  Fields f(t);
  ModuleSet mods = load_modules(f);
  ASSERT_EQ(mods.modules.size(), 2u);
  EXPECT_EQ(mods.modules[0].name, "kstuck_scenario");
  EXPECT_EQ(mods.modules[0].num_orcs, 2u);
  Symbolizer sym(t, mods);
  EXPECT_EQ(sym.format(base + 0x11c), "spin_fn+0x1c/0x80 [kstuck_scenario]");
  EXPECT_EQ(sym.format(base + 0x210), "other_fn+0x10/0x40 [kstuck_scenario]");
  EXPECT_EQ(sym.module_symbol("kstuck_scenario", "other_fn").value(), base + 0x200);
  EXPECT_EQ(sym.format(base + 0x900), "0xffffffffc0000900");  // in the module, no symbol

  OrcTables orc(f, mods);
  Unwinder u(f, orc);
  uint64_t stack = t.alloc(kThreadSize, kThreadSize);
  uint64_t sp = stack + 0x3f00;
  t.write_u64(sp, kText + 0x150);  // spin_fn's return address into kthread
  CpuRegisters regs = kernel_regs(base + 0x11c, sp);
  regs.regs[CpuRegisters::eflags] = 0x46;  // IF clear
  Stack s = u.from_registers(regs, StackRanges{{{StackKind::Task, stack, stack + kThreadSize}}});
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail << " at " << std::hex << s.stop_address;
  ASSERT_EQ(s.frames.size(), 2u);
  EXPECT_EQ(sym.format(s.frames[0].ip), "spin_fn+0x1c/0x80 [kstuck_scenario]");
  EXPECT_EQ(sym.format(s.frames[1].ip, true), "kthread+0x50/0x100");
}

TEST(Modules, CorruptModuleListIsBounded) {
  test::FakeTarget t;
  test::FakeKernel k(t);
  uint64_t a = k.add_module("a", 0x100, {});
  uint64_t b = k.add_module("b", 0x100, {});
  t.write_u64(t.addr_of(b, "module", "list"), t.addr_of(a, "module", "list"));  // b -> a -> b ...
  Fields f(t);
  ModuleSet mods = load_modules(f);
  EXPECT_EQ(mods.walk_status, WalkStatus::Cycle);
  EXPECT_EQ(mods.modules.size(), 2u);
  EXPECT_FALSE(mods.problems.empty());
}

}  // namespace
}  // namespace kstuck

namespace kstuck {
namespace {

// Each CPU's IRQ stack, from where this kernel keeps hardirq_stack_ptr and what it points at.
struct IrqStack : ::testing::Test {
  test::FakeTarget t;
  test::FakeKernel k{t};
  Fields f{t};
  static constexpr uint64_t kEnd = 0xffffc90000104000ULL;  // the stack's end, 16 KiB aligned
  StackRange irq_range(int cpu) {
    for (const auto& r : cpu_stack_ranges(f, cpu).ranges)
      if (r.kind == StackKind::Irq) return r;
    return {};
  }
};

TEST_F(IrqStack, Before512ThePointerIsTheEnd) {
  // 5.10: per-CPU hardirq_stack_ptr = end, and irq_count (no hardirq_stack_inuse).
  k.define_per_cpu("hardirq_stack_ptr", 8);
  k.define_per_cpu("irq_count", 4);
  t.write_u64(k.per_cpu_addr(1, "hardirq_stack_ptr"), kEnd);
  EXPECT_EQ(irq_stack_ptr_to_end(f), 0u);
  StackRange r = irq_range(1);
  EXPECT_EQ(r.end, kEnd);
  EXPECT_EQ(r.begin, kEnd - kThreadSize);
  EXPECT_EQ(irq_range(2).kind, StackKind::Unknown);  // a CPU whose pointer is 0: no range
}

TEST_F(IrqStack, PcpuHotMemberPointsAtTheTopWord) {
  // 6.2-6.14: pcpu_hot.hardirq_stack_ptr = end - 8, pcpu_hot.hardirq_stack_inuse.
  t.add_struct("pcpu_hot", 64, {{"current_task", 0}, {"hardirq_stack_ptr", 0x20}, {"hardirq_stack_inuse", 0x2a, 1}});
  k.define_per_cpu("pcpu_hot", 64);
  t.write_u64(k.per_cpu_addr(3, "pcpu_hot") + 0x20, kEnd - 8);
  EXPECT_EQ(irq_stack_ptr_to_end(f), 8u);
  StackRange r = irq_range(3);
  EXPECT_EQ(r.end, kEnd);
  EXPECT_EQ(r.begin, kEnd - kThreadSize);
}

TEST_F(IrqStack, PerCpuVariablesAgainSince615) {
  k.define_per_cpu("hardirq_stack_ptr", 8);
  k.define_per_cpu("hardirq_stack_inuse", 1);
  t.write_u64(k.per_cpu_addr(0, "hardirq_stack_ptr"), kEnd - 8);
  StackRange r = irq_range(0);
  EXPECT_EQ(r.end, kEnd);
}

}  // namespace
}  // namespace kstuck
