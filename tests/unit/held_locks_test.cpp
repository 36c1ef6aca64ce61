// SPDX-License-Identifier: GPL-2.0
// The code analysis on tiny hand-assembled x86-64 functions: which locks a frame holds, and frame register recovery.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "analysis/code/disasm.h"
#include "analysis/code/held_locks.h"
#include "tests/unit/code_builder.h"
#include "tests/unit/fake_target.h"

namespace kstuck::test {
namespace {

class HeldLocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_text_ = std::make_unique<FakeText>(t_);
    auto d = Disassembler::open();
    ASSERT_TRUE(d) << d.error().message();
    dis_ = std::make_unique<Disassembler>(std::move(*d));
    code_ = std::make_unique<LockCode>(t_, *dis_);
  }

  FrameLocks locks_at(uint64_t pc, const FrameRegs& regs = {}, bool exact = false) {
    return code_->frame_locks(CodeFrame{pc, 0, exact}, regs);
  }

  FakeTarget t_;
  std::unique_ptr<FakeText> kernel_text_;
  std::unique_ptr<Disassembler> dis_;
  std::unique_ptr<LockCode> code_;
  const uint64_t static_lock_ = 0xffffffffc0009000;
};

TEST_F(HeldLocksTest, DisassemblerDecodesWhatTheBuilderEmits) {
  CodeBuilder b(0xffffffffc0001000);
  b.endbr64().nop5().push(Gpr::rbx).mov_imm32(Gpr::rdi, static_lock_).lea_rip(Gpr::rdi, static_lock_).call(
      kernel_text_->spin_lock);
  auto insns = dis_->decode(b.bytes(), b.start());
  ASSERT_EQ(insns.size(), 6u);
  EXPECT_EQ(insns[2].kind, InsnKind::Push);
  EXPECT_EQ(insns[3].kind, InsnKind::Mov);
  EXPECT_EQ(insns[3].ops[1].imm, static_cast<int64_t>(static_lock_));
  EXPECT_EQ(insns[4].kind, InsnKind::Lea);
  EXPECT_TRUE(insns[4].ops[1].mem.rip_relative);
  EXPECT_EQ(static_cast<uint64_t>(insns[4].ops[1].mem.disp), static_lock_);
  EXPECT_EQ(insns[5].kind, InsnKind::Call);
  EXPECT_EQ(insns[5].branch_target, kernel_text_->spin_lock);
  EXPECT_NE(insns[5].gpr_written & (1u << static_cast<int>(Gpr::rsp)), 0u);
}

TEST_F(HeldLocksTest, StaticLockByImmediateIsHeldAcrossALaterCall) {
  // spin_lock(&static_lock); smp_call_function_single(3, ...);  <- return address
  CodeBuilder b(0xffffffffc0001000);
  b.nop5().push(Gpr::rbx).mov_imm32(Gpr::rdi, static_lock_).call(kernel_text_->spin_lock).mov_edi(3).call(
      kernel_text_->other);
  uint64_t ra = b.here();
  b.mov_imm32(Gpr::rdi, static_lock_).call(kernel_text_->spin_unlock).pop(Gpr::rbx).ret();
  kernel_text_->install(b, "holder_imm");
  auto fl = locks_at(ra);
  ASSERT_TRUE(fl.problem.empty()) << fl.problem;
  ASSERT_EQ(fl.locks.size(), 1u);
  const LockUse& u = fl.locks[0];
  EXPECT_EQ(u.state, LockState::Held);
  ASSERT_TRUE(u.address);
  EXPECT_EQ(*u.address, static_lock_);
  EXPECT_STREQ(u.fn->api, "spin_lock");
  EXPECT_NE(u.how.find("immediate"), std::string::npos) << u.how;
  EXPECT_EQ(u.where, "holder_imm+0xd");  // nop5, push, then the mov
  EXPECT_NE(fl.method.find("linear scan"), std::string::npos);
}

TEST_F(HeldLocksTest, StaticLockRipRelativeWithIrqsave) {
  CodeBuilder b(0xffffffffc0001000);
  b.lea_rip(Gpr::rdi, static_lock_).call(kernel_text_->spin_lock_irqsave).mov(Gpr::rbx, Gpr::rax).call(
      kernel_text_->other);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "holder_rip");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::Held);
  ASSERT_TRUE(fl.locks[0].address);
  EXPECT_EQ(*fl.locks[0].address, static_lock_);
  EXPECT_TRUE(fl.locks[0].fn->irqs);
  EXPECT_NE(fl.locks[0].how.find("RIP-relative"), std::string::npos) << fl.locks[0].how;
}

TEST_F(HeldLocksTest, StructMemberThroughCalleeSavedRegister) {
  // spin_lock(&obj->lock) with obj kept in rbx, then a call: the lock is rbx+0x18.
  CodeBuilder b(0xffffffffc0001000);
  b.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).lea(Gpr::rdi, Gpr::rbx, 0x18).call(kernel_text_->spin_lock).xor_edi().call(
      kernel_text_->other);
  uint64_t ra = b.here();
  b.pop(Gpr::rbx).ret();
  kernel_text_->install(b, "holder_struct");
  FrameRegs regs;
  regs.set(Gpr::rbx, 0xffff888000200000, "test");
  auto fl = locks_at(ra, regs);
  ASSERT_EQ(fl.locks.size(), 1u);
  ASSERT_TRUE(fl.locks[0].address) << fl.locks[0].how;
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000200018u);
  EXPECT_NE(fl.locks[0].how.find("rbx+0x18"), std::string::npos) << fl.locks[0].how;
  // Without rbx's value in this frame, the lock is named as unrecovered, not guessed.
  auto unknown = locks_at(ra);
  ASSERT_EQ(unknown.locks.size(), 1u);
  EXPECT_FALSE(unknown.locks[0].address);
  EXPECT_NE(unknown.locks[0].how.find("unknown"), std::string::npos) << unknown.locks[0].how;
}

TEST_F(HeldLocksTest, LockPointerKeptInACalleeSavedRegisterForTheUnlock) {
  // The compiler keeps &obj->lock itself in rbx for the later unlock: lea rbx,[rdi+0x18];
  // mov rdi, rbx; call spin_lock. rdi is clobbered by the calls, rbx survives.
  CodeBuilder b(0xffffffffc0001000);
  b.push(Gpr::rbx).lea(Gpr::rbx, Gpr::rdi, 0x18).mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->spin_lock).call(
      kernel_text_->other);
  uint64_t ra = b.here();
  b.mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->spin_unlock);
  uint64_t after_unlock = b.here();
  b.pop(Gpr::rbx).ret();
  kernel_text_->install(b, "holder_keeps_ptr");
  FrameRegs regs;
  regs.set(Gpr::rbx, 0xffff888000200018, "test");
  auto fl = locks_at(ra, regs);
  ASSERT_EQ(fl.locks.size(), 1u);
  ASSERT_TRUE(fl.locks[0].address) << fl.locks[0].how;
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000200018u);
  EXPECT_EQ(fl.locks[0].state, LockState::Held);
  // The unlock after the return address does not count; one before it, through the same
  // register, does, even with rbx's value unknown.
  auto later = locks_at(after_unlock);
  ASSERT_EQ(later.locks.size(), 1u);
  EXPECT_EQ(later.locks[0].state, LockState::Released);
}

TEST_F(HeldLocksTest, BaseRegisterOverwrittenAfterTheCallIsNotTrusted) {
  CodeBuilder b(0xffffffffc0001000);
  b.mov(Gpr::rbx, Gpr::rdi).lea(Gpr::rdi, Gpr::rbx, 8).call(kernel_text_->spin_lock).mov(Gpr::rbx, Gpr::rax).call(
      kernel_text_->other);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "holder_clobber");
  FrameRegs regs;
  regs.set(Gpr::rbx, 0xffff888000200000, "test");
  auto fl = locks_at(ra, regs);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_FALSE(fl.locks[0].address);
  EXPECT_NE(fl.locks[0].how.find("written again"), std::string::npos) << fl.locks[0].how;
}

TEST_F(HeldLocksTest, GlobalPointerLoadedFromMemory) {
  // spin_lock(&global_obj->lock): mov rax, [rip+global_obj]; lea rdi, [rax+0x10].
  uint64_t global = t_.add_global("global_obj", 8);
  t_.write_u64(global, 0xffff888000300000);
  CodeBuilder b(0xffffffffc0001000);
  b.load_rip(Gpr::rax, global).lea(Gpr::rdi, Gpr::rax, 0x10).call(kernel_text_->spin_lock).call(kernel_text_->other);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "holder_global");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 1u);
  ASSERT_TRUE(fl.locks[0].address) << fl.locks[0].how;
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000300010u);
  EXPECT_NE(fl.locks[0].how.find("global_obj"), std::string::npos) << fl.locks[0].how;
}

TEST_F(HeldLocksTest, LockThenUnlockBeforeThePcIsReleased) {
  CodeBuilder b(0xffffffffc0001000);
  b.lea_rip(Gpr::rdi, static_lock_).call(kernel_text_->spin_lock).lea_rip(Gpr::rdi, static_lock_).call(
      kernel_text_->spin_unlock).call(kernel_text_->other);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "lock_unlock");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::Released);
  EXPECT_NE(fl.locks[0].unlock_where.find("spin_unlock at lock_unlock+0x"), std::string::npos);
}

TEST_F(HeldLocksTest, UnlockOnAnEarlyExitPathIsMaybeReleased) {
  // lock; if (err) { unlock; return; }  call other;  <- return address
  CodeBuilder b(0xffffffffc0001000);
  b.lea_rip(Gpr::rdi, static_lock_).call(kernel_text_->spin_lock).test_eax().jne8(13);
  b.lea_rip(Gpr::rdi, static_lock_).call(kernel_text_->spin_unlock).ret();  // 7 + 5 + 1 = 13 bytes
  b.call(kernel_text_->other);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "early_exit");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::MaybeReleased);
  EXPECT_NE(fl.locks[0].unlock_where.find("leaves before the pc"), std::string::npos) << fl.locks[0].unlock_where;
}

TEST_F(HeldLocksTest, AReturnAddressRightAfterTheLockCallIsStillAcquiring) {
  CodeBuilder b(0xffffffffc0001000);
  b.lea_rip(Gpr::rdi, static_lock_).call(kernel_text_->spin_lock_irqsave);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "waiter");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::Acquiring);
  ASSERT_TRUE(fl.locks[0].address);
  EXPECT_EQ(*fl.locks[0].address, static_lock_);
}

TEST_F(HeldLocksTest, RwlockWriteAndReadAreTheirOwnTypes) {
  CodeBuilder b(0xffffffffc0001000);
  b.lea_rip(Gpr::rdi, static_lock_).call(kernel_text_->write_lock).lea_rip(Gpr::rdi, static_lock_ + 0x40).call(
      kernel_text_->read_lock).lea_rip(Gpr::rdi, static_lock_ + 0x40).call(kernel_text_->read_unlock).call(
      kernel_text_->other);
  uint64_t ra = b.here();
  b.ret();
  kernel_text_->install(b, "rw");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 2u);
  EXPECT_EQ(fl.locks[0].fn->type, LockType::Write);
  EXPECT_EQ(fl.locks[0].state, LockState::Held);
  EXPECT_EQ(fl.locks[1].fn->type, LockType::Read);
  EXPECT_EQ(fl.locks[1].state, LockState::Released);
}

TEST_F(HeldLocksTest, NoSymbolIsAReportedProblem) {
  auto fl = locks_at(0xffffffffc0ff0000);
  EXPECT_TRUE(fl.locks.empty());
  EXPECT_FALSE(fl.problem.empty());
}

TEST_F(HeldLocksTest, CalleeSavedRegistersAreRecoveredFromTheCalleesPushes) {
  // caller: push rbx; mov rbx, rdi; lea rdi,[rbx+0x18]; call spin_lock; call callee; <ra>
  CodeBuilder caller(0xffffffffc0001000);
  caller.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).lea(Gpr::rdi, Gpr::rbx, 0x18).call(kernel_text_->spin_lock).call(
      0xffffffffc0002000);
  uint64_t ra = caller.here();
  caller.pop(Gpr::rbx).ret();
  kernel_text_->install(caller, "caller");
  // callee: nop5; push rbp; push rbx; mov ebx, 1 (clobbers rbx); <exact ip> pause loop
  CodeBuilder callee(0xffffffffc0002000);
  callee.nop5().push(Gpr::rbp).push(Gpr::rbx).mov_edi(1).mov(Gpr::rbx, Gpr::rdi);
  uint64_t ip = callee.here();
  callee.ret();
  kernel_text_->install(callee, "callee");
  // The stack: callee's rsp = S; [S] = pushed rbx, [S+8] = pushed rbp, [S+16] = ra.
  uint64_t stack = 0xffffc90000010000;
  t_.map(stack, 0x1000);
  uint64_t s = stack + 0x800;
  t_.write_u64(s, 0xffff888000200000);       // the caller's rbx
  t_.write_u64(s + 8, 0xffffc90000010f00);   // the caller's rbp
  t_.write_u64(s + 16, ra);
  CpuRegisters regs;
  regs.regs[CpuRegisters::rbx] = 1;  // the callee's own value
  regs.regs[CpuRegisters::r12] = 0x1234;
  regs.regs[CpuRegisters::rsp] = s;
  regs.regs[CpuRegisters::rip] = ip;
  std::vector<CodeFrame> frames = {{ip, s, true}, {ra, s + 24, false}};
  auto fr = code_->recover_registers(regs, frames);
  ASSERT_EQ(fr.size(), 2u);
  ASSERT_TRUE(fr[1].known(Gpr::rbx));
  EXPECT_EQ(fr[1].get(Gpr::rbx), 0xffff888000200000u);
  EXPECT_NE(fr[1].how[static_cast<size_t>(Gpr::rbx)].find("callee's prologue"), std::string::npos);
  EXPECT_EQ(fr[1].get(Gpr::rbp), 0xffffc90000010f00u);
  EXPECT_EQ(fr[1].get(Gpr::r12), 0x1234u);        // not pushed: passed through unchanged
  EXPECT_FALSE(fr[1].known(Gpr::rdi));            // caller-saved: unknown in the caller
  auto fl = code_->frame_locks(frames[1], fr[1]);
  ASSERT_EQ(fl.locks.size(), 1u);
  ASSERT_TRUE(fl.locks[0].address) << fl.locks[0].how;
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000200018u);
}

TEST_F(HeldLocksTest, ACalleeSavedRegisterTheCalleeWritesWithoutAPushIsUnknown) {
  CodeBuilder callee(0xffffffffc0002000);
  callee.push(Gpr::rbx).mov(Gpr::r12, Gpr::rdi);  // r12 saved some other way (or a bug)
  uint64_t ip = callee.here();
  callee.pop(Gpr::rbx).ret();
  kernel_text_->install(callee, "callee");
  uint64_t stack = 0xffffc90000010000;
  t_.map(stack, 0x1000);
  uint64_t s = stack + 0x800;
  t_.write_u64(s, 0xffff888000200000);  // pushed rbx
  CpuRegisters regs;
  regs.regs[CpuRegisters::r12] = 0x1234;
  regs.regs[CpuRegisters::r13] = 0x5678;
  std::vector<CodeFrame> frames = {{ip, s, true}, {0xffffffffc0001000, s + 16, false}};
  auto fr = code_->recover_registers(regs, frames);
  ASSERT_EQ(fr.size(), 2u);
  EXPECT_FALSE(fr[1].known(Gpr::r12));
  EXPECT_EQ(fr[1].get(Gpr::r13), 0x5678u);
  EXPECT_EQ(fr[1].get(Gpr::rbx), 0xffff888000200000u);
}

TEST_F(HeldLocksTest, AnInterruptedFrameGetsItsPtRegs) {
  CodeBuilder f(0xffffffffc0001000);
  f.nop5().nop5();
  uint64_t ip = f.here();
  f.ret();
  kernel_text_->install(f, "interrupted");
  uint64_t stack = 0xffffc90000020000;
  t_.map(stack, 0x1000);
  uint64_t sp = stack + 0x900;                  // the interrupted context's rsp (16-aligned)
  uint64_t regs_at = sp - 21 * 8;               // pt_regs just below it
  t_.write_u64(regs_at + 5 * 8, 0xffff888000400000);  // rbx
  t_.write_u64(regs_at + 16 * 8, ip);
  t_.write_u64(regs_at + 17 * 8, 0x10);
  t_.write_u64(regs_at + 18 * 8, 0x246);
  t_.write_u64(regs_at + 19 * 8, sp);
  t_.write_u64(regs_at + 20 * 8, 0x18);
  CpuRegisters regs;
  regs.regs[CpuRegisters::rsp] = regs_at - 0x40;
  std::vector<CodeFrame> frames = {{0xffffffffc0001000, regs_at - 0x40, true}, {ip, sp, true}};
  auto fr = code_->recover_registers(regs, frames);
  ASSERT_EQ(fr.size(), 2u);
  ASSERT_TRUE(fr[1].known(Gpr::rbx));
  EXPECT_EQ(fr[1].get(Gpr::rbx), 0xffff888000400000u);
  EXPECT_NE(fr[1].how[static_cast<size_t>(Gpr::rbx)].find("pt_regs"), std::string::npos);
}

TEST_F(HeldLocksTest, RwsemReadLockTakenAndReleasedBeforeAMutexWaitIsReleased) {
  // The stale reader: down_read(&dev->sem); up_read(&dev->sem); mutex_lock(&dev->gate)
  // <- it sleeps inside, dev kept in rbx (sem at offset 0, gate at 0x28).
  CodeBuilder b(0xffffffffc0001000);
  b.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->down_read).mov(Gpr::rdi, Gpr::rbx)
      .call(kernel_text_->up_read).lea(Gpr::rdi, Gpr::rbx, 0x28).call(kernel_text_->mutex_lock);
  uint64_t ra = b.here();
  b.pop(Gpr::rbx).ret();
  kernel_text_->install(b, "stale_reader");
  FrameRegs regs;
  regs.set(Gpr::rbx, 0xffff888000500000, "test");
  auto fl = locks_at(ra, regs);
  ASSERT_TRUE(fl.problem.empty()) << fl.problem;
  ASSERT_EQ(fl.locks.size(), 2u);
  EXPECT_EQ(fl.locks[0].fn->type, LockType::RwsemRead);
  EXPECT_STREQ(fl.locks[0].fn->api, "down_read");
  EXPECT_EQ(fl.locks[0].state, LockState::Released);
  ASSERT_TRUE(fl.locks[0].address);
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000500000u);
  EXPECT_NE(fl.locks[0].unlock_where.find("up_read at stale_reader+0x"), std::string::npos) << fl.locks[0].unlock_where;
  EXPECT_EQ(fl.locks[1].fn->type, LockType::Mutex);
  EXPECT_EQ(fl.locks[1].state, LockState::Acquiring);
  ASSERT_TRUE(fl.locks[1].address);
  EXPECT_EQ(*fl.locks[1].address, 0xffff888000500028u);
  EXPECT_TRUE(lock_type_sleeps(fl.locks[0].fn->type));
  EXPECT_FALSE(lock_type_sleeps(LockType::Spin));
}

TEST_F(HeldLocksTest, RwsemReadLockKeptAcrossASleepIsHeldAndAWriterWaitsInsideDownWrite) {
  // The holder: down_read(&dev->sem); wait_for_completion(&dev->never) <- asleep.
  CodeBuilder h(0xffffffffc0001000);
  h.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->down_read_killable)
      .lea(Gpr::rdi, Gpr::rbx, 0x48).call(kernel_text_->other);
  uint64_t ra = h.here();
  h.mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->up_read).pop(Gpr::rbx).ret();
  kernel_text_->install(h, "holder");
  FrameRegs regs;
  regs.set(Gpr::rbx, 0xffff888000500000, "test");
  auto fl = locks_at(ra, regs);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::Held);
  EXPECT_TRUE(fl.locks[0].fn->trylock);  // killable: may return without it
  ASSERT_TRUE(fl.locks[0].address);
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000500000u);
  EXPECT_NE(fl.locks[0].how.find("rbx"), std::string::npos) << fl.locks[0].how;

  // The writer: down_write(&dev->sem) <- it sleeps inside: acquiring, not holding.
  CodeBuilder w(0xffffffffc0002000);
  w.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->down_write);
  uint64_t wra = w.here();
  w.mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->up_write).pop(Gpr::rbx).ret();
  kernel_text_->install(w, "writer");
  auto wl = locks_at(wra, regs);
  ASSERT_EQ(wl.locks.size(), 1u);
  EXPECT_EQ(wl.locks[0].fn->type, LockType::RwsemWrite);
  EXPECT_EQ(wl.locks[0].state, LockState::Acquiring);
}

TEST_F(HeldLocksTest, AnUpWriteDoesNotReleaseAReadLock) {
  CodeBuilder b(0xffffffffc0001000);
  b.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->down_read).mov(Gpr::rdi, Gpr::rbx)
      .call(kernel_text_->up_write).call(kernel_text_->other);
  uint64_t ra = b.here();
  b.pop(Gpr::rbx).ret();
  kernel_text_->install(b, "mismatched");
  auto fl = locks_at(ra);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::Held);
}

TEST_F(HeldLocksTest, ASwitchedOutTasksRegistersComeFromItsSwitchFrameThroughSchedule) {
  // A sleeping task: thread.sp points at struct inactive_task_frame (r15, r14, r13, r12,
  // bx, bp, ret_addr). Its first frame returns into "__schedule", which pushed rbp and
  // rbx and then clobbered rbx; the caller's rbx (dev) is in __schedule's push slot.
  t_.add_struct("inactive_task_frame", 0x38,
                {{"r15", 0x0, 8}, {"r14", 0x8, 8}, {"r13", 0x10, 8}, {"r12", 0x18, 8}, {"bx", 0x20, 8},
                 {"bp", 0x28, 8}, {"ret_addr", 0x30, 8}});
  CodeBuilder caller(0xffffffffc0001000);
  caller.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(kernel_text_->down_read).call(
      0xffffffffc0002000);
  uint64_t ra = caller.here();
  caller.pop(Gpr::rbx).ret();
  kernel_text_->install(caller, "holder");
  CodeBuilder sched(0xffffffffc0002000);
  sched.nop5().push(Gpr::rbp).push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).call(kernel_text_->other);
  uint64_t sched_ra = sched.here();
  sched.pop(Gpr::rbx).pop(Gpr::rbp).ret();
  kernel_text_->install(sched, "__schedule");
  uint64_t stack = 0xffffc90000010000;
  t_.map(stack, 0x1000);
  uint64_t thread_sp = stack + 0x800;
  t_.write_u64(thread_sp + 0x18, 0x1212);              // r12
  t_.write_u64(thread_sp + 0x20, 0xffff888000777000);  // bx: __schedule's own value
  t_.write_u64(thread_sp + 0x28, 0xffffc90000010f00);  // bp
  t_.write_u64(thread_sp + 0x30, sched_ra);
  uint64_t s0 = thread_sp + 0x38;                       // __schedule's frame: [s0] rbx, [s0+8] rbp, [s0+16] ra
  t_.write_u64(s0, 0xffff888000500000);                 // the holder's rbx: dev
  t_.write_u64(s0 + 8, 0xffffc90000010f80);
  t_.write_u64(s0 + 16, ra);
  auto first = FrameRegs::from_switch_frame(t_, thread_sp);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->get(Gpr::rbx), 0xffff888000777000u);
  EXPECT_EQ(first->get(Gpr::r12), 0x1212u);
  EXPECT_FALSE(first->known(Gpr::rdi));  // caller-saved registers are not in the switch frame
  EXPECT_NE(first->how[static_cast<size_t>(Gpr::rbx)].find("inactive_task_frame.bx"), std::string::npos);
  std::vector<CodeFrame> frames = {{sched_ra, s0, false}, {ra, s0 + 24, false}};
  auto fr = code_->recover_registers(*first, frames);
  ASSERT_EQ(fr.size(), 2u);
  ASSERT_TRUE(fr[1].known(Gpr::rbx));
  EXPECT_EQ(fr[1].get(Gpr::rbx), 0xffff888000500000u);
  EXPECT_EQ(fr[1].get(Gpr::r12), 0x1212u);
  EXPECT_FALSE(fr[1].known(Gpr::rdi));
  auto fl = code_->frame_locks(frames[1], fr[1]);
  ASSERT_EQ(fl.locks.size(), 1u);
  EXPECT_EQ(fl.locks[0].state, LockState::Held);
  ASSERT_TRUE(fl.locks[0].address) << fl.locks[0].how;
  EXPECT_EQ(*fl.locks[0].address, 0xffff888000500000u);
  EXPECT_NE(fl.locks[0].how.find("__schedule's prologue"), std::string::npos) << fl.locks[0].how;
  // Without type information for the switch frame, nothing is made up.
  FakeTarget bare;
  EXPECT_FALSE(FrameRegs::from_switch_frame(bare, thread_sp));
}

}  // namespace
}  // namespace kstuck::test
