// SPDX-License-Identifier: GPL-2.0
// Spinlock holders in classify_cpus found from code: a static lock by immediate, candidates by stack word, preempt count, ambiguity.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "analysis/code/disasm.h"
#include "analysis/hang/cpu_activity.h"
#include "tests/unit/code_builder.h"
#include "tests/unit/fake_target.h"

namespace kstuck::test {
namespace {

constexpr uint64_t kStack2 = 0xffffc90000020000, kStack3 = 0xffffc90000030000, kStack1 = 0xffffc90000010000;

class LockHolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    text_ = std::make_unique<FakeText>(t_);
    lock_ = t_.add_global("kstuck_static_lock", 8);
    t_.write_u32(lock_, 1);  // locked
    t_.add_symbol("native_queued_spin_lock_slowpath", FakeText::kBase + 0x400, 0x40);
    for (uint64_t s : {kStack1, kStack2, kStack3}) t_.map(s, 0x4000);

    // CPU 2's holder: spin_lock(&kstuck_static_lock); smp_call_function_single(3, ...).
    CodeBuilder h(0xffffffffc0001000);
    h.nop5().push(Gpr::rbx).mov_imm32(Gpr::rdi, lock_).call(text_->spin_lock).mov_edi(3).call(text_->other);
    holder_ra_ = h.here();
    h.mov_imm32(Gpr::rdi, lock_).call(text_->spin_unlock).pop(Gpr::rbx).ret();
    text_->install(h, "kstuck_hold");
    // CPU 3's waiter: spin_lock_irqsave(&kstuck_static_lock) <- it spins inside.
    CodeBuilder w(0xffffffffc0002000);
    w.nop5().lea_rip(Gpr::rdi, lock_).call(text_->spin_lock_irqsave);
    waiter_ra_ = w.here();
    w.ret();
    text_->install(w, "kstuck_wait");
  }

  CpuView holder_cpu(int cpu, uint64_t stack) {
    CpuView c;
    c.cpu = cpu;
    c.curr = 0xffff888000001000 + cpu;
    CpuRegisters r;
    r.regs[CpuRegisters::rip] = text_->other + 0x10;
    r.regs[CpuRegisters::rsp] = stack + 0x3000;
    r.regs[CpuRegisters::eflags] = 0x246;  // IRQs on: spin_lock leaves them
    c.regs = r;
    t_.write_u64(stack + 0x3000, holder_ra_);
    c.frames = {{text_->other + 0x10, stack + 0x3000, "smp_call_function_single", ""},
                {holder_ra_, stack + 0x3008, "kstuck_hold", "kstuck_test"}};
    return c;
  }

  CpuView waiter_cpu() {
    CpuView c;
    c.cpu = 3;
    c.curr = 0xffff888000001003;
    CpuRegisters r;
    r.regs[CpuRegisters::rip] = FakeText::kBase + 0x410;
    r.regs[CpuRegisters::rsp] = kStack3 + 0x3000;
    r.regs[CpuRegisters::eflags] = 0x46;  // IRQs off
    c.regs = r;
    uint64_t in_irqsave = text_->spin_lock_irqsave + 0x20;
    c.frames = {{FakeText::kBase + 0x410, kStack3 + 0x3000, "native_queued_spin_lock_slowpath", ""},
                {in_irqsave, kStack3 + 0x3008, "_raw_spin_lock_irqsave", ""},
                {waiter_ra_, kStack3 + 0x3010, "kstuck_wait", "kstuck_test"}};
    return c;
  }

  // CPU 1 keeps the lock's address on its stack but its code never took it.
  CpuView decoy_cpu() {
    CpuView c;
    c.cpu = 1;
    CpuRegisters r;
    r.regs[CpuRegisters::rip] = text_->other + 0x10;
    r.regs[CpuRegisters::rsp] = kStack1 + 0x3000;
    r.regs[CpuRegisters::eflags] = 0x246;
    c.regs = r;
    t_.write_u64(kStack1 + 0x3010, lock_);
    c.frames = {{text_->other + 0x10, kStack1 + 0x3000, "smp_call_function_single", ""}};
    return c;
  }

  const CpuActivity& cpu(const std::vector<CpuActivity>& v, int n) {
    for (const auto& a : v)
      if (a.cpu == n) return a;
    throw std::runtime_error("no cpu " + std::to_string(n));
  }

  FakeTarget t_;
  std::unique_ptr<FakeText> text_;
  uint64_t lock_ = 0, holder_ra_ = 0, waiter_ra_ = 0;
};

TEST_F(LockHolderTest, StaticLockHolderFoundFromCodeAndWaiterFromItsLockCall) {
  HangSnapshot snap;
  snap.cpus = {decoy_cpu(), holder_cpu(2, kStack2), waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  const CpuActivity& w = cpu(act, 3);
  EXPECT_EQ(w.doing, CpuDoing::SpinlockWait);
  EXPECT_EQ(w.lock, lock_);
  EXPECT_EQ(w.lock_symbol, "kstuck_static_lock");
  EXPECT_NE(w.lock_evidence.find("spin_lock_irqsave(&kstuck_static_lock) at kstuck_wait+0xc has not returned"),
            std::string::npos)
      << w.lock_evidence;
  EXPECT_NE(w.lock_evidence.find("RIP-relative"), std::string::npos) << w.lock_evidence;
  ASSERT_EQ(w.holders.size(), 1u);  // the stack-word decoy on CPU 1 is dropped
  EXPECT_EQ(w.holders[0].cpu, 2);
  EXPECT_EQ(w.holders[0].basis, HolderBasis::Code);
  EXPECT_EQ(w.holders[0].function, "kstuck_hold");
  const std::string& ev = w.holders[0].evidence;
  EXPECT_NE(ev.find("spin_lock(&kstuck_static_lock) at kstuck_hold+0xd"), std::string::npos) << ev;
  EXPECT_NE(ev.find("immediate"), std::string::npos) << ev;
  EXPECT_NE(ev.find("no unlock before the return address"), std::string::npos) << ev;
  EXPECT_NE(ev.find("linear scan"), std::string::npos) << ev;
}

TEST_F(LockHolderTest, WithoutACodeHolderTheStackWordCandidateRemainsWeaker) {
  HangSnapshot snap;
  snap.cpus = {decoy_cpu(), waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  const CpuActivity& w = cpu(act, 3);
  ASSERT_EQ(w.holders.size(), 1u);
  EXPECT_EQ(w.holders[0].cpu, 1);
  EXPECT_EQ(w.holders[0].basis, HolderBasis::StackWord);
  EXPECT_NE(w.holders[0].evidence.find("on its stack"), std::string::npos) << w.holders[0].evidence;
}

TEST_F(LockHolderTest, TwoCodeCandidatesAreBothListed) {
  HangSnapshot snap;
  snap.cpus = {holder_cpu(0, kStack1), holder_cpu(2, kStack2), waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  const CpuActivity& w = cpu(act, 3);
  ASSERT_EQ(w.holders.size(), 2u);
  EXPECT_EQ(w.holders[0].cpu, 0);
  EXPECT_EQ(w.holders[1].cpu, 2);
  EXPECT_NE(w.holders[0].evidence.find("one of 2 candidates"), std::string::npos);
}

TEST_F(LockHolderTest, PreemptCountZeroWeakensAHolderFromCode) {
  // A kernel that counts preemption (preempt_schedule exists) leaves depth >= 1 while a
  // spinlock is held: 0 on CPU 2 says the code's "held" is wrong somewhere.
  t_.add_symbol("preempt_schedule", FakeText::kBase + 0x800, 0x40);
  uint64_t pc = t_.add_global("__preempt_count", 4);
  for (int c = 0; c < 4; ++c) t_.set_per_cpu_offset(c, 0);
  t_.write_u32(pc, 0x80000000);  // depth 0 (bit 31: x86's inverted need-resched)
  HangSnapshot snap;
  snap.cpus = {holder_cpu(2, kStack2), waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  const CpuActivity& w = cpu(act, 3);
  ASSERT_EQ(w.holders.size(), 1u);
  EXPECT_EQ(w.holders[0].basis, HolderBasis::CodeMaybeReleased);
  EXPECT_NE(w.holders[0].evidence.find("preempt_count 0x80000000 (depth 0)"), std::string::npos)
      << w.holders[0].evidence;
  // Depth 1 covers the one lock its code holds.
  t_.write_u32(pc, 0x80000001);
  act = classify_cpus(t_, snap);
  ASSERT_EQ(cpu(act, 3).holders.size(), 1u);
  EXPECT_EQ(cpu(act, 3).holders[0].basis, HolderBasis::Code);
  EXPECT_NE(cpu(act, 3).holders[0].evidence.find("covers the 1 lock(s)"), std::string::npos);
}

TEST_F(LockHolderTest, AnIrqsaveHolderWithIrqsOffSaysSo) {
  // CPU 2 took the lock with spin_lock_irqsave (RIP-relative) and IRQs are off in its
  // registers: consistent with holding it.
  CodeBuilder h(0xffffffffc0003000);
  h.lea_rip(Gpr::rdi, lock_).call(text_->spin_lock_irqsave).mov(Gpr::rbx, Gpr::rax).call(text_->other);
  uint64_t ra = h.here();
  h.ret();
  text_->install(h, "kstuck_hold_irqsave");
  CpuView c = holder_cpu(2, kStack2);
  c.regs->regs[CpuRegisters::eflags] = 0x46;
  c.frames[1] = {ra, kStack2 + 0x3008, "kstuck_hold_irqsave", "kstuck_test"};
  HangSnapshot snap;
  snap.cpus = {c, waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  const CpuActivity& w = cpu(act, 3);
  ASSERT_EQ(w.holders.size(), 1u);
  EXPECT_EQ(w.holders[0].basis, HolderBasis::Code);
  EXPECT_NE(w.holders[0].evidence.find("spin_lock_irqsave(&kstuck_static_lock) at kstuck_hold_irqsave+0x7"),
            std::string::npos)
      << w.holders[0].evidence;
  EXPECT_NE(w.holders[0].evidence.find("IRQs off, as spin_lock_irqsave leaves them"), std::string::npos)
      << w.holders[0].evidence;
}

TEST_F(LockHolderTest, ASecondWaiterOnTheSameLockIsNoHolder) {
  // CPU 1 spins on the same lock from the same code: acquiring, not holding.
  CpuView other = waiter_cpu();
  other.cpu = 1;
  for (auto& f : other.frames) f.sp = f.sp - kStack3 + kStack1;
  other.regs->regs[CpuRegisters::rsp] = kStack1 + 0x3000;
  HangSnapshot snap;
  snap.cpus = {other, holder_cpu(2, kStack2), waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  ASSERT_EQ(cpu(act, 3).holders.size(), 1u);
  EXPECT_EQ(cpu(act, 3).holders[0].cpu, 2);
  ASSERT_EQ(cpu(act, 1).holders.size(), 1u);
  EXPECT_EQ(cpu(act, 1).holders[0].cpu, 2);
}

TEST_F(LockHolderTest, AnUnlockedWordIsNotTakenFromTheWaitersCode) {
  t_.write_u32(lock_, 0);
  HangSnapshot snap;
  snap.cpus = {holder_cpu(2, kStack2), waiter_cpu()};
  auto act = classify_cpus(t_, snap);
  EXPECT_EQ(cpu(act, 3).lock, 0u);
  EXPECT_TRUE(cpu(act, 3).holders.empty());
}

TEST_F(LockHolderTest, ATasksRwsemReadLockIsReadFromItsSwitchFrameOrItsCpu) {
  t_.add_struct("inactive_task_frame", 0x38,
                {{"r15", 0x0, 8}, {"r14", 0x8, 8}, {"r13", 0x10, 8}, {"r12", 0x18, 8}, {"bx", 0x20, 8},
                 {"bp", 0x28, 8}, {"ret_addr", 0x30, 8}});
  // down_read(&dev->sem); wait_for_completion(&dev->never) <- return address; dev in rbx.
  CodeBuilder h(0xffffffffc0004000);
  h.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(text_->down_read).lea(Gpr::rdi, Gpr::rbx, 0x48)
      .call(text_->other);
  uint64_t ra = h.here();
  h.mov(Gpr::rdi, Gpr::rbx).call(text_->up_read).pop(Gpr::rbx).ret();
  text_->install(h, "kstuck_read_holder");
  const uint64_t dev = 0xffff888000600000;
  // Asleep: frame 0 returns into the scheduler (here `other`, which pushes nothing).
  uint64_t thread_sp = kStack2 + 0x3000;
  t_.write_u64(thread_sp + 0x20, dev);  // inactive_task_frame.bx
  TaskView t;
  t.task = 0xffff888000002000;
  t.pid = 77;
  t.state_char = 'D';
  t.sp = thread_sp;
  t.stack_base = kStack2;
  t.frames = {{text_->other + 0x10, thread_sp + 0x38, "smp_call_function_single", ""},
              {ra, thread_sp + 0x40, "kstuck_read_holder", "kstuck_test"}};
  HangSnapshot snap;
  snap.tasks = {t};
  auto dis = Disassembler::open();
  ASSERT_TRUE(dis);
  LockCode code(t_, *dis);
  StackLocks sl = read_task_locks(code, t_, snap, t);
  EXPECT_TRUE(sl.every_frame_read) << (sl.notes.empty() ? "" : sl.notes.front());
  EXPECT_NE(sl.regs_from.find("switch frame"), std::string::npos) << sl.regs_from;
  ASSERT_EQ(sl.locks.size(), 1u);
  EXPECT_EQ(sl.locks[0].type, LockType::RwsemRead);
  EXPECT_EQ(sl.locks[0].state, "held");
  EXPECT_EQ(sl.locks[0].address, dev);
  EXPECT_EQ(sl.locks[0].frame, 1u);
  EXPECT_NE(sl.locks[0].how.find("inactive_task_frame.bx"), std::string::npos) << sl.locks[0].how;

  // The same task current on CPU 2: its registers are the CPU's.
  t_.write_u64(thread_sp + 0x20, 0);
  CpuView c = holder_cpu(2, kStack2);
  c.regs->regs[CpuRegisters::rbx] = dev;
  c.frames = t.frames;
  t.on_cpu = 2;
  snap.cpus = {c};
  sl = read_task_locks(code, t_, snap, t);
  ASSERT_EQ(sl.locks.size(), 1u);
  EXPECT_EQ(sl.locks[0].address, dev);
  EXPECT_NE(sl.regs_from.find("CPU 2"), std::string::npos) << sl.regs_from;
  // A CPU holding a sleeping lock spins on nothing: the rwsem is no spinlock of its.
  auto act = classify_cpus(t_, snap);
  EXPECT_TRUE(act.at(0).held.empty());

  // An unwind cut short: the frames read may not be all of them.
  t.on_cpu = -1;
  t.frames_complete = false;
  sl = read_task_locks(code, t_, snap, t);
  EXPECT_FALSE(sl.every_frame_read);
}

}  // namespace
}  // namespace kstuck::test
