// SPDX-License-Identifier: GPL-2.0
// Tests of the hang analysis over FakeKernel memory: ABBA, xcall to an IRQs-off CPU, the mixed cycle, tasks that never run, healthy and corrupt dumps.
#include <gtest/gtest.h>

#include "analysis/hang/cpu_activity.h"
#include "analysis/hang/cpu_evidence.h"
#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/hang_render.h"
#include "analysis/hang/hang_snapshot.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hang/model_snapshot.h"
#include "analysis/hang/xcall.h"
#include "analysis/kernel/kernel_model.h"
#include "tests/unit/code_builder.h"
#include "tests/unit/fake_kernel.h"
#include "tests/unit/fake_target.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

constexpr uint64_t kText = 0xffffffff81000000ULL;

class HangTest : public ::testing::Test {
 protected:
  HangTest() : k_(t_, 4), fields_(t_) {
    t_.map(kText, 0x10000);
    // Functions the frames name; 0x100 bytes each.
    const char* fns[] = {"__schedule", "schedule", "__mutex_lock", "worker_a", "worker_b",
                         "smp_call_function_single", "caller_fn", "spin_fn", "remote_func",
                         "native_queued_spin_lock_slowpath", "hold_and_call", "spin_on", "do_nanosleep"};
    uint64_t a = kText;
    for (const char* f : fns) {
      t_.add_symbol(f, a, 0x100);
      fn_[f] = a;
      a += 0x100;
    }
  }

  uint64_t stack_of(uint64_t task) { return t_.peek_u64(t_.addr_of(task, "task_struct", "stack")); }

  StackFrame frame(const std::string& f) {
    StackFrame s;
    s.pc = fn_[f] + 0x10;
    s.function = f;
    return s;
  }

  TaskView view(uint64_t task, int pid, const std::string& comm, char state, int on_cpu,
                std::vector<std::string> frames, uint64_t sp_off = 0x3c00) {
    TaskView v;
    v.task = task;
    v.pid = pid;
    v.comm = comm;
    v.state_char = state;
    v.on_cpu = on_cpu;
    v.stack_base = stack_of(task);
    v.sp = v.stack_base + sp_off;
    for (const auto& f : frames) v.frames.push_back(frame(f));
    return v;
  }

  // Four CPUs in their idle tasks' idle loop.
  HangSnapshot idle_cpus() {
    HangSnapshot snap;
    for (int c = 0; c < 4; ++c) {
      uint64_t t = k_.add_task(0, "swapper/" + std::to_string(c), FakeKernel::kRunning, c);
      k_.set_curr(c, t);
      CpuView v = cpu_view(c, t, false, {"do_nanosleep"}, stack_of(t) + 0x3f00);
      v.idle = true;
      snap.cpus.push_back(v);
    }
    return snap;
  }
  CpuView cpu_view(int cpu, uint64_t curr, bool irqs_off, std::vector<std::string> frames, uint64_t rsp,
                   CpuRegisters regs = {}) {
    CpuView c;
    c.cpu = cpu;
    c.curr = curr;
    regs.regs[CpuRegisters::eflags] = irqs_off ? 0x46 : 0x246;
    regs.regs[CpuRegisters::rsp] = rsp;
    regs.regs[CpuRegisters::rip] = frames.empty() ? 0 : fn_[frames[0]] + 4;
    c.regs = regs;
    for (const auto& f : frames) c.frames.push_back(frame(f));
    return c;
  }

  // A struct mutex_waiter on the task's stack, queued on the mutex, and the mutex's
  // address in a stack slot (as __mutex_lock keeps it across schedule()).
  void block_on_mutex(uint64_t task, uint64_t mutex) {
    uint64_t stack = stack_of(task);
    uint64_t waiter = stack + 0x3d00;
    t_.set(waiter, "mutex_waiter", "task", task);
    k_.list_add_tail(waiter, t_.addr_of(mutex, "mutex", "wait_list"));
    t_.write_u64(stack + 0x3c40, mutex);
  }

  // A SYNC csd on the caller's stack, pushed on target's call_single_queue.
  uint64_t csd_on_stack(uint64_t task, int target, const std::string& func) {
    uint64_t csd = stack_of(task) + 0x3e00;
    uint64_t queue = k_.per_cpu_addr(target, "call_single_queue");
    t_.set(csd, "__call_single_data", "node.llist", t_.peek_u64(queue));
    t_.set(csd, "__call_single_data", "node.u_flags", kCsdFlagLock | kCsdTypeSync);
    t_.set(csd, "__call_single_data", "func", fn_[func]);
    t_.write_u64(queue, csd);
    return csd;
  }

  // A mutex owner (pid, last on CPU 3), CPU 3 running a spinner (pid + 1) with IRQs off,
  // and a waiter (pid + 2, on CPU 2) asleep on the mutex. The caller shapes the owner's
  // view, then takes snapshot().
  struct OwnerBehindCpu3 {
    uint64_t owner, spinner, waiter, mutex;
    CpuView cpu3;
    TaskView owner_view, spinner_view, waiter_view;
    HangSnapshot snapshot() const {
      HangSnapshot snap;
      snap.cpus = {cpu3};
      snap.tasks = {owner_view, spinner_view, waiter_view};
      return snap;
    }
  };
  OwnerBehindCpu3 owner_behind_cpu3(int pid, uint32_t owner_state, const std::string& mutex_name) {
    OwnerBehindCpu3 s;
    s.owner = k_.add_task(pid, "owner", owner_state, 3);
    s.spinner = k_.add_task(pid + 1, "spin/3", FakeKernel::kRunning, 3);
    s.waiter = k_.add_task(pid + 2, "wait/2", FakeKernel::kUninterruptible, 2);
    k_.set_curr(3, s.spinner);
    s.mutex = k_.add_mutex(mutex_name, s.owner, kMutexFlagWaiters);
    block_on_mutex(s.waiter, s.mutex);
    s.cpu3 = cpu_view(3, s.spinner, true, {"spin_fn"}, stack_of(s.spinner) + 0x3f00);
    s.owner_view = view(s.owner, pid, "owner", 'R', -1, {"__schedule", "schedule", "worker_a"});
    s.owner_view.cpu = 3;
    s.spinner_view = view(s.spinner, pid + 1, "spin/3", 'R', 3, {"spin_fn"}, 0x3f00);
    s.waiter_view = view(s.waiter, pid + 2, "wait/2", 'D', -1, {"__schedule", "schedule", "__mutex_lock", "worker_b"});
    s.waiter_view.cpu = 2;
    return s;
  }

  // 6.1's hrtimer_cpu_base (clock_base[] of hrtimer_clock_base, whose `active` is a
  // timerqueue_head: an rb_root_cached) with one timer queued on CPU cpu's
  // HRTIMER_BASE_MONOTONIC that expires at `expires`; returns the timer's node.
  uint64_t define_hrtimers(int cpu, uint64_t expires) {
    t_.add_struct("hrtimer_clock_base", 0x40,
                  {{"cpu_base", 0x0, 8}, {"index", 0x8, 4}, {"active", 0x20, 0x10, "struct timerqueue_head"},
                   {"active.rb_root", 0x20, 0x10, "struct rb_root_cached"},
                   {"active.rb_root.rb_leftmost", 0x28, 8, "struct rb_node *"}});
    t_.add_struct("hrtimer_cpu_base", 0x240,
                  {{"expires_next", 0x20, 8, "ktime_t"}, {"clock_base", 0x40, 0x200, "struct hrtimer_clock_base[8]"}});
    t_.add_struct("timerqueue_node", 0x20, {{"node", 0x0, 0x18, "struct rb_node"}, {"expires", 0x18, 8, "ktime_t"}});
    k_.define_per_cpu("hrtimer_bases", 0x240);
    uint64_t node = t_.add_global("kstuck_test_timer_" + std::to_string(cpu), 0x20);
    t_.write_u64(node + 0x18, expires);
    t_.write_u64(k_.per_cpu_addr(cpu, "hrtimer_bases") + 0x40 + 0x28, node);
    return node;
  }

  HangReport report(const HangSnapshot& snap) {
    auto cpus = classify_cpus(t_, snap);
    auto x = scan_xcalls(t_, fields_, snap);
    auto l = scan_sleeping_locks(t_, fields_, snap);
    return build_hang_report(snap, x, l, cpus);
  }

  const WaitNode* node(const HangReport& r, const std::string& id) {
    auto i = r.graph.find(id);
    return i ? &r.graph.nodes()[*i] : nullptr;
  }

  std::vector<std::string> cycle_ids(const HangReport& r) {
    std::vector<std::string> out;
    for (size_t i : r.verdict.cycle) out.push_back(r.graph.nodes()[i].id);
    return out;
  }

  FakeTarget t_;
  FakeKernel k_;
  Fields fields_;
  std::map<std::string, uint64_t> fn_;
};

TEST_F(HangTest, AbbaMutexDeadlockInOrderWithWaitersAndOwners) {
  uint64_t ta = k_.add_task(100, "abba1", FakeKernel::kUninterruptible);
  uint64_t tb = k_.add_task(101, "abba2", FakeKernel::kUninterruptible);
  uint64_t tc = k_.add_task(102, "third", FakeKernel::kUninterruptible);
  uint64_t ma = k_.add_mutex("lock_a", ta, kMutexFlagWaiters);
  uint64_t mb = k_.add_mutex("lock_b", tb, kMutexFlagWaiters | kMutexFlagHandoff);
  block_on_mutex(ta, mb);
  block_on_mutex(tb, ma);
  block_on_mutex(tc, mb);  // a second waiter on B, queued after A
  HangSnapshot snap;
  std::vector<std::string> fr = {"__schedule", "schedule", "__mutex_lock", "worker_a"};
  snap.tasks = {view(ta, 100, "abba1", 'D', -1, fr), view(tb, 101, "abba2", 'D', -1, fr),
                view(tc, 102, "third", 'D', -1, fr)};

  auto locks = scan_sleeping_locks(t_, fields_, snap);
  ASSERT_EQ(locks.blocked.size(), 3u);
  EXPECT_FALSE(locks.partial);
  const SleepingLock* b = locks.lock_at(mb);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->symbol, "lock_b");
  EXPECT_EQ(b->owner_task, tb);
  EXPECT_EQ(b->flags, "WAITERS|HANDOFF");
  EXPECT_EQ(b->waiters, (std::vector<uint64_t>{ta, tc}));

  HangReport r = report(snap);
  ASSERT_EQ(r.verdict.verdict, Verdict::Deadlock);
  char ida[32], idb[32];
  std::snprintf(ida, sizeof ida, "mutex:0x%llx", static_cast<unsigned long long>(ma));
  std::snprintf(idb, sizeof idb, "mutex:0x%llx", static_cast<unsigned long long>(mb));
  EXPECT_EQ(cycle_ids(r), (std::vector<std::string>{"task:100", idb, "task:101", ida}));
  // The third waiter waits, but outside the cycle; B lists both waiters in order.
  const WaitNode* third = node(r, "task:102");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(node(r, idb)->waiter_pids, (std::vector<int>{100, 102}));
  EXPECT_TRUE(node(r, idb)->waiters_complete);
  EXPECT_EQ(r.signature.size(), 16u);
}

TEST_F(HangTest, XcallTowardsIrqsOffCpuIsStuck) {
  uint64_t waiter = k_.add_task(113, "xcall/2", FakeKernel::kRunning, 2);
  uint64_t spinner = k_.add_task(112, "spin/3", FakeKernel::kRunning, 3);
  k_.set_curr(2, waiter);
  k_.set_curr(3, spinner);
  uint64_t csd = csd_on_stack(waiter, 3, "remote_func");
  HangSnapshot snap;
  snap.cpus = {cpu_view(2, waiter, false, {"smp_call_function_single", "caller_fn"}, stack_of(waiter) + 0x3d00),
               cpu_view(3, spinner, true, {"spin_fn"}, stack_of(spinner) + 0x3f00)};
  snap.tasks = {view(waiter, 113, "xcall/2", 'R', 2, {"smp_call_function_single", "caller_fn"}, 0x3d00),
                view(spinner, 112, "spin/3", 'R', 3, {"spin_fn"}, 0x3f00)};

  auto x = scan_xcalls(t_, fields_, snap);
  ASSERT_EQ(x.entries.size(), 1u);
  const XcallEntry& e = x.entries[0];
  EXPECT_EQ(e.address, csd);
  EXPECT_TRUE(e.queued);
  EXPECT_TRUE(e.locked());
  EXPECT_EQ(e.func, "remote_func");
  EXPECT_EQ(e.target_cpu, 3);
  EXPECT_EQ(e.sender_cpu, 2);
  EXPECT_EQ(e.waiter_pid, 113);

  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::Stuck);
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:3");
  const WaitNode* c3 = node(r, "cpu:3");
  ASSERT_NE(c3, nullptr);
  EXPECT_EQ(c3->irqs_off, true);
  EXPECT_EQ(c3->doing, "busy with IRQs off");
  EXPECT_EQ(r.verdict.chain.size(), 3u);
  // One sample of the IRQ flag: STUCK, but inferred.
  EXPECT_EQ(r.verdict.confidence, Confidence::Inferred);
  // CPU 3's earliest hrtimer expired 30 s before the last jiffies update: confirmed.
  snap.cpus[1].timer_expires = 1'000'000'000;
  snap.cpus[1].timer_source = "earliest CLOCK_MONOTONIC hrtimer";
  snap.clock.now_mono = 31'000'000'000;
  snap.clock.now_mono_source = "last_jiffies_update";
  HangReport timed = report(snap);
  ASSERT_EQ(timed.verdict.verdict, Verdict::Stuck);
  EXPECT_EQ(timed.verdict.confidence, Confidence::Confirmed) << timed.verdict.reason;
  EXPECT_NE(node(timed, "cpu:3")->label.find("no timer interrupt for at least 30.0 s"), std::string::npos)
      << node(timed, "cpu:3")->label;
  EXPECT_NE(timed.verdict.reason.find("expired 30.0 s before last_jiffies_update"), std::string::npos)
      << timed.verdict.reason;
}

// sysrq-c from "sh" on CPU 1: panic() turned its IRQs off, and an ordinary wakeup of a
// kworker sits as a TTWU entry on its call_single_queue. Nothing is stuck; the panicking
// CPU is a witness. Without what says it panicked, the same dump would blame "sh".
TEST_F(HangTest, SysrqCrashWithAWakeupQueuedOnThePanickingCpuBlamesNobody) {
  HangSnapshot snap = idle_cpus();
  uint64_t sh = k_.add_task(300, "sh", FakeKernel::kRunning, 1);
  uint64_t woken = k_.add_task(301, "kworker/1:1", 0x200 /* TASK_WAKING */, 1);
  k_.set_curr(1, sh);
  k_.queue_ttwu(1, woken);
  std::vector<std::string> crash = {"__crash_kexec", "panic", "sysrq_handle_crash", "__handle_sysrq",
                                    "write_sysrq_trigger"};
  snap.cpus[1] = cpu_view(1, sh, true, crash, stack_of(sh) + 0x3e00);
  snap.clock.panic_cpu = 1;
  TaskView w = view(woken, 301, "kworker/1:1", 'R', -1, {"__schedule", "schedule", "worker_thread"});
  w.cpu = 1;
  snap.tasks = {view(sh, 300, "sh", 'R', 1, crash, 0x3e00), w};
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::None) << r.verdict.reason;
  EXPECT_NE(r.verdict.reason.find("the panicking CPU"), std::string::npos) << r.verdict.reason;
  const WaitNode* c1 = node(r, "cpu:1");
  ASSERT_NE(c1, nullptr);
  EXPECT_TRUE(c1->panicking);
  EXPECT_NE(c1->witness.find("panic_cpu = 1"), std::string::npos) << c1->witness;
  EXPECT_NE(c1->witness.find("__crash_kexec"), std::string::npos) << c1->witness;
  bool marked = false;
  for (const auto& e : r.graph.edges())
    marked = marked || (e.kind == EdgeKind::QueuedOn && e.evidence.find("the panic's witness") != std::string::npos);
  EXPECT_TRUE(marked);
  // The stack alone is enough (a dump whose panic_cpu cannot be read).
  snap.clock.panic_cpu.reset();
  EXPECT_EQ(report(snap).verdict.verdict, Verdict::None);
  // Control: the same IRQs-off CPU with nothing saying it panicked is the old STUCK at "sh".
  snap.cpus[1] = cpu_view(1, sh, true, {"spin_fn"}, stack_of(sh) + 0x3e00);
  HangReport blamed = report(snap);
  EXPECT_EQ(blamed.verdict.verdict, Verdict::Stuck);
  EXPECT_EQ(blamed.graph.nodes()[*blamed.verdict.root_cause].id, "cpu:1");
}

// hung_task_panic: khungtaskd on CPU 0 found the mutex waiter blocked too long and called
// panic(); the mutex owner is runnable on CPU 0's runqueue. khungtaskd's CPU is the
// panic's witness, not the hang's root cause.
TEST_F(HangTest, HungTaskPanicDoesNotBlameKhungtaskdsCpu) {
  HangSnapshot snap = idle_cpus();
  uint64_t khung = k_.add_task(40, "khungtaskd", FakeKernel::kRunning, 0);
  uint64_t owner = k_.add_task(51, "owner", FakeKernel::kRunning, 0);
  uint64_t waiter = k_.add_task(50, "waiter", FakeKernel::kUninterruptible, 2);
  k_.set_curr(0, khung);
  uint64_t m = k_.add_mutex("hung_mutex", owner, kMutexFlagWaiters);
  block_on_mutex(waiter, m);
  std::vector<std::string> fr = {"__crash_kexec", "panic", "check_hung_uninterruptible_tasks", "watchdog", "kthread"};
  snap.cpus[0] = cpu_view(0, khung, true, fr, stack_of(khung) + 0x3e00);
  snap.clock.panic_cpu = 0;
  TaskView o = view(owner, 51, "owner", 'R', -1, {"__schedule", "schedule", "worker_a"});
  o.cpu = 0;
  o.on_rq = true;
  o.queued_ns = 2'000'000;
  TaskView w = view(waiter, 50, "waiter", 'D', -1, {"__schedule", "schedule", "__mutex_lock", "worker_b"});
  w.cpu = 2;
  snap.tasks = {view(khung, 40, "khungtaskd", 'R', 0, fr, 0x3e00), o, w};
  HangReport r = report(snap);
  EXPECT_NE(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  EXPECT_EQ(r.verdict.verdict, Verdict::None) << r.verdict.reason;
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:0");
  EXPECT_NE(r.verdict.reason.find("witness"), std::string::npos) << r.verdict.reason;
  std::string text = render_hang_text(r);
  EXPECT_NE(text.find("panic: CPU 0 is a witness, not a suspect"), std::string::npos) << text;
  // Had khungtaskd's CPU been wedged 25 s before the panic, it would be the root cause.
  snap.cpus[0].timer_expires = 5'000'000'000;
  snap.cpus[0].timer_source = "earliest CLOCK_MONOTONIC hrtimer";
  snap.clock.now_mono = 30'000'000'000;
  snap.clock.now_mono_source = "last_jiffies_update";
  EXPECT_EQ(report(snap).verdict.verdict, Verdict::Stuck);
}

// kstuck's watchdog (or the hard-lockup detector) panicked on CPU 1 because CPU 3 spun
// with IRQs off; nothing waits on CPU 3 yet. panic() stopped CPU 3 by NMI, so its
// registers are the NMI handler's; the NMI's pt_regs say the interrupted spin had IRQs
// off. With its timer 2 s overdue, CPU 3 is STUCK by itself; without that evidence, or
// with IRQs on in the interrupted context, the dump is NONE.
TEST_F(HangTest, ACpuThePanicStoppedByNmiWhileSpinningWithIrqsOffIsStuckByItself) {
  HangSnapshot snap = idle_cpus();
  uint64_t spinner = k_.add_task(119, "kstuck_spin/3", FakeKernel::kRunning, 3);
  uint64_t wdog = k_.add_task(116, "kstuck_wdog", FakeKernel::kRunning, 1);
  k_.set_curr(3, spinner);
  k_.set_curr(1, wdog);
  snap.cpus[1] = cpu_view(1, wdog, true, {"panic", "worker_a"}, stack_of(wdog) + 0x3e00);
  snap.cpus[1].idle = false;
  snap.clock.panic_cpu = 1;
  std::vector<std::string> fr = {"stop_this_cpu", "smp_stop_nmi_callback", "nmi_handle", "exc_nmi",
                                 "end_repeat_nmi", "spin_fn", "worker_b"};
  snap.cpus[3] = cpu_view(3, spinner, true, fr, stack_of(spinner) + 0x3e00);
  snap.cpus[3].idle = false;
  snap.cpus[3].stopped = true;
  snap.cpus[3].frames[5].flags = 0x46;  // the NMI's pt_regs: IF clear in the spin
  snap.tasks = {view(spinner, 119, "kstuck_spin/3", 'R', 3, fr, 0x3e00),
                view(wdog, 116, "kstuck_wdog", 'R', 1, {"panic", "worker_a"}, 0x3e00)};
  // No clock evidence: one IRQ flag sample of a CPU the panic stopped proves nothing.
  EXPECT_EQ(report(snap).verdict.verdict, Verdict::None);
  snap.cpus[3].timer_expires = 4'000'000'000;
  snap.cpus[3].timer_source = "earliest CLOCK_MONOTONIC hrtimer";
  snap.clock.now_mono = 6'000'000'000;
  snap.clock.now_mono_source = "last_jiffies_update";
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  EXPECT_EQ(r.verdict.confidence, Confidence::Confirmed) << r.verdict.reason;
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:3");
  EXPECT_NE(r.verdict.reason.find("stuck by itself"), std::string::npos) << r.verdict.reason;
  EXPECT_NE(r.verdict.reason.find("no timer interrupt for at least 2.0 s"), std::string::npos) << r.verdict.reason;
  // The same stall seen by a CPU whose interrupted context had IRQs on (idle in hlt when
  // the NMI came) is no lockup: its timer was late for another reason.
  snap.cpus[3].frames[5].flags = 0x246;
  EXPECT_EQ(report(snap).verdict.verdict, Verdict::None);
}

// A CPU spinning with IRQs off on a lock nobody is known to hold: STUCK at the lock,
// holder unknown (it was NONE: "can still progress"). With IRQs on it may still progress.
TEST_F(HangTest, SpinningWithIrqsOffOnALockWithNoKnownHolderIsStuck) {
  HangSnapshot snap = idle_cpus();
  uint64_t spinner = k_.add_task(114, "spin/3", FakeKernel::kRunning, 3);
  k_.set_curr(3, spinner);
  uint64_t lock = t_.add_global("lost_lock", 4);
  t_.write_u32(lock, 1);
  CpuRegisters r3{};
  r3.regs[CpuRegisters::rdi] = lock;
  snap.cpus[3] = cpu_view(3, spinner, true, {"native_queued_spin_lock_slowpath", "spin_on"},
                          stack_of(spinner) + 0x3f00, r3);
  snap.tasks = {view(spinner, 114, "spin/3", 'R', 3, {"native_queued_spin_lock_slowpath", "spin_on"}, 0x3f00)};
  HangReport r = report(snap);
  ASSERT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  const WaitNode& root = r.graph.nodes()[*r.verdict.root_cause];
  EXPECT_EQ(root.kind, NodeKind::Spinlock);
  EXPECT_EQ(root.symbol, "lost_lock");
  EXPECT_TRUE(root.holder_unknown);
  EXPECT_NE(root.label.find("(holder unknown)"), std::string::npos) << root.label;
  EXPECT_EQ(r.verdict.confidence, Confidence::Inferred);
  EXPECT_NE(render_hang_json(r).find("\"holder_unknown\": true"), std::string::npos);
  // The lock's address not recovered at all: still STUCK, at an unnamed lock.
  t_.write_u32(lock, 0);
  HangReport nameless = report(snap);
  ASSERT_EQ(nameless.verdict.verdict, Verdict::Stuck) << nameless.verdict.reason;
  EXPECT_EQ(nameless.graph.nodes()[*nameless.verdict.root_cause].id, "spinlock:unknown@cpu:3");
  // IRQs on: the spinner may be one of many contending briefly.
  t_.write_u32(lock, 1);
  snap.cpus[3].regs->regs[CpuRegisters::eflags] = 0x246;
  EXPECT_EQ(report(snap).verdict.verdict, Verdict::None);
}

// Two CPUs both look like the holder of the lock CPU 3 spins on, and each waits for an
// xcall CPU 3 must run: a cycle through either, but never a confirmed one.
TEST_F(HangTest, TwoHolderCandidatesNeverMakeAConfirmedCycle) {
  uint64_t t1 = k_.add_task(61, "h1", FakeKernel::kRunning, 1);
  uint64_t t2 = k_.add_task(62, "h2", FakeKernel::kRunning, 2);
  uint64_t t3 = k_.add_task(63, "spin", FakeKernel::kRunning, 3);
  k_.set_curr(1, t1);
  k_.set_curr(2, t2);
  k_.set_curr(3, t3);
  uint64_t lock = t_.add_global("two_lock", 4);
  t_.write_u32(lock, 1);
  csd_on_stack(t1, 3, "remote_func");
  csd_on_stack(t2, 3, "remote_func");
  std::vector<std::string> wait = {"smp_call_function_single", "hold_and_call"};
  HangSnapshot snap;
  snap.cpus = {cpu_view(1, t1, true, wait, stack_of(t1) + 0x3d00), cpu_view(2, t2, true, wait, stack_of(t2) + 0x3d00),
               cpu_view(3, t3, true, {"native_queued_spin_lock_slowpath", "spin_on"}, stack_of(t3) + 0x3f00)};
  snap.tasks = {view(t1, 61, "h1", 'R', 1, wait, 0x3d00), view(t2, 62, "h2", 'R', 2, wait, 0x3d00),
                view(t3, 63, "spin", 'R', 3, {"native_queued_spin_lock_slowpath"}, 0x3f00)};
  std::vector<CpuActivity> act(3);
  for (int i = 0; i < 2; ++i) {
    act[i].cpu = i + 1;
    act[i].doing = CpuDoing::XcallWait;
    act[i].irqs_off = true;
    act[i].where = "smp_call_function_single";
  }
  act[2].cpu = 3;
  act[2].doing = CpuDoing::SpinlockWait;
  act[2].irqs_off = true;
  act[2].lock = lock;
  act[2].lock_symbol = "two_lock";
  act[2].lock_evidence = "rdi points at a locked lock word";
  act[2].holders = {HolderCandidate{1, "cpu 1 keeps the address", HolderBasis::StackWord, ""},
                     HolderCandidate{2, "cpu 2 keeps the address", HolderBasis::StackWord, ""}};
  auto x = scan_xcalls(t_, fields_, snap);
  auto l = scan_sleeping_locks(t_, fields_, snap);
  HangReport r = build_hang_report(snap, x, l, act);
  ASSERT_EQ(r.verdict.verdict, Verdict::Deadlock) << r.verdict.reason;
  EXPECT_EQ(r.verdict.confidence, Confidence::Inferred);
  EXPECT_EQ(verdict_text(r.verdict), "DEADLOCK (inferred)");
  ASSERT_FALSE(r.verdict.inferred_edges.empty());
  char id[40];
  std::snprintf(id, sizeof id, "spinlock:0x%llx", static_cast<unsigned long long>(lock));
  EXPECT_NE(node(r, id)->label.find("ambiguous holder: CPU 1, CPU 2"), std::string::npos) << node(r, id)->label;
  EXPECT_NE(r.verdict.reason.find("owned_by"), std::string::npos) << r.verdict.reason;
}

// smp_call_function_single(wait=0) leaves CPU 1's csd_data locked while CPU 3 (IRQs off)
// has not run it; CPU 1's next call spins in csd_lock() on it: cpu:1 -> xcall -> cpu:3.
TEST_F(HangTest, ACpuInCsdLockBehindItsLockedAsyncCsdWaitsForIt) {
  uint64_t sender = k_.add_task(70, "sender", FakeKernel::kRunning, 1);
  uint64_t spinner = k_.add_task(71, "spin/3", FakeKernel::kRunning, 3);
  k_.set_curr(1, sender);
  k_.set_curr(3, spinner);
  k_.define_per_cpu("csd_data", 0x20);
  uint64_t slot = k_.per_cpu_addr(1, "csd_data");
  uint64_t queue = k_.per_cpu_addr(3, "call_single_queue");
  t_.set(slot, "__call_single_data", "node.llist", t_.peek_u64(queue));
  t_.set(slot, "__call_single_data", "node.u_flags", kCsdFlagLock | kCsdTypeAsync);
  t_.set(slot, "__call_single_data", "func", fn_["remote_func"]);
  t_.write_u64(queue, slot);
  std::vector<std::string> fr = {"smp_call_function_single", "caller_fn"};
  HangSnapshot snap;
  snap.cpus = {cpu_view(1, sender, false, fr, stack_of(sender) + 0x3d00),
               cpu_view(3, spinner, true, {"spin_fn"}, stack_of(spinner) + 0x3f00)};
  snap.tasks = {view(sender, 70, "sender", 'R', 1, fr, 0x3d00), view(spinner, 71, "spin/3", 'R', 3, {"spin_fn"}, 0x3f00)};
  HangReport r = report(snap);
  ASSERT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  std::vector<std::string> chain;
  for (size_t i : r.verdict.chain) chain.push_back(r.graph.nodes()[i].id);
  char xid[40];
  std::snprintf(xid, sizeof xid, "xcall:0x%llx", static_cast<unsigned long long>(slot));
  EXPECT_EQ(chain, (std::vector<std::string>{"cpu:1", xid, "cpu:3"}));
  auto e = r.graph.strongest_edge(*r.graph.find("cpu:1"), *r.graph.find(xid));
  ASSERT_TRUE(e);
  EXPECT_TRUE(r.graph.edges()[*e].inferred());
  EXPECT_NE(r.graph.edges()[*e].evidence.find("csd_lock"), std::string::npos) << r.graph.edges()[*e].evidence;
}

// "Unknown" is an answer: without registers or a task list there is no NONE to claim.
// A cycle of kernel state found without them still stands.
TEST_F(HangTest, MissingRegistersOrTaskListGiveUnknown) {
  HangSnapshot snap = idle_cpus();
  for (auto& c : snap.cpus) c.regs.reset();
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::Unknown) << r.verdict.reason;
  EXPECT_TRUE(r.partial);
  EXPECT_NE(r.verdict.reason.find("no CPU's saved registers"), std::string::npos) << r.verdict.reason;
  HangSnapshot no_tasks = idle_cpus();
  no_tasks.task_list_read = false;
  HangReport t = report(no_tasks);
  EXPECT_EQ(t.verdict.verdict, Verdict::Unknown);
  EXPECT_NE(t.verdict.reason.find("no task list"), std::string::npos) << t.verdict.reason;
  // ABBA from owner fields and wait lists needs no registers.
  uint64_t ta = k_.add_task(100, "abba1", FakeKernel::kUninterruptible);
  uint64_t tb = k_.add_task(101, "abba2", FakeKernel::kUninterruptible);
  uint64_t ma = k_.add_mutex("u_lock_a", ta, kMutexFlagWaiters);
  uint64_t mb = k_.add_mutex("u_lock_b", tb, kMutexFlagWaiters);
  block_on_mutex(ta, mb);
  block_on_mutex(tb, ma);
  std::vector<std::string> fr = {"__schedule", "schedule", "__mutex_lock", "worker_a"};
  snap.tasks = {view(ta, 100, "abba1", 'D', -1, fr), view(tb, 101, "abba2", 'D', -1, fr)};
  HangReport d = report(snap);
  EXPECT_EQ(d.verdict.verdict, Verdict::Deadlock);
  EXPECT_EQ(d.verdict.confidence, Confidence::Confirmed);
  EXPECT_TRUE(d.partial);
}

// A dump often lands while the waiting CPU handles a timer interrupt: the handler runs
// with IF clear, but the interrupted csd wait had interrupts on.
TEST_F(HangTest, WaiterInsideATimerInterruptStillWaits) {
  uint64_t waiter = k_.add_task(113, "xcall/2", FakeKernel::kRunning, 2);
  uint64_t spinner = k_.add_task(112, "spin/3", FakeKernel::kRunning, 3);
  csd_on_stack(waiter, 3, "remote_func");
  std::vector<std::string> fr = {"read_hpet", "hrtimer_interrupt", "asm_sysvec_apic_timer_interrupt",
                                 "smp_call_function_single", "caller_fn"};
  HangSnapshot snap;
  snap.cpus = {cpu_view(2, waiter, true, fr, stack_of(waiter) + 0x3d00),
               cpu_view(3, spinner, true, {"read_hpet", "spin_fn"}, stack_of(spinner) + 0x3f00)};
  snap.tasks = {view(waiter, 113, "xcall/2", 'R', 2, fr, 0x3d00), view(spinner, 112, "spin/3", 'R', 3, {"spin_fn"}, 0x3f00)};
  auto act = classify_cpus(t_, snap);
  EXPECT_EQ(act[0].doing, CpuDoing::XcallWait);
  EXPECT_EQ(act[0].irqs_off, false);
  EXPECT_EQ(act[0].interrupted_by, "read_hpet");
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::Stuck);
  ASSERT_EQ(r.verdict.chain.size(), 3u);
  EXPECT_EQ(r.graph.nodes()[r.verdict.chain[0]].id, "cpu:2");
  // The clock helper a sample lands in does not change the bug's signature.
  snap.cpus[1].frames.erase(snap.cpus[1].frames.begin());
  snap.cpus[0].frames.erase(snap.cpus[0].frames.begin(), snap.cpus[0].frames.begin() + 3);
  snap.cpus[0].regs->regs[CpuRegisters::eflags] = 0x246;
  HangReport r2 = report(snap);
  EXPECT_EQ(r2.signature, r.signature);
}

// A QEMU dump can catch the waiting CPU inside an NMI (an RCU-stall backtrace printing):
// it still waits in the xcall it interrupted; whether that context had IRQs off is unknown.
TEST_F(HangTest, WaiterInsideAnNmiStillWaits) {
  uint64_t waiter = k_.add_task(113, "xcall/2", FakeKernel::kRunning, 2);
  uint64_t spinner = k_.add_task(112, "spin/3", FakeKernel::kRunning, 3);
  csd_on_stack(waiter, 3, "remote_func");
  std::vector<std::string> fr = {"vprintk_store", "nmi_cpu_backtrace", "default_do_nmi", "exc_nmi",
                                 "end_repeat_nmi", "__smp_call_function_single", "caller_fn"};
  HangSnapshot snap;
  snap.cpus = {cpu_view(2, waiter, true, fr, stack_of(waiter) + 0x3d00),
               cpu_view(3, spinner, true, {"read_hpet", "spin_fn"}, stack_of(spinner) + 0x3f00)};
  snap.tasks = {view(waiter, 113, "xcall/2", 'R', 2, fr, 0x3d00), view(spinner, 112, "spin/3", 'R', 3, {"spin_fn"}, 0x3f00)};
  auto act = classify_cpus(t_, snap);
  EXPECT_EQ(act[0].doing, CpuDoing::XcallWait);
  EXPECT_FALSE(act[0].irqs_off.has_value());
  EXPECT_EQ(act[0].interrupted_by, "vprintk_store");
  HangReport r = report(snap);
  ASSERT_FALSE(r.verdict.chain.empty());
  EXPECT_EQ(r.graph.nodes()[r.verdict.chain[0]].id, "cpu:2");
  EXPECT_EQ(r.graph.nodes()[r.verdict.chain.back()].id, "cpu:3");
  // The same wait sampled outside the NMI is the same bug.
  snap.cpus[0].frames.erase(snap.cpus[0].frames.begin(), snap.cpus[0].frames.begin() + 5);
  EXPECT_EQ(report(snap).signature, r.signature);
}

TEST_F(HangTest, MixedCycleNamesBothCpusTheCsdAndTheLock) {
  uint64_t holder = k_.add_task(113, "mixh/2", FakeKernel::kRunning, 2);
  uint64_t spinner = k_.add_task(114, "mixs/3", FakeKernel::kRunning, 3);
  k_.set_curr(2, holder);
  k_.set_curr(3, spinner);
  uint64_t lock = t_.add_global("my_lock", 4);
  t_.write_u32(lock, 1);  // qspinlock locked byte
  csd_on_stack(holder, 3, "remote_func");
  CpuRegisters r2{}, r3{};
  r2.regs[CpuRegisters::rbp] = lock;  // the holder keeps its lock pointer in a callee-saved register
  r3.regs[CpuRegisters::rdi] = lock;  // the slowpath's first argument
  HangSnapshot snap;
  snap.cpus = {cpu_view(2, holder, true, {"smp_call_function_single", "hold_and_call"}, stack_of(holder) + 0x3d00, r2),
               cpu_view(3, spinner, true, {"native_queued_spin_lock_slowpath", "spin_on"}, stack_of(spinner) + 0x3f00,
                        r3)};
  snap.tasks = {view(holder, 113, "mixh/2", 'R', 2, {"smp_call_function_single"}, 0x3d00),
                view(spinner, 114, "mixs/3", 'R', 3, {"native_queued_spin_lock_slowpath"}, 0x3f00)};

  auto act = classify_cpus(t_, snap);
  ASSERT_EQ(act.size(), 2u);
  EXPECT_EQ(act[1].doing, CpuDoing::SpinlockWait);
  EXPECT_EQ(act[1].lock, lock);
  EXPECT_EQ(act[1].lock_symbol, "my_lock");
  ASSERT_EQ(act[1].holders.size(), 1u);
  EXPECT_EQ(act[1].holders[0].cpu, 2);
  EXPECT_NE(act[1].holders[0].evidence.find("rbp"), std::string::npos);

  HangReport r = report(snap);
  ASSERT_EQ(r.verdict.verdict, Verdict::Deadlock);
  auto ids = cycle_ids(r);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[0], "cpu:2");
  EXPECT_EQ(ids[1].rfind("xcall:", 0), 0u);
  EXPECT_EQ(ids[2], "cpu:3");
  EXPECT_EQ(ids[3].rfind("spinlock:", 0), 0u);
  EXPECT_EQ(node(r, ids[3])->symbol, "my_lock");
  EXPECT_EQ(node(r, ids[1])->func, "remote_func");
  // The spinlock's holder is inferred, and says so.
  bool inferred = false;
  for (const auto& e : r.graph.edges())
    if (e.kind == EdgeKind::OwnedBy && e.inferred()) inferred = true;
  EXPECT_TRUE(inferred);
}

TEST_F(HangTest, RwsemWriterOwnerAndWaiter) {
  // 6.1 layouts: struct rw_semaphore {count; owner; osq; wait_lock; wait_list}.
  t_.add_struct("rw_semaphore", 0x28, {{"count", 0x0, 8}, {"count.counter", 0x0, 8}, {"owner", 0x8, 8},
                                       {"owner.counter", 0x8, 8}, {"wait_lock", 0x14, 4},
                                       {"wait_list", 0x18, 16, "struct list_head"}});
  t_.add_struct("rwsem_waiter", 0x30, {{"list", 0x0, 16}, {"task", 0x10, 8}, {"type", 0x18, 4}});
  uint64_t owner = k_.add_task(300, "writer", FakeKernel::kUninterruptible);
  uint64_t w = k_.add_task(301, "reader", FakeKernel::kUninterruptible);
  uint64_t sem = t_.add_global("my_sem", 0x28);
  t_.set(sem, "rw_semaphore", "count", kRwsemWriterLocked | kRwsemFlagWaiters);
  t_.set(sem, "rw_semaphore", "owner", owner);
  k_.list_init(sem + 0x18);
  uint64_t stack = stack_of(w);
  t_.set(stack + 0x3d00, "rwsem_waiter", "task", w);
  k_.list_add_tail(stack + 0x3d00, sem + 0x18);
  t_.write_u64(stack + 0x3c80, sem);
  HangSnapshot snap = idle_cpus();
  snap.tasks = {view(owner, 300, "writer", 'D', -1, {"__schedule", "schedule", "do_nanosleep"}),
                view(w, 301, "reader", 'D', -1, {"__schedule", "schedule", "rwsem_down_read_slowpath", "worker_b"})};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  ASSERT_EQ(locks.blocked.size(), 1u);
  const SleepingLock* l = locks.lock_at(sem);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->kind, SleepingLockKind::Rwsem);
  EXPECT_EQ(l->symbol, "my_sem");
  EXPECT_TRUE(l->writer_locked);
  EXPECT_EQ(l->owner_task, owner);
  EXPECT_EQ(l->readers, 0);
  EXPECT_EQ(l->flags, "WRITER_LOCKED|WAITERS");
  EXPECT_EQ(l->waiters, (std::vector<uint64_t>{w}));
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::None);  // the writer sleeps elsewhere: a chain, no cycle
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "task:300");
}

// The rwstale scenario (tests/vm/scenarios/kstuck_scenario_rwstale.c) in fake memory: a
// heap dev {rw_semaphore sem at 0; mutex gate at 0x28}. The holder (pid 400) took a read
// lock and sleeps; the reader (pid 401) took and released one (owner still names it)
// and waits for the gate; the writer (pid 402) holds the gate and waits in down_write.
class RwstaleTest : public HangTest {
 protected:
  static constexpr uint64_t kLockText = 0xffffffff81100000ULL;  // past HangTest's kText, below the FakeTarget globals
  void SetUp() override {
    t_.add_struct("rw_semaphore", 0x28, {{"count", 0x0, 8}, {"count.counter", 0x0, 8}, {"owner", 0x8, 8},
                                         {"owner.counter", 0x8, 8}, {"wait_lock", 0x14, 4},
                                         {"wait_list", 0x18, 16, "struct list_head"}});
    t_.add_struct("rwsem_waiter", 0x30, {{"list", 0x0, 16}, {"task", 0x10, 8}, {"type", 0x18, 4}});
    t_.map(kLockText, 0x1000);
    std::vector<uint8_t> int3(0x1000, 0xcc);
    t_.write(kLockText, int3.data(), int3.size());
    const char* api[] = {"down_read", "up_read", "down_write", "up_write", "mutex_lock", "mutex_unlock", "wait_for_completion"};
    for (size_t i = 0; i < std::size(api); ++i) {
      t_.add_symbol(api[i], kLockText + 0x40 * i, 0x40);
      api_[api[i]] = kLockText + 0x40 * i;
    }
    holder_ = k_.add_task(400, "kstuck_rwsh", FakeKernel::kUninterruptible, 1);
    reader_ = k_.add_task(401, "kstuck_rwsr", FakeKernel::kUninterruptible, 1);
    writer_ = k_.add_task(402, "kstuck_rwsw", FakeKernel::kUninterruptible, 1);
    dev_ = t_.alloc(0x80);
    sem_ = dev_;
    gate_ = dev_ + 0x28;
    t_.set(sem_, "rw_semaphore", "count", (uint64_t{1} << kRwsemReaderShift) | kRwsemFlagWaiters);
    t_.set(sem_, "rw_semaphore", "owner", reader_ | kRwsemReaderOwned);
    k_.list_init(sem_ + 0x18);
    uint64_t ws = stack_of(writer_);
    t_.set(ws + 0x3d00, "rwsem_waiter", "task", writer_);
    k_.list_add_tail(ws + 0x3d00, sem_ + 0x18);
    t_.write_u64(ws + 0x3c80, sem_);
    t_.set(gate_, "mutex", "owner", writer_ | kMutexFlagWaiters);
    k_.list_init(t_.addr_of(gate_, "mutex", "wait_list"));
    block_on_mutex(reader_, gate_);
    // Each task's switch frame keeps dev in bx, as the scenario's functions keep it in rbx.
    for (uint64_t t : {holder_, reader_, writer_}) t_.set(stack_of(t) + 0x3c00, "inactive_task_frame", "bx", dev_);

    test::CodeBuilder h(0xffffffffc0001000);
    h.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(api_["down_read"])
        .lea(Gpr::rdi, Gpr::rbx, 0x48).call(api_["wait_for_completion"]);
    holder_ra_ = h.here();
    h.mov(Gpr::rdi, Gpr::rbx).call(api_["up_read"]).pop(Gpr::rbx).ret();
    install(h, "kstuck_rwstale_holder");
    test::CodeBuilder r(0xffffffffc0002000);
    r.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(api_["down_read"]).mov(Gpr::rdi, Gpr::rbx)
        .call(api_["up_read"]).lea(Gpr::rdi, Gpr::rbx, 0x28).call(api_["mutex_lock"]);
    reader_ra_ = r.here();
    r.lea(Gpr::rdi, Gpr::rbx, 0x28).call(api_["mutex_unlock"]).pop(Gpr::rbx).ret();
    install(r, "kstuck_rwstale_reader");
  }

  void install(const test::CodeBuilder& b, const std::string& name) {
    t_.map(b.start(), 0x100);
    std::vector<uint8_t> pad(0x100, 0xcc);
    std::copy(b.bytes().begin(), b.bytes().end(), pad.begin());
    t_.write(b.start(), pad.data(), pad.size());
    t_.add_symbol(name, b.start(), 0x100, "kstuck_scenario_rwstale");
  }

  HangSnapshot snapshot(std::vector<StackFrame> reader_frames = {}) {
    HangSnapshot snap = idle_cpus();
    TaskView hv = view(holder_, 400, "kstuck_rwsh", 'D', -1, {"__schedule"});
    hv.frames.push_back({holder_ra_, 0, "kstuck_rwstale_holder", "kstuck_scenario_rwstale"});
    TaskView rv = view(reader_, 401, "kstuck_rwsr", 'D', -1, {"__schedule", "schedule", "__mutex_lock"});
    if (reader_frames.empty())
      rv.frames.push_back({reader_ra_, 0, "kstuck_rwstale_reader", "kstuck_scenario_rwstale"});
    else
      rv.frames = reader_frames;
    TaskView wv = view(writer_, 402, "kstuck_rwsw", 'D', -1, {"__schedule", "schedule", "rwsem_down_write_slowpath"});
    snap.tasks = {hv, rv, wv};
    return snap;
  }

  const WaitEdge* edge(const HangReport& r, const std::string& from, const std::string& to, EdgeKind kind) {
    for (const auto& e : r.graph.edges())
      if (r.graph.nodes()[e.from].id == from && r.graph.nodes()[e.to].id == to && e.kind == kind) return &e;
    return nullptr;
  }

  std::string notes_of(const HangReport& r, const std::string& id) {
    std::string all;
    if (const WaitNode* n = node(r, id))
      for (const auto& s : n->notes) all += s + "\n";
    return all;
  }

  std::map<std::string, uint64_t> api_;
  uint64_t holder_ = 0, reader_ = 0, writer_ = 0, dev_ = 0, sem_ = 0, gate_ = 0, holder_ra_ = 0, reader_ra_ = 0;
};

TEST_F(RwstaleTest, TheReadHolderFromCodeEndsTheChainAndTheStaleReaderIsNoOwner) {
  HangSnapshot snap = snapshot();
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  const SleepingLock* l = locks.lock_at(sem_);
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->owner_is_reader_hint);
  EXPECT_FALSE(l->owner_edge);  // the reader's own code released it
  ASSERT_EQ(l->code_readers.size(), 1u);
  EXPECT_EQ(l->code_readers[0].task, holder_);
  HangReport r = report(snap);
  const std::string sem_id = "rwsem:" + [&] {
    char b[24];
    std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(sem_));
    return std::string(b);
  }();
  EXPECT_NE(r.verdict.verdict, Verdict::Deadlock) << r.verdict.reason;
  EXPECT_TRUE(r.verdict.cycle.empty());
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "task:400");
  std::vector<std::string> chain;
  for (size_t i : r.verdict.chain) chain.push_back(r.graph.nodes()[i].id);
  ASSERT_EQ(chain.size(), 5u);
  EXPECT_EQ(chain[0], "task:401");
  EXPECT_EQ(chain[2], "task:402");
  EXPECT_EQ(chain[3], sem_id);
  // The holder's edge: inferred, with the code's evidence.
  const WaitEdge* owned = edge(r, sem_id, "task:400", EdgeKind::OwnedBy);
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(owned->confidence, Confidence::Inferred);
  EXPECT_NE(owned->evidence.find("down_read(0x"), std::string::npos) << owned->evidence;
  EXPECT_NE(owned->evidence.find("at kstuck_rwstale_holder+0x"), std::string::npos) << owned->evidence;
  EXPECT_NE(owned->evidence.find("no up_read before the return address"), std::string::npos) << owned->evidence;
  EXPECT_NE(owned->evidence.find("inactive_task_frame.bx"), std::string::npos) << owned->evidence;
  // No edge to the stale reader; the lock says why.
  EXPECT_EQ(edge(r, sem_id, "task:401", EdgeKind::OwnedBy), nullptr);
  std::string notes = notes_of(r, sem_id);
  EXPECT_NE(notes.find("owner field names pid 401 as a reader, but it is no owner: its code released it"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("up_read at kstuck_rwstale_reader+0x"), std::string::npos) << notes;
}

TEST_F(RwstaleTest, AStaleReaderWhoseCodeCannotBeReadStaysAnInferredHint) {
  // The reader's outer frame has no symbol: its code cannot say it released the lock.
  TaskView probe = view(reader_, 401, "kstuck_rwsr", 'D', -1, {"__schedule", "schedule", "__mutex_lock"});
  probe.frames.push_back({0xffffffffc0ff0010, 0, "?", ""});
  HangReport r = report(snapshot(probe.frames));
  EXPECT_EQ(r.verdict.verdict, Verdict::Deadlock);
  EXPECT_EQ(r.verdict.confidence, Confidence::Inferred);  // never confirmed through the hint
  ASSERT_FALSE(r.verdict.inferred_edges.empty());
  bool hint = false;
  for (size_t e : r.verdict.inferred_edges) hint = hint || r.graph.nodes()[r.graph.edges()[e].to].id == "task:401";
  EXPECT_TRUE(hint);
  std::string notes;
  for (const auto& n : r.graph.nodes())
    if (n.kind == NodeKind::Rwsem)
      for (const auto& s : n.notes) notes += s;
  EXPECT_NE(notes.find("stays a hint: its code could not be read in full"), std::string::npos) << notes;
}

TEST_F(RwstaleTest, AnOwnerHintWhoseCodeMaybeReleasedItStaysBesideTheHolder) {
  // down_read; if (err) { up_read; goto out; } mutex_lock(&dev->gate) <- asleep; out:
  // the up_read is on a path that jumps away, so the scan cannot say it was released.
  // (An early exit that pops rbx before the pc would make rbx unknown instead.)
  test::CodeBuilder m(0xffffffffc0003000);
  m.push(Gpr::rbx).mov(Gpr::rbx, Gpr::rdi).mov(Gpr::rdi, Gpr::rbx).call(api_["down_read"]).test_eax().jne8(10);
  m.mov(Gpr::rdi, Gpr::rbx).call(api_["up_read"]).raw({0xeb, 9});  // 3 + 5 + 2 = 10 bytes; jmp out
  m.lea(Gpr::rdi, Gpr::rbx, 0x28).call(api_["mutex_lock"]);    // 4 + 5 = 9 bytes
  uint64_t ra = m.here();
  m.pop(Gpr::rbx).ret();
  install(m, "kstuck_rwstale_reader_maybe");
  TaskView probe = view(reader_, 401, "kstuck_rwsr", 'D', -1, {"__schedule", "schedule", "__mutex_lock"});
  probe.frames.push_back({ra, 0, "kstuck_rwstale_reader_maybe", "kstuck_scenario_rwstale"});
  HangReport r = report(snapshot(probe.frames));
  std::string sem_id;
  for (const auto& n : r.graph.nodes())
    if (n.kind == NodeKind::Rwsem) sem_id = n.id;
  ASSERT_NE(edge(r, sem_id, "task:400", EdgeKind::OwnedBy), nullptr);  // the holder, from code
  const WaitEdge* hint = edge(r, sem_id, "task:401", EdgeKind::OwnedBy);
  ASSERT_NE(hint, nullptr);  // the hint stays: the reader may still hold it
  EXPECT_EQ(hint->confidence, Confidence::Inferred);
  EXPECT_EQ(r.verdict.confidence, Confidence::Inferred);
  std::string notes = notes_of(r, sem_id);
  EXPECT_NE(notes.find("stays a hint: its code took it and maybe released it"), std::string::npos) << notes;
  EXPECT_NE(notes.find("on a path that leaves before the pc"), std::string::npos) << notes;
}

TEST_F(RwstaleTest, AnOwnerHintWhoseEveryFrameHoldsNothingIsDropped) {
  // The reader's frames: only functions with no lock calls, every one read.
  TaskView probe = view(reader_, 401, "kstuck_rwsr", 'D', -1, {"__schedule", "schedule", "__mutex_lock", "worker_b"});
  HangReport r = report(snapshot(probe.frames));
  EXPECT_NE(r.verdict.verdict, Verdict::Deadlock) << r.verdict.reason;
  std::string notes;
  for (const auto& n : r.graph.nodes())
    if (n.kind == NodeKind::Rwsem)
      for (const auto& s : n.notes) notes += s;
  EXPECT_NE(notes.find("none of its 4 frames (every one read from code) holds a read lock on it"), std::string::npos)
      << notes;
}

// smp_call_function_many: the sender's cfd_data slot for CPU 3 stays locked while CPU 3
// has IRQs off; 6.1 reaches it as cfd_data.pcpu (struct cfd_percpu) + CPU 3's offset.
TEST_F(HangTest, LockedCfdDataSlotNamesSenderAndTarget) {
  t_.add_struct("call_function_data", 0x18, {{"pcpu", 0x0, 8}, {"cpumask", 0x8, 8}, {"cpumask_ipi", 0x10, 8}});
  t_.add_struct("cfd_percpu", 0x20, {{"csd", 0x0, 0x20}});
  k_.define_per_cpu("cfd_data", 0x18);
  // Each sender has its own percpu allocation of struct cfd_percpu.
  uint64_t area1 = k_.define_per_cpu("cfd_pcpu_of_cpu1", 0x20);
  uint64_t area3 = k_.define_per_cpu("cfd_pcpu_of_cpu3", 0x20);
  t_.set(k_.per_cpu_addr(1, "cfd_data"), "call_function_data", "pcpu", area1);
  t_.set(k_.per_cpu_addr(3, "cfd_data"), "call_function_data", "pcpu", area3);
  uint64_t slot = k_.per_cpu_addr(3, "cfd_pcpu_of_cpu1");  // sender CPU 1's slot for target CPU 3
  t_.set(slot, "__call_single_data", "node.u_flags", kCsdFlagLock | kCsdTypeSync);
  t_.set(slot, "__call_single_data", "func", fn_["remote_func"]);
  uint64_t sender = k_.add_task(40, "sender", FakeKernel::kRunning, 1);
  uint64_t spinner = k_.add_task(41, "spin", FakeKernel::kRunning, 3);
  HangSnapshot snap;
  snap.cpus = {cpu_view(1, sender, false, {"smp_call_function_many_cond", "caller_fn"}, stack_of(sender) + 0x3d00),
               cpu_view(3, spinner, true, {"spin_fn"}, stack_of(spinner) + 0x3f00)};
  snap.tasks = {view(sender, 40, "sender", 'R', 1, {"smp_call_function_many_cond"}, 0x3d00),
                view(spinner, 41, "spin", 'R', 3, {"spin_fn"}, 0x3f00)};
  auto x = scan_xcalls(t_, fields_, snap);
  ASSERT_EQ(x.entries.size(), 1u);
  EXPECT_EQ(x.entries[0].address, slot);
  EXPECT_EQ(x.entries[0].sender_cpu, 1);
  EXPECT_EQ(x.entries[0].target_cpu, 3);
  EXPECT_FALSE(x.entries[0].queued);
  EXPECT_EQ(x.entries[0].source, "cfd_data");
  EXPECT_EQ(x.entries[0].func, "remote_func");
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::Stuck);
  EXPECT_EQ(r.verdict.chain.size(), 3u);
  EXPECT_EQ(r.graph.nodes()[r.verdict.chain.front()].id, "cpu:1");
}

// The starve scenario: the mutex owner was woken on CPU 3, which then spun with IRQs
// off; the owner is queued there (R, on_rq) but never runs, and a waiter sleeps on the mutex.
TEST_F(HangTest, MutexOwnerRunnableBehindIrqsOffCpuIsStuckAtThatCpu) {
  OwnerBehindCpu3 s = owner_behind_cpu3(120, FakeKernel::kRunning, "starve_mutex");
  uint64_t m = s.mutex;
  s.owner_view.on_rq = true;
  s.owner_view.since_ran_ns = 1'500'000'000;
  s.owner_view.queued_ns = 1'200'000'000;

  HangReport r = report(s.snapshot());
  ASSERT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:3");
  char mid[32];
  std::snprintf(mid, sizeof mid, "mutex:0x%llx", static_cast<unsigned long long>(m));
  std::vector<std::string> chain;
  for (size_t i : r.verdict.chain) chain.push_back(r.graph.nodes()[i].id);
  EXPECT_EQ(chain, (std::vector<std::string>{"task:122", mid, "task:120", "cpu:3"}));
  const WaitNode* on = node(r, "task:120");
  ASSERT_NE(on, nullptr);
  EXPECT_EQ(on->runnable_on, 3);
  EXPECT_EQ(on->queued_ns, 1'200'000'000u);
  std::string evidence;
  for (const auto& e : r.graph.edges())
    if (r.graph.nodes()[e.from].id == "task:120" && r.graph.nodes()[e.to].id == "cpu:3") evidence = e.evidence;
  EXPECT_EQ(evidence, "runnable on CPU 3's runqueue, not running for 1.5 s (queued 1.2 s ago)");
}

// The mutex owner was woken from CPU 2 just as CPU 3, its CPU, turned interrupts off:
// the wakeup sits as a TTWU entry on CPU 3's call_single_queue, so the owner is on no
// runqueue (TASK_WAKING) and the waiter waits through it for CPU 3.
TEST_F(HangTest, OwnerWhoseWakeupIsQueuedOnAnIrqsOffCpuWaitsForThatCpu) {
  OwnerBehindCpu3 s = owner_behind_cpu3(130, 0x200 /* TASK_WAKING */, "wake_mutex");
  uint64_t m = s.mutex;
  uint64_t wake = k_.queue_ttwu(3, s.owner);

  HangReport r = report(s.snapshot());
  ASSERT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:3");
  char mid[32], xid[40];
  std::snprintf(mid, sizeof mid, "mutex:0x%llx", static_cast<unsigned long long>(m));
  std::snprintf(xid, sizeof xid, "xcall:0x%llx", static_cast<unsigned long long>(wake));
  std::vector<std::string> chain;
  for (size_t i : r.verdict.chain) chain.push_back(r.graph.nodes()[i].id);
  EXPECT_EQ(chain, (std::vector<std::string>{"task:132", mid, "task:130", xid, "cpu:3"}));
  const WaitNode* x = node(r, xid);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->xcall_type, "TTWU");
  EXPECT_EQ(x->func, "wake up pid 130");
  std::string evidence;
  for (const auto& e : r.graph.edges())
    if (r.graph.nodes()[e.from].id == "task:130" && r.graph.nodes()[e.to].id == xid) evidence = e.evidence;
  EXPECT_EQ(evidence, "its wakeup is a TTWU entry on CPU 3's call_single_queue");

  // Nobody waits on a task whose wakeup is merely pending: no edge from it.
  HangSnapshot alone = idle_cpus();
  uint64_t sleeper = k_.add_task(133, "woken", 0x200, 1);
  k_.queue_ttwu(1, sleeper);
  TaskView sv = view(sleeper, 133, "woken", 'R', -1, {"__schedule", "schedule", "do_nanosleep"});
  sv.cpu = 1;
  alone.tasks = {sv};
  HangReport quiet = report(alone);
  EXPECT_EQ(quiet.verdict.verdict, Verdict::None) << quiet.verdict.reason;
  for (const auto& e : quiet.graph.edges()) EXPECT_NE(quiet.graph.nodes()[e.from].id, "task:133");
}

// The VM scenario's shape: CPU 3 was idle when it took an async xcall whose function
// spins with IRQs off; the owner's wakeup, sent while CPU 3 ran nothing, waits as a
// TTWU entry behind it. The idle task serving an xcall is busy, not idle. The same CPU
// caught in a timer interrupt on its idle loop stays idle.
TEST_F(HangTest, IdleCpuStuckInAnXcallFunctionHoldsTheWakeupQueuedBehindIt) {
  uint64_t idle3 = k_.add_task(0, "swapper/3", FakeKernel::kRunning, 3);
  uint64_t owner = k_.add_task(140, "xowner", 0x200 /* TASK_WAKING */, 3);
  uint64_t waiter = k_.add_task(142, "xwait/2", FakeKernel::kUninterruptible, 2);
  k_.set_curr(3, idle3);
  uint64_t m = k_.add_mutex("xcall_wake_mutex", owner, kMutexFlagWaiters);
  block_on_mutex(waiter, m);
  uint64_t wake = k_.queue_ttwu(3, owner);
  auto snapshot = [&](std::vector<std::string> frames) {
    HangSnapshot snap;
    CpuView c3 = cpu_view(3, idle3, true, std::move(frames), stack_of(idle3) + 0x3f00);
    c3.idle = true;
    snap.cpus = {c3};
    TaskView o = view(owner, 140, "xowner", 'R', -1, {"__schedule", "schedule", "worker_a"});
    o.cpu = 3;
    TaskView w = view(waiter, 142, "xwait/2", 'D', -1, {"__schedule", "schedule", "__mutex_lock", "worker_b"});
    w.cpu = 2;
    snap.tasks = {o, w};
    return snap;
  };
  HangReport r = report(snapshot({"remote_func", "__flush_smp_call_function_queue", "__sysvec_call_function_single",
                                  "asm_sysvec_call_function_single", "native_safe_halt", "do_idle"}));
  ASSERT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:3");
  const WaitNode* c3 = node(r, "cpu:3");
  ASSERT_NE(c3, nullptr);
  EXPECT_FALSE(c3->idle);
  EXPECT_EQ(c3->irqs_off, true);
  EXPECT_NE(c3->label.find("in remote_func"), std::string::npos) << c3->label;
  char xid[40];
  std::snprintf(xid, sizeof xid, "xcall:0x%llx", static_cast<unsigned long long>(wake));
  EXPECT_EQ(r.graph.nodes()[r.verdict.chain.at(r.verdict.chain.size() - 2)].id, xid);

  HangReport tick = report(snapshot({"read_hpet", "ktime_get", "__sysvec_apic_timer_interrupt",
                                     "asm_sysvec_apic_timer_interrupt", "native_safe_halt", "do_idle"}));
  EXPECT_EQ(tick.verdict.verdict, Verdict::None) << tick.verdict.reason;
  EXPECT_TRUE(node(tick, "cpu:3")->idle);
}

// A CPU busy with another task, interrupts on (a SCHED_FIFO hog, a kernel loop that
// never reschedules), that has not run a queued task for 45 s: STUCK at that CPU.
TEST_F(HangTest, TaskStarvedOnABusyCpuIsStuckNamingTaskAndCpu) {
  uint64_t hog = k_.add_task(200, "hog", FakeKernel::kRunning, 1);
  uint64_t starved = k_.add_task(201, "starved", FakeKernel::kRunning, 1);
  k_.set_curr(1, hog);
  HangSnapshot snap;
  snap.cpus = {cpu_view(1, hog, false, {"spin_fn", "worker_a"}, stack_of(hog) + 0x3f00)};
  TaskView s = view(starved, 201, "starved", 'R', -1, {"__schedule", "schedule", "worker_b"});
  s.cpu = 1;
  s.on_rq = true;
  s.since_ran_ns = 46'000'000'000;
  s.queued_ns = 45'000'000'000;
  snap.tasks = {view(hog, 200, "hog", 'R', 1, {"spin_fn", "worker_a"}, 0x3f00), s};

  HangReport r = report(snap);
  ASSERT_EQ(r.verdict.verdict, Verdict::Stuck) << r.verdict.reason;
  ASSERT_TRUE(r.verdict.root_cause);
  EXPECT_EQ(r.graph.nodes()[*r.verdict.root_cause].id, "cpu:1");
  ASSERT_EQ(r.verdict.chain.size(), 2u);
  EXPECT_EQ(r.graph.nodes()[r.verdict.chain[0]].id, "task:201");
  EXPECT_NE(r.verdict.reason.find("cpu:1"), std::string::npos) << r.verdict.reason;
  EXPECT_NE(r.verdict.reason.find("pid 201 starved"), std::string::npos) << r.verdict.reason;
  EXPECT_NE(r.verdict.reason.find("45.0 s"), std::string::npos) << r.verdict.reason;
  EXPECT_NE(r.verdict.reason.find("while running pid 200 hog"), std::string::npos) << r.verdict.reason;
  EXPECT_EQ(node(r, "cpu:1")->starved_pid, 201);

  // The same wait under the threshold is ordinary load: no edge, no verdict.
  snap.tasks[1].queued_ns = 2'000'000'000;
  HangReport brief = report(snap);
  EXPECT_EQ(brief.verdict.verdict, Verdict::None);
  EXPECT_TRUE(brief.graph.edges().empty());
  // The threshold is an option.
  auto cpus = classify_cpus(t_, snap);
  auto x = scan_xcalls(t_, fields_, snap);
  auto l = scan_sleeping_locks(t_, fields_, snap);
  HangReport strict = build_hang_report(snap, x, l, cpus, HangOptions{1'000'000'000});
  EXPECT_EQ(strict.verdict.verdict, Verdict::Stuck);
}

// Idle CPUs and a task woken a moment ago after an hour's sleep: it last ran an hour
// ago, but it has waited on the runqueue for a millisecond. Nothing is stuck.
TEST_F(HangTest, JustWokenRunnableTaskOnAnIdleSystemIsNone) {
  HangSnapshot snap = idle_cpus();
  uint64_t woken = k_.add_task(300, "woken", FakeKernel::kRunning, 2);
  TaskView w = view(woken, 300, "woken", 'R', -1, {"__schedule", "schedule", "do_nanosleep"});
  w.cpu = 2;
  w.on_rq = true;
  w.since_ran_ns = 3600'000'000'000;
  w.queued_ns = 1'000'000;
  snap.tasks = {w};
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::None) << r.verdict.reason;
  EXPECT_TRUE(r.graph.edges().empty());
  EXPECT_TRUE(r.signature.empty());
}

TEST_F(HangTest, HealthyIdleSystemHasNoVerdictAndNoEdges) {
  std::vector<uint64_t> idle;
  HangSnapshot snap = idle_cpus();
  for (int pid = 1; pid < 20; ++pid) {
    uint64_t t = k_.add_task(pid, "sleeper", FakeKernel::kInterruptible);
    snap.tasks.push_back(view(t, pid, "sleeper", 'S', -1, {"__schedule", "schedule", "do_nanosleep"}));
  }
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::None);
  EXPECT_TRUE(r.graph.edges().empty());
  EXPECT_FALSE(r.partial);
  EXPECT_TRUE(r.signature.empty());
}

TEST_F(HangTest, CorruptCallSingleQueueCycleIsBoundedAndMarked) {
  uint64_t a = k_.queue_csd(1, fn_["remote_func"], 0);
  uint64_t b = k_.queue_csd(1, fn_["remote_func"], 0);  // b -> a
  t_.set(a, "__call_single_data", "node.llist", b);   // a -> b: a loop
  HangSnapshot snap;
  snap.cpus = {cpu_view(1, 0, false, {"do_nanosleep"}, 0)};
  uint64_t before = t_.read_count();
  auto x = scan_xcalls(t_, fields_, snap, 4096);
  EXPECT_LT(t_.read_count() - before, 200u);
  EXPECT_TRUE(x.partial);
  ASSERT_FALSE(x.warnings.empty());
  EXPECT_NE(x.warnings[0].find("cycle"), std::string::npos) << x.warnings[0];
  EXPECT_EQ(x.entries.size(), 2u);
  HangReport r = report(snap);
  EXPECT_TRUE(r.partial);
}

TEST_F(HangTest, WildPointersDegradeToAMarkedPartialResult) {
  // A queue whose second link points at nothing mapped.
  uint64_t a = k_.queue_csd(2, fn_["remote_func"], 0);
  t_.set(a, "__call_single_data", "node.llist", 0xffff888077770000ULL);
  // A blocked task whose waiter's list points into the void.
  uint64_t tw = k_.add_task(50, "victim", FakeKernel::kUninterruptible);
  uint64_t m = k_.add_mutex("lock_w", 0);
  block_on_mutex(tw, m);
  t_.write_u64(stack_of(tw) + 0x3d00, 0xffff888066660000ULL);  // waiter.list.next
  HangSnapshot snap;
  snap.cpus = {cpu_view(2, 0, false, {"do_nanosleep"}, 0)};
  snap.tasks = {view(tw, 50, "victim", 'D', -1, {"__schedule", "schedule", "__mutex_lock", "worker_a"})};
  HangReport r = report(snap);
  EXPECT_TRUE(r.partial);
  bool fault = false, lost = false;
  for (const auto& w : r.warnings) {
    fault = fault || w.find("call_single_queue") != std::string::npos;
    lost = lost || w.find("pid 50") != std::string::npos;
  }
  EXPECT_TRUE(fault);
  EXPECT_TRUE(lost);
  // What could be read is still there: the first csd, pending on CPU 2.
  EXPECT_EQ(r.verdict.verdict, Verdict::None);
  bool csd = false;
  for (const auto& n : r.graph.nodes()) csd = csd || (n.kind == NodeKind::Xcall && n.target_cpu == 2);
  EXPECT_TRUE(csd);
}

// The production path: snapshot_from_model over a FakeKernel. Task states come from the
// kernel model's decoder (TASK_WAKING is reported R, a FROZEN sleeper D, as the kernel's
// task_state_index() does); the clocks, timers and panic_cpu the verdict weighs are read.
TEST_F(HangTest, SnapshotFromModelTakesStatesClocksTimersAndPanicCpu) {
  uint64_t t = k_.add_task(77, "worker", FakeKernel::kRunning, 1);
  k_.set_curr(1, t);
  uint64_t waking = k_.add_task(79, "waking", 0x200 /* TASK_WAKING */, 2);
  uint64_t frozen = k_.add_task(80, "frozen", FakeKernel::kUninterruptible | 0x8000 /* TASK_FROZEN */, 2);
  CpuRegisters regs{};
  regs.regs[CpuRegisters::rip] = fn_["spin_fn"] + 4;
  regs.regs[CpuRegisters::rsp] = stack_of(t) + 0x3e00;
  regs.regs[CpuRegisters::eflags] = 0x46;
  for (int c = 0; c < 4; ++c) {
    regs.note_pid = c + 1;  // a QEMU dump's notes: one per vCPU, pid vCPU+1
    t_.set_registers(c, regs);
  }
  // A task queued behind it since 6 s that last ran at 4 s (clock_task lags clock).
  uint64_t queued = k_.add_task(78, "queued", FakeKernel::kRunning, 1);
  t_.set(queued, "task_struct", "on_rq", 1);
  t_.set(queued, "task_struct", "sched_info.last_queued", 6'000'000'000);
  t_.set(queued, "task_struct", "se.exec_start", 4'000'000'000);
  t_.set(k_.per_cpu_addr(1, "runqueues"), "rq", "clock", 10'000'000'000);
  t_.set(k_.per_cpu_addr(1, "runqueues"), "rq", "clock_task", 9'000'000'000);
  // CPU 1's earliest hrtimer expired at 3 s; jiffies were last updated at 9.5 s; CPU 2 panicked.
  uint64_t node = define_hrtimers(1, 3'000'000'000);
  ASSERT_NE(node, 0u);
  t_.write_u64(t_.add_global("last_jiffies_update", 8), 9'500'000'000);
  t_.write_u32(t_.add_global("panic_cpu", 4), 2);

  auto model = KernelModel::load(t_);
  ASSERT_TRUE(model) << model.error().describe();
  ModelSymbolTarget symbols(**model);
  HangSnapshot snap = snapshot_from_model(**model, symbols);
  const CpuView* c = snap.cpu(1);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->curr, t);
  ASSERT_TRUE(c->regs);
  EXPECT_EQ(c->clock, 10'000'000'000u);
  EXPECT_EQ(c->timer_expires, 3'000'000'000u);
  EXPECT_EQ(c->timer_source, "earliest CLOCK_MONOTONIC hrtimer");
  EXPECT_FALSE(snap.cpu(2)->timer_expires);  // nothing queued there
  EXPECT_EQ(snap.clock.now_mono, 9'500'000'000u);
  EXPECT_EQ(snap.clock.panic_cpu, 2);
  EXPECT_TRUE(snap.task_list_read);
  const TaskView* tv = snap.task_at(t);
  ASSERT_NE(tv, nullptr);
  EXPECT_EQ(tv->pid, 77);
  EXPECT_EQ(tv->on_cpu, 1);
  EXPECT_FALSE(tv->runnable_not_running());  // current: it has its CPU
  const TaskView* qv = snap.task_at(queued);
  ASSERT_NE(qv, nullptr);
  EXPECT_EQ(qv->cpu, 1);
  EXPECT_TRUE(qv->on_rq);
  EXPECT_TRUE(qv->runnable_not_running());
  EXPECT_EQ(qv->queued_ns, 4'000'000'000u);      // rq->clock 10 s - last_queued 6 s
  EXPECT_EQ(qv->since_ran_ns, 5'000'000'000u);   // rq->clock_task 9 s - exec_start 4 s
  ASSERT_NE(snap.task_at(waking), nullptr);
  EXPECT_EQ(snap.task_at(waking)->state_char, 'R');
  ASSERT_NE(snap.task_at(frozen), nullptr);
  EXPECT_EQ(snap.task_at(frozen)->state_char, 'D');
  for (const auto& task : snap.tasks) EXPECT_NE(task.state_char, '?') << task.pid;

  // The evidence drawn from it: CPU 1 took no timer interrupt for 6.5 s; CPU 2 is the witness.
  auto ev = cpu_evidence(snap);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1].cpu, 1);
  EXPECT_EQ(ev[1].stalled_ns, 6'500'000'000u);  // the others' rq clocks are unset: no lag to measure
  EXPECT_NE(ev[1].stall_evidence.find("expired 6.5 s before last_jiffies_update"), std::string::npos)
      << ev[1].stall_evidence;
  EXPECT_TRUE(ev[2].panicking);
  EXPECT_EQ(ev[2].witness, "panic_cpu = 2");
  EXPECT_FALSE(ev[1].is_witness());
}

}  // namespace
}  // namespace kstuck
