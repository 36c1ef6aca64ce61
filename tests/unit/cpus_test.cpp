// SPDX-License-Identifier: GPL-2.0
// CPUs on a FakeKernel: register notes matched by identity, the arch's current task, plausible clocks.
#include "analysis/kernel/cpus.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "analysis/kernel/kernel_model.h"
#include "analysis/kernel/task_state.h"
#include "analysis/kernel/tasks.h"
#include "tests/unit/fake_kernel.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

constexpr uint64_t kSecond = 1'000'000'000;

// Registers that tell CPUs apart: rip = 0xffffffff81000000 + cpu, rsp likewise.
CpuRegisters regs_of(int cpu, int64_t pid) {
  CpuRegisters r;
  for (size_t i = 0; i < r.regs.size(); ++i) r.regs[i] = 0x1000 * uint64_t(cpu + 1) + i;
  r.regs[CpuRegisters::rip] = 0xffffffff81000000ULL + uint64_t(cpu);
  r.regs[CpuRegisters::rsp] = 0xffffc90000004000ULL + 0x10000 * uint64_t(cpu) - 0x100;
  r.note_pid = pid;
  return r;
}

class CpuNotes : public ::testing::Test {
 protected:
  CpuNotes() : k_(t_, 4) {
    for (int cpu = 0; cpu < 4; ++cpu) {
      uint64_t task = cpu == 0 ? k_.init_task() : k_.add_task(100 + cpu, "task" + std::to_string(cpu), 0, cpu);
      k_.set_curr(cpu, task);
      tasks_[cpu] = task;
    }
  }

  // crash_notes: a per-CPU buffer each CPU writes its NT_PRSTATUS note into at a crash.
  void with_crash_notes() {
    uint64_t buf = k_.define_per_cpu("crash_notes_buf", 0x200);
    uint64_t ptr = t_.add_global("crash_notes", 8);
    t_.write_u64(ptr, buf);
  }
  void save_crash_note(int cpu, const CpuRegisters& r) {
    uint64_t at = k_.per_cpu_addr(cpu, "crash_notes_buf");
    t_.write_u32(at, 5);
    t_.write_u32(at + 4, 336);
    t_.write_u32(at + 8, 1);  // NT_PRSTATUS
    t_.write(at + 12, "CORE", 5);
    t_.write_u32(at + 20 + 32, uint32_t(r.note_pid));
    t_.write(at + 20 + 112, r.regs.data(), r.regs.size() * 8);
  }
  void set_online(uint64_t mask) { t_.write_u64(t_.symbol_address("__cpu_online_mask").value(), mask); }
  void set_active(uint64_t mask) { t_.write_u64(t_.add_global("__cpu_active_mask", 8), mask); }
  // Makes the CPU's idle task (swapper/N, pid 0) its rq->idle and rq->curr.
  uint64_t idle_on(int cpu) {
    uint64_t idle = cpu == 0 ? k_.init_task() : k_.add_task(0, "swapper/" + std::to_string(cpu), FakeKernel::kRunning, cpu);
    t_.set(k_.per_cpu_addr(cpu, "runqueues"), "rq", "idle", idle);
    k_.set_curr(cpu, idle);
    tasks_[cpu] = idle;
    return idle;
  }
  void present_all() { t_.write_u64(t_.add_global("__cpu_present_mask", 8), 0xf); }
  int pid_of(int cpu) { return cpu == 0 ? 0 : 100 + cpu; }

  FakeTarget t_;
  FakeKernel k_;
  uint64_t tasks_[4] = {};
};

// makedumpfile left out a running task's task_struct page: its task->stack is unknown,
// and the stack its registers run on stands in for it, THREAD_SIZE aligned.
TEST_F(CpuNotes, AnUnreadableTaskStackIsTheOneTheSavedRspIsOn) {
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, pid_of(cpu)));
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuRegisters regs = regs_of(2, pid_of(2));  // rsp 0xffffc90000023f00
  EXPECT_EQ((*model)->stack_from_registers(2, regs), 0xffffc90000020000ULL);
  CpuRegisters user = regs;
  user.regs[CpuRegisters::rsp] = 0x7ffd00001000ULL;  // not a kernel address: no stack
  EXPECT_EQ((*model)->stack_from_registers(2, user), 0u);
}

TEST_F(CpuNotes, NotesMatchCrashNotesWithACpuOffline) {
  // CPU 1 was offline: kdump's dump holds the notes of CPUs 0, 2, 3 as notes 0, 1, 2.
  with_crash_notes();
  present_all();
  set_online(0b1101);
  uint64_t idle1 = k_.add_task(1001, "swapper/1", FakeKernel::kRunning, 1);
  t_.write_u64(k_.per_cpu_addr(1, "runqueues") + 0x10, idle1);  // rq->idle of the offline CPU
  for (int cpu : {0, 2, 3}) save_crash_note(cpu, regs_of(cpu, pid_of(cpu)));
  t_.set_registers(0, regs_of(0, pid_of(0)));
  t_.set_registers(1, regs_of(2, pid_of(2)));
  t_.set_registers(2, regs_of(3, pid_of(3)));
  Fields f(t_);
  auto cpus = load_cpus(f);
  ASSERT_TRUE(cpus) << cpus.error().describe();
  ASSERT_EQ(cpus->cpus.size(), 3u);
  EXPECT_EQ(cpus->offline, std::vector<int>{1});
  EXPECT_EQ(cpus->offline_idle, std::vector<uint64_t>{idle1});  // swapper/1 is still a task
  EXPECT_EQ(cpus->register_notes, 3);
  for (int cpu : {0, 2, 3}) {
    const CpuInfo* c = cpus->find(cpu);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->regs) << cpu;
    EXPECT_EQ(c->regs->get(CpuRegisters::rip), 0xffffffff81000000ULL + uint64_t(cpu)) << "cpu " << cpu;
    EXPECT_EQ(c->regs_match, RegsMatch::CrashNotes);
    EXPECT_TRUE(c->problems.empty()) << c->problems.front();
  }
  EXPECT_EQ(cpus->find(2)->regs_note, 1);
  EXPECT_EQ(cpus->find(3)->regs_note, 2);
  EXPECT_TRUE(cpus->problems.empty()) << cpus->problems.front();
}

TEST_F(CpuNotes, ACpuThatSavedNoNoteGetsNoneAndItsTaskIsNotUnwoundFromThreadSp) {
  // All online, but CPU 2 never answered the crash NMI: no crash_notes, no dump note.
  with_crash_notes();
  for (int cpu : {0, 1, 3}) save_crash_note(cpu, regs_of(cpu, pid_of(cpu)));
  t_.set_registers(0, regs_of(0, pid_of(0)));
  t_.set_registers(1, regs_of(1, pid_of(1)));
  t_.set_registers(2, regs_of(3, pid_of(3)));
  // A stale thread.sp that would unwind if anyone tried.
  t_.set(tasks_[2], "task_struct", "thread.sp", t_.peek_u64(t_.addr_of(tasks_[2], "task_struct", "stack")) + 0x3f00);
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuSet& cpus = (*model)->cpus();
  EXPECT_FALSE(cpus.find(2)->regs);
  ASSERT_FALSE(cpus.find(2)->problems.empty());
  EXPECT_NE(cpus.find(2)->problems.back().find("saved none for this CPU"), std::string::npos);
  ASSERT_TRUE(cpus.find(3)->regs);
  EXPECT_EQ(cpus.find(3)->regs->get(CpuRegisters::rip), 0xffffffff81000003ULL);  // not CPU 2's
  const TaskInfo* running = (*model)->tasks().by_address(tasks_[2]);
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->current_on, 2);
  Stack s = (*model)->task_stack(*running);
  EXPECT_EQ(s.stop, StopReason::NoStart);
  EXPECT_TRUE(s.frames.empty());
  EXPECT_NE(s.detail.find("stale thread.sp"), std::string::npos) << s.detail;
}

TEST_F(CpuNotes, ANoteOnlyInMemoryIsTakenFromCrashNotes) {
  with_crash_notes();
  for (int cpu = 0; cpu < 4; ++cpu) save_crash_note(cpu, regs_of(cpu, pid_of(cpu)));
  for (int cpu : {0, 1, 2}) t_.set_registers(cpu, regs_of(cpu, pid_of(cpu)));
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  ASSERT_TRUE(cpus.find(3)->regs);
  EXPECT_EQ(cpus.find(3)->regs_match, RegsMatch::CrashMemory);
  EXPECT_EQ(cpus.find(3)->regs->get(CpuRegisters::rip), 0xffffffff81000003ULL);
}

TEST_F(CpuNotes, QemuNotesGoByVcpuWithACpuOffline) {
  // QEMU writes a note per vCPU (pid = vCPU + 1), also for the guest's unplugged CPU 1,
  // which hotplug took out of __cpu_active_mask and left in its idle task.
  present_all();
  set_online(0b1101);
  set_active(0b1101);
  uint64_t idle1 = idle_on(1);
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu + 1));
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuSet& cpus = (*model)->cpus();
  ASSERT_EQ(cpus.cpus.size(), 3u);
  for (int cpu : {0, 2, 3}) {
    ASSERT_TRUE(cpus.find(cpu)->regs);
    EXPECT_EQ(cpus.find(cpu)->regs_match, RegsMatch::QemuOrder);
    EXPECT_EQ(cpus.find(cpu)->state, CpuState::Online);
    EXPECT_EQ(cpus.find(cpu)->regs->get(CpuRegisters::rip), 0xffffffff81000000ULL + uint64_t(cpu));
  }
  EXPECT_EQ(cpus.offline, std::vector<int>{1});
  EXPECT_TRUE(cpus.stopped.empty());
  // The unplugged vCPU's note is its own: its idle task (in play_dead()) runs on it.
  const CpuInfo* off = cpus.find_offline(1);
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->state, CpuState::Offline);
  ASSERT_TRUE(off->regs);
  EXPECT_EQ(off->regs->get(CpuRegisters::rip), 0xffffffff81000001ULL);
  EXPECT_NE(off->state_detail.find("unplugged (not in __cpu_active_mask)"), std::string::npos) << off->state_detail;
  EXPECT_TRUE(cpus.problems.empty()) << cpus.problems.front();
  const TaskInfo* swapper1 = (*model)->tasks().by_address(idle1);
  ASSERT_NE(swapper1, nullptr);
  EXPECT_EQ(swapper1->current_on, -1);
  EXPECT_EQ(swapper1->offline_on, 1);
  Stack s = (*model)->task_stack(*swapper1);
  EXPECT_NE(s.stop, StopReason::NoStart) << s.detail;  // from vCPU 1's registers
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames[0].ip, 0xffffffff81000001ULL);
}

TEST_F(CpuNotes, QemuCpusStoppedByPanicAreListedAndTheirTasksUnwoundFromTheirNotes) {
  // panic() on CPU 1: smp_send_stop() parked CPUs 0, 2, 3 in stop_this_cpu(), which
  // cleared them from __cpu_online_mask only; QEMU saved every vCPU's registers.
  present_all();
  set_online(0b0010);
  set_active(0b1111);
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu + 1));
  // A stale thread.sp that would unwind if anyone tried.
  t_.set(tasks_[2], "task_struct", "thread.sp", t_.peek_u64(t_.addr_of(tasks_[2], "task_struct", "stack")) + 0x3f00);
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuSet& cpus = (*model)->cpus();
  ASSERT_EQ(cpus.cpus.size(), 4u);
  EXPECT_EQ(cpus.stopped, (std::vector<int>{0, 2, 3}));
  EXPECT_TRUE(cpus.offline.empty());
  EXPECT_TRUE(cpus.offline_cpus.empty());
  for (int cpu = 0; cpu < 4; ++cpu) {
    const CpuInfo* c = cpus.find(cpu);
    ASSERT_NE(c, nullptr) << cpu;
    EXPECT_EQ(c->cpu, cpu);  // ascending
    EXPECT_EQ(c->state, cpu == 1 ? CpuState::Online : CpuState::Stopped) << cpu;
    ASSERT_TRUE(c->regs) << cpu;
    EXPECT_EQ(c->regs->get(CpuRegisters::rip), 0xffffffff81000000ULL + uint64_t(cpu));
    EXPECT_TRUE(c->problems.empty()) << c->problems.front();
  }
  EXPECT_NE(cpus.find(2)->state_detail.find("stopped: not in cpu_online_mask, registers from its note (QEMU vCPU "
                                            "order; still in __cpu_active_mask)"),
            std::string::npos)
      << cpus.find(2)->state_detail;
  EXPECT_TRUE(cpus.problems.empty()) << cpus.problems.front();  // every note is some CPU's
  const TaskInfo* t2 = (*model)->tasks().by_address(tasks_[2]);
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t2->current_on, 2);
  Stack s = (*model)->task_stack(*t2);
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames[0].ip, 0xffffffff81000002ULL);  // its CPU's registers, not thread.sp
  EXPECT_TRUE((*model)->tasks().problems.empty()) << (*model)->tasks().problems.front();
}

TEST_F(CpuNotes, WithoutTheActiveMaskAnOfflineCpusIdleOrNotDecides) {
  // cpu_active_mask and rq->online unreadable: an unplugged CPU dies in its idle task,
  // so a CPU running another task was stopped; one in its idle task cannot be told.
  present_all();
  set_online(0b0010);
  idle_on(0);  // CPU 0 sits in its idle task, CPUs 2 and 3 run tasks
  for (int cpu : {2, 3})
    t_.set(k_.per_cpu_addr(cpu, "runqueues"), "rq", "idle",
           k_.add_task(0, "swapper/" + std::to_string(cpu), FakeKernel::kRunning, cpu));
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu + 1));
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.stopped, (std::vector<int>{2, 3}));
  EXPECT_EQ(cpus.offline, std::vector<int>{0});
  EXPECT_NE(cpus.find(3)->state_detail.find("not its idle task"), std::string::npos) << cpus.find(3)->state_detail;
  ASSERT_EQ(cpus.problems.size(), 1u);
  EXPECT_NE(cpus.problems[0].find("CPU 0 is offline and cannot be told unplugged or stopped"), std::string::npos)
      << cpus.problems[0];
  EXPECT_FALSE(cpus.find_offline(0)->regs);  // not unwound from a note it may not own
}

TEST_F(CpuNotes, AStoppedCpusCrashNoteIsItsOwnOnlyWithItsTasksPid) {
  // A kdump: CPU 2 was stopped before the crash NMI reached it (crash_save_cpu() still
  // ran on it, with its task's pid); CPU 3's crash_notes name a pid it does not run.
  with_crash_notes();
  present_all();
  set_online(0b0011);
  for (int cpu = 0; cpu < 4; ++cpu) save_crash_note(cpu, regs_of(cpu, cpu == 3 ? 999 : pid_of(cpu)));
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu == 3 ? 999 : pid_of(cpu)));
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuSet& cpus = (*model)->cpus();
  EXPECT_EQ(cpus.stopped, std::vector<int>{2});
  EXPECT_EQ(cpus.find(2)->regs_match, RegsMatch::CrashNotes);
  EXPECT_EQ(cpus.find(2)->regs_note, 2);
  EXPECT_EQ(cpus.offline, std::vector<int>{3});
  EXPECT_FALSE(cpus.find_offline(3)->regs);
  ASSERT_EQ(cpus.problems.size(), 2u);
  EXPECT_NE(cpus.problems[0].find("CPU 3 is offline; its crash_notes name pid 999 but its rq->curr is pid 103"),
            std::string::npos)
      << cpus.problems[0];
  EXPECT_NE(cpus.problems[1].find("1 of 4 register notes"), std::string::npos) << cpus.problems[1];
  // task3 is CPU 3's rq->curr, with no registers of its own: unknown, and a problem.
  const TaskInfo* t3 = (*model)->tasks().by_address(tasks_[3]);
  ASSERT_NE(t3, nullptr);
  EXPECT_EQ(t3->offline_on, 3);
  Stack s = (*model)->task_stack(*t3);
  EXPECT_EQ(s.stop, StopReason::NoStart);
  EXPECT_NE(s.detail.find("running on CPU 3 when the dump was taken; no saved registers"), std::string::npos)
      << s.detail;
  const auto& tp = (*model)->tasks().problems;
  ASSERT_EQ(tp.size(), 1u);
  EXPECT_NE(tp[0].find("pid 103 (task3): running on CPU 3 when the dump was taken; no saved registers"),
            std::string::npos)
      << tp[0];
}

TEST_F(CpuNotes, AnUnpluggedCpuThatAnsweredTheCrashNmiStaysOffline) {
  // A parked CPU can answer the crash NMI and fill its crash_notes (its idle task's pid
  // 0): hotplug took it out of __cpu_active_mask, so it is offline, its note its own.
  with_crash_notes();
  present_all();
  set_online(0b1101);
  set_active(0b1101);
  uint64_t idle1 = idle_on(1);
  for (int cpu = 0; cpu < 4; ++cpu) save_crash_note(cpu, regs_of(cpu, cpu == 1 ? 0 : pid_of(cpu)));
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu == 1 ? 0 : pid_of(cpu)));
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuSet& cpus = (*model)->cpus();
  EXPECT_TRUE(cpus.stopped.empty());
  EXPECT_EQ(cpus.offline, std::vector<int>{1});
  ASSERT_TRUE(cpus.find_offline(1)->regs);
  EXPECT_EQ(cpus.find_offline(1)->regs_match, RegsMatch::CrashNotes);
  EXPECT_TRUE(cpus.problems.empty()) << cpus.problems.front();
  const TaskInfo* swapper1 = (*model)->tasks().by_address(idle1);
  ASSERT_NE(swapper1, nullptr);
  Stack s = (*model)->task_stack(*swapper1);
  ASSERT_FALSE(s.frames.empty()) << s.detail;
  EXPECT_EQ(s.frames[0].ip, 0xffffffff81000001ULL);
}

TEST_F(CpuNotes, OnCpuAloneIsRunningUnlessItsCpuRunsAnotherTask) {
  // pcpu_hot.current_task known: a task with on_cpu set that its CPU switched away from
  // (past switch_to(), before finish_task_switch()) has a fresh thread.sp.
  t_.add_struct("pcpu_hot", 0x40, {{"current_task", 0x0, 8, "struct task_struct *"}, {"preempt_count", 0x8, 4, "int"}});
  k_.define_per_cpu("pcpu_hot", 0x40);
  for (int cpu = 0; cpu < 4; ++cpu) t_.write_u64(k_.per_cpu_addr(cpu, "pcpu_hot"), tasks_[cpu]);
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu + 1));
  uint64_t prev = k_.add_task(200, "prev", 0, 2);
  t_.set(prev, "task_struct", "on_cpu", 1);
  // on_cpu on a CPU that is not there at all (nr_cpu_ids 4, cpu 7): running, no registers.
  uint64_t lost = k_.add_task(201, "lost", 0, 0);
  t_.set(lost, "task_struct", "on_cpu", 1);
  t_.set(lost, "task_struct", "cpu", uint32_t(7));
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const auto& tasks = (*model)->tasks();
  EXPECT_EQ(tasks.by_pid(200)->running_on((*model)->cpus()), -1);
  EXPECT_EQ(tasks.by_pid(201)->running_on((*model)->cpus()), 7);
  Stack s = (*model)->task_stack(*tasks.by_pid(201));
  EXPECT_EQ(s.stop, StopReason::NoStart);
  ASSERT_EQ(tasks.problems.size(), 1u);
  EXPECT_NE(tasks.problems[0].find("pid 201 (lost): running on CPU 7"), std::string::npos) << tasks.problems[0];
}

TEST_F(CpuNotes, InsideSwitchToTheRegistersAreTheTasksWhoseStackRspIsOn) {
  // Seen on a 5.10 QEMU dump: CPU 1 stopped in __switch_to() (native_load_gs_index):
  // __switch_to_asm had moved rsp to the next task's stack, current_task still named the
  // previous one (whose thread.sp was just saved), rq->curr the next one.
  k_.define_per_cpu("current_task", 8);
  for (int cpu = 0; cpu < 4; ++cpu) t_.write_u64(k_.per_cpu_addr(cpu, "current_task"), tasks_[cpu]);
  uint64_t prev = k_.add_task(200, "prev", FakeKernel::kRunning, 1);
  t_.set(prev, "task_struct", "on_cpu", 1);
  t_.write_u64(k_.per_cpu_addr(1, "current_task"), prev);
  constexpr uint64_t kNextStack = 0xffffc90000010000ULL;  // regs_of(1)'s rsp is on it
  constexpr uint64_t kPrevStack = 0xffffc90000100000ULL;
  auto stacks = [&](uint64_t next_stack, uint64_t prev_stack) {
    t_.set(tasks_[1], "task_struct", "stack", next_stack);
    t_.set(prev, "task_struct", "stack", prev_stack);
  };
  // crash_save_cpu() names `current`: the note's pid is prev's.
  for (int cpu = 0; cpu < 4; ++cpu) t_.set_registers(cpu, regs_of(cpu, cpu == 1 ? 200 : pid_of(cpu)));

  stacks(kNextStack, kPrevStack);
  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  const CpuInfo* c1 = (*model)->cpus().find(1);
  ASSERT_TRUE(c1->regs);
  EXPECT_EQ(c1->current_task, prev);
  EXPECT_EQ(c1->regs_task, tasks_[1]);
  EXPECT_EQ(c1->running_task(), tasks_[1]);
  bool said = false;
  for (const auto& p : c1->problems) said |= p.find("registers on rq->curr's stack (pid 101)") != std::string::npos;
  EXPECT_TRUE(said);
  const auto& tasks = (*model)->tasks();
  EXPECT_EQ(tasks.by_pid(101)->current_on, 1);
  EXPECT_EQ(tasks.by_pid(200)->current_on, -1);
  EXPECT_EQ(tasks.by_pid(200)->running_on((*model)->cpus()), -1);  // its thread.sp is fresh

  // Earlier in the switch, rsp still on prev's stack: the registers are prev's, and the
  // next task's thread.sp (where it switched out last time) is untouched.
  stacks(kPrevStack, kNextStack);
  model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  c1 = (*model)->cpus().find(1);
  EXPECT_EQ(c1->regs_task, prev);
  EXPECT_EQ((*model)->tasks().by_pid(200)->current_on, 1);
  EXPECT_EQ((*model)->tasks().by_pid(101)->current_on, -1);
  EXPECT_EQ((*model)->tasks().by_pid(101)->running_on((*model)->cpus()), -1);
}

TEST_F(CpuNotes, WithoutCrashNotesTheOrderIsCheckedByPid) {
  // No crash_notes to read: notes go in order, while their pids name the current tasks.
  // CPU 1 saved none, so note 1 (pid 102) does not belong to CPU 1 (pid 101).
  t_.set_registers(0, regs_of(0, pid_of(0)));
  t_.set_registers(1, regs_of(2, pid_of(2)));
  t_.set_registers(2, regs_of(3, pid_of(3)));
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.find(0)->regs_match, RegsMatch::DumpOrder);
  EXPECT_FALSE(cpus.find(1)->regs);
  EXPECT_FALSE(cpus.find(2)->regs);  // never given CPU 3's registers, nor CPU 2's by guess
  EXPECT_FALSE(cpus.find(3)->regs);
  ASSERT_FALSE(cpus.problems.empty());
  EXPECT_NE(cpus.problems[0].find("names pid 102, but CPU 1 runs pid 101"), std::string::npos) << cpus.problems[0];
}

TEST_F(CpuNotes, CurrentTaskFromPcpuHotOrItsOwnVariable) {
  // 6.2-6.14: pcpu_hot.current_task; a CPU in a context switch has rq->curr = next.
  t_.add_struct("pcpu_hot", 0x40, {{"current_task", 0x0, 8, "struct task_struct *"}, {"preempt_count", 0x8, 4, "int"}});
  k_.define_per_cpu("pcpu_hot", 0x40);
  for (int cpu = 0; cpu < 4; ++cpu) t_.write_u64(k_.per_cpu_addr(cpu, "pcpu_hot"), tasks_[cpu]);
  uint64_t prev = k_.add_task(200, "prev", 0, 1);
  t_.write_u64(k_.per_cpu_addr(1, "pcpu_hot"), prev);
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.find(0)->current_task, tasks_[0]);
  EXPECT_EQ(cpus.find(1)->current_task, prev);
  EXPECT_EQ(cpus.find(1)->curr, tasks_[1]);
  ASSERT_EQ(cpus.find(1)->problems.size(), 2u);  // the context switch, and no registers
  EXPECT_NE(cpus.find(1)->problems[0].find("context switch"), std::string::npos);
  // The registers (were there any) run on prev's stack: prev is the running task.
  TaskSet tasks = load_tasks(f, cpus);
  EXPECT_EQ(tasks.by_pid(200)->current_on, 1);
  EXPECT_EQ(tasks.by_pid(101)->current_on, -1);

  // <= 6.1 and >= 6.15: a per-CPU variable of its own.
  FakeTarget t2;
  FakeKernel k2(t2, 1);
  k2.define_per_cpu("current_task", 8);
  t2.write_u64(k2.per_cpu_addr(0, "current_task"), k2.init_task());
  k2.set_curr(0, k2.init_task());
  Fields f2(t2);
  EXPECT_EQ(load_cpus(f2).value().find(0)->current_task, k2.init_task());
}

class Clocks : public ::testing::Test {
 protected:
  Clocks() : k_(t_, 2) {}
  void clocks(uint64_t c0, uint64_t c1) {
    t_.set(k_.per_cpu_addr(0, "runqueues"), "rq", "clock", c0);
    t_.set(k_.per_cpu_addr(1, "runqueues"), "rq", "clock", c1);
  }
  // The core timekeeper as 6.13-6.16 keep it (struct tk_data tk_core).
  void timekeeper(int64_t mono_ns, int64_t offs_boot) {
    t_.add_struct("timekeeper", 0x100, {{"tkr_mono", 0x0, 0x38}, {"tkr_mono.base", 0x28, 8, "ktime_t"},
                                        {"offs_boot", 0x60, 8, "ktime_t"}});
    t_.add_struct("tk_data", 0x240, {{"seq", 0, 4}, {"timekeeper", 0x8, 0x100, "struct timekeeper"}});
    uint64_t tk = t_.add_global("tk_core", 0x240);
    t_.set(tk + 0x8, "timekeeper", "tkr_mono.base", uint64_t(mono_ns));
    t_.set(tk + 0x8, "timekeeper", "offs_boot", uint64_t(offs_boot));
  }
  FakeTarget t_;
  FakeKernel k_;
};

TEST_F(Clocks, PlausibleRqClockIsTheUptime) {
  clocks(100 * kSecond, 90 * kSecond);
  timekeeper(99 * kSecond, 0);
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.uptime_ns.value(), 100 * kSecond);
  EXPECT_EQ(cpus.uptime_source, "rq->clock");
  EXPECT_EQ(cpus.now_clock, 100 * kSecond);
  EXPECT_TRUE(cpus.problems.empty());
}

TEST_F(Clocks, ImplausibleRqClockIsIgnoredAndSaid) {
  // 4416714 hours, as a wrong per-CPU base once printed: beyond any machine's uptime.
  clocks(4416714ULL * 3600 * kSecond, 50 * kSecond);
  timekeeper(40 * kSecond, 10 * kSecond);
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.now_clock, 50 * kSecond);  // CPU 1's clock, not the wild one
  EXPECT_EQ(cpus.uptime_ns.value(), 50 * kSecond);
  ASSERT_FALSE(cpus.problems.empty());
  EXPECT_NE(cpus.problems[0].find("implausible scheduler clock: CPU 0"), std::string::npos) << cpus.problems[0];
}

TEST_F(Clocks, RqClockFarFromTheTimekeeperYieldsToIt) {
  clocks(3 * 3600 * kSecond, 0);
  timekeeper(1000 * kSecond, 200 * kSecond);
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.uptime_ns.value(), 1200 * kSecond);
  EXPECT_EQ(cpus.uptime_source, "timekeeper");
  ASSERT_EQ(cpus.problems.size(), 1u);
  EXPECT_NE(cpus.problems[0].find("disagree"), std::string::npos);
}

TEST_F(Clocks, NoClockAtAllIsUnknownWithItsReason) {
  clocks(~uint64_t{0} - 5, 0);
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_FALSE(cpus.uptime_ns);
  EXPECT_EQ(cpus.now_clock, 0u);
  EXPECT_NE(cpus.clock_problem.find("beyond 30 years"), std::string::npos) << cpus.clock_problem;
  EXPECT_NE(cpus.clock_problem.find("timekeeper_data nor tk_core"), std::string::npos) << cpus.clock_problem;
  // No "now": no task gets an age from it.
  uint64_t t = k_.add_task(5, "sleeper");
  t_.set(t, "task_struct", "se.exec_start", 10 * kSecond);
  TaskSet tasks = load_tasks(f, cpus);
  EXPECT_FALSE(tasks.by_pid(5)->since_ran_ns);
}

// CRASHTIME's second opinion: the timekeeper's wall clock seconds at its last tick.
TEST_F(Clocks, WallSecondsAreTheTimekeepersXtimeSec) {
  clocks(100 * kSecond, 90 * kSecond);
  timekeeper(99 * kSecond, 0);
  Fields f(t_);
  EXPECT_FALSE(load_cpus(f).value().wall_seconds);  // no xtime_sec member: unknown
  FakeTarget t2;
  FakeKernel k2(t2, 1);
  t2.add_struct("timekeeper", 0x100, {{"tkr_mono.base", 0x28, 8, "ktime_t"}, {"xtime_sec", 0x70, 8, "u64"}});
  t2.add_struct("tk_data", 0x240, {{"seq", 0, 4}, {"timekeeper", 0x8, 0x100, "struct timekeeper"}});
  uint64_t tk = t2.add_global("tk_core", 0x240);
  t2.set(tk + 0x8, "timekeeper", "tkr_mono.base", 5 * kSecond);
  t2.set(tk + 0x8, "timekeeper", "xtime_sec", uint64_t{1796695416});
  Fields f2(t2);
  EXPECT_EQ(load_cpus(f2).value().wall_seconds, 1796695416);
}

TEST_F(Clocks, AuxTimekeepersArrayAndTheAnonymousTkCore) {
  clocks(0, 0);
  // >= 6.17: timekeeper_data[0] is the core timekeeper.
  t_.add_struct("timekeeper", 0x100, {{"tkr_mono.base", 0x28, 8, "ktime_t"}, {"offs_boot", 0x60, 8, "ktime_t"}});
  t_.add_struct("tk_data", 0x240, {{"timekeeper", 0x40, 0x100, "struct timekeeper"}});
  uint64_t data = t_.add_global("timekeeper_data", 0x240 * 8);
  t_.set(data + 0x40, "timekeeper", "tkr_mono.base", 77 * kSecond);
  Fields f(t_);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.uptime_ns.value(), 77 * kSecond);
  EXPECT_EQ(cpus.uptime_source, "timekeeper");

  // <= 6.12: struct { seqcount_raw_spinlock_t seq; struct timekeeper timekeeper; } tk_core.
  FakeTarget t2;
  FakeKernel k2(t2, 1);
  t2.add_struct("timekeeper", 0x100, {{"tkr_mono.base", 0x28, 8, "ktime_t"}, {"offs_boot", 0x60, 8, "ktime_t"}});
  t2.add_struct("seqcount_raw_spinlock", 4, {{"seqcount", 0, 4}});
  uint64_t core = t2.add_global("tk_core", 0x140);
  t2.set(core + 8, "timekeeper", "tkr_mono.base", 33 * kSecond);
  t2.set(core + 8, "timekeeper", "offs_boot", 1 * kSecond);
  Fields f2(t2);
  EXPECT_EQ(load_cpus(f2).value().uptime_ns.value(), 34 * kSecond);
}

// task_state_array as fs/proc/array.c has it; the letters come from the dump.
uint64_t add_task_state_array(FakeTarget& t, const std::vector<std::string>& names) {
  uint64_t arr = t.alloc(8 * names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    uint64_t str = t.alloc(names[i].size() + 1);
    t.write_string(str, names[i]);
    t.write_u64(arr + 8 * i, str);
  }
  t.add_symbol("task_state_array", arr, 8 * names.size());
  return arr;
}

TEST(TaskStates, LettersComeFromTheKernelsTaskStateArray) {
  FakeTarget t;
  FakeKernel k(t, 1);
  add_task_state_array(t, {"R (running)", "S (sleeping)", "D (disk sleep)", "T (stopped)", "t (tracing stop)",
                           "X (dead)", "Z (zombie)", "P (parked)", "I (idle)"});
  Fields f(t);
  TaskStateTable table = read_task_state_table(f);
  EXPECT_TRUE(table.from_kernel) << table.problem;
  EXPECT_EQ(table.letters, "RSDTtXZPI");
  EXPECT_EQ(decode_task_state(0x402, 0, &table).letter, 'I');
  EXPECT_EQ(decode_task_state(0x40, 0, &table).letter, 'P');
  EXPECT_EQ(decode_task_state(0x80, 0x20, &table).letter, 'Z');
  EXPECT_EQ(decode_task_state(0x8001, 0, &table).letter, 'D');  // TASK_FROZEN

  // A kernel with one report bit fewer (as before 4.14 had no P): the idle letter moves.
  FakeTarget t2;
  FakeKernel k2(t2, 1);
  add_task_state_array(t2, {"R (running)", "S (sleeping)", "D (disk sleep)", "T (stopped)", "t (tracing stop)",
                            "X (dead)", "Z (zombie)", "I (idle)"});
  Fields f2(t2);
  TaskStateTable short_table = read_task_state_table(f2);
  ASSERT_TRUE(short_table.from_kernel);
  EXPECT_EQ(decode_task_state(0x402, 0, &short_table).letter, 'I');
  EXPECT_EQ(decode_task_state(0x40, 0, &short_table).letter, 'R');  // not a reported bit there
  uint64_t task = k2.add_task(9, "idler", 0x402);
  TaskSet set = load_tasks(f2, load_cpus(f2).value());
  EXPECT_EQ(set.by_pid(9)->state.letter, 'I');
  (void)task;
}

TEST(TaskStates, AnUnreadableTableFallsBackAndIsReported) {
  FakeTarget t;
  FakeKernel k(t, 1);
  uint64_t arr = add_task_state_array(t, {"R (running)", "S (sleeping)", "D (disk sleep)"});
  t.write_u64(arr + 8, 0xffff8880dead0000ULL);  // a string that is not in the dump
  Fields f(t);
  TaskStateTable table = read_task_state_table(f);
  EXPECT_FALSE(table.from_kernel);
  EXPECT_EQ(table.letters, "RSDTtXZPI");
  EXPECT_NE(table.problem.find("task_state_array[1]"), std::string::npos) << table.problem;
  TaskSet set = load_tasks(f, load_cpus(f).value());
  ASSERT_FALSE(set.problems.empty());
  EXPECT_NE(set.problems.back().find("task state letters built in"), std::string::npos);
}

// A live target's view: the FakeKernel's memory plus an NMI capture by CPU number.
class CapturingTarget : public Target {
 public:
  explicit CapturingTarget(FakeTarget& base) : base_(base) {}
  Result<void> read(uint64_t a, std::span<std::byte> out) override { return base_.read(a, out); }
  Result<uint64_t> symbol_address(std::string_view n) override { return base_.symbol_address(n); }
  Result<Symbol> symbol_at(uint64_t a) override { return base_.symbol_at(a); }
  Result<uint64_t> struct_size(std::string_view s) override { return base_.struct_size(s); }
  Result<TypeMember> member(std::string_view s, std::string_view m) override { return base_.member(s, m); }
  Result<uint64_t> per_cpu_offset(int cpu) override { return base_.per_cpu_offset(cpu); }
  Result<CpuRegisters> cpu_registers(int) override { return fail(ErrorKind::NotFound, "live: no notes"); }
  std::optional<std::string> vmcoreinfo(std::string_view) override { return std::nullopt; }
  std::optional<Result<CpuRegisters>> captured_registers(int cpu) override {
    auto it = captured.find(cpu);
    if (it == captured.end()) return Result<CpuRegisters>(fail(ErrorKind::NotFound, "CPU did not answer the NMI"));
    return Result<CpuRegisters>(it->second);
  }
  bool live() const override { return true; }
  std::map<int, CpuRegisters> captured;

 private:
  FakeTarget& base_;
};

TEST_F(CpuNotes, LiveCaptureGoesByCpuNumberAndItsTaskDecidesTheStack) {
  CapturingTarget live(t_);
  for (int cpu : {0, 1, 3}) live.captured[cpu] = regs_of(cpu, pid_of(cpu));
  // CPU 3 ran another task at the NMI than the one current when memory was read.
  uint64_t earlier = k_.add_task(300, "earlier", 0, 3);
  live.captured[3].task = earlier;
  live.captured[3].note_pid = 300;
  Fields f(live);
  auto cpus = load_cpus(f).value();
  EXPECT_EQ(cpus.register_notes, 0);
  EXPECT_EQ(cpus.find(0)->regs_match, RegsMatch::NmiCapture);
  EXPECT_EQ(cpus.find(1)->regs->get(CpuRegisters::rip), 0xffffffff81000001ULL);
  EXPECT_FALSE(cpus.find(2)->regs);
  ASSERT_FALSE(cpus.find(2)->problems.empty());
  EXPECT_NE(cpus.find(2)->problems.back().find("did not answer the NMI"), std::string::npos);
  EXPECT_EQ(cpus.find(3)->current_task, earlier);
  ASSERT_FALSE(cpus.find(3)->problems.empty());
  EXPECT_NE(cpus.find(3)->problems.back().find("changed while reading: the NMI capture saw pid 300"), std::string::npos)
      << cpus.find(3)->problems.back();
}

}  // namespace
}  // namespace kstuck
