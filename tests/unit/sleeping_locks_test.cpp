// SPDX-License-Identifier: GPL-2.0
// Tests of sleeping-lock reading: honest rwsem owners, PREEMPT_RT's rt_mutex-based locks, blocked_on/blocker evidence.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/hang/cpu_activity.h"
#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/hang_snapshot.h"
#include "analysis/hang/rt_mutex.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hang/xcall.h"
#include "tests/unit/fake_kernel.h"
#include "tests/unit/fake_target.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

constexpr uint64_t kText = 0xffffffff81000000ULL;
constexpr uint64_t kWaiterOff = 0x3d00;  // where a task's on-stack waiter lives in these tests

class SleepingLocksTest : public ::testing::Test {
 protected:
  SleepingLocksTest() : k_(t_, 4), fields_(t_) {
    t_.map(kText, 0x10000);
    const char* fns[] = {"__schedule", "schedule", "__mutex_lock", "worker_a", "worker_b", "do_nanosleep",
                         "rwsem_down_read_slowpath", "rwsem_down_write_slowpath", "rt_mutex_schedule",
                         "rt_mutex_slowlock_block", "mutex_lock", "rtlock_slowlock_locked", "rt_spin_lock",
                         "down_read", "rt_read_lock", "rt_mutex_lock", "wait_for_completion",
                         "rt_mutex_slowlock"};
    uint64_t a = kText;
    for (const char* f : fns) {
      t_.add_symbol(f, a, 0x100);
      fn_[f] = a;
      a += 0x100;
    }
  }

  uint64_t stack_of(uint64_t task) { return t_.peek_u64(t_.addr_of(task, "task_struct", "stack")); }

  TaskView view(uint64_t task, int pid, const std::string& comm, std::vector<std::string> frames) {
    TaskView v;
    v.task = task;
    v.pid = pid;
    v.comm = comm;
    v.state_char = 'D';
    v.stack_base = stack_of(task);
    v.sp = v.stack_base + 0x3c00;
    for (const auto& f : frames) {
      StackFrame s;
      s.pc = fn_[f] + 0x10;
      s.function = f;
      v.frames.push_back(s);
    }
    return v;
  }

  HangReport report(const HangSnapshot& snap) {
    auto cpus = classify_cpus(t_, snap);
    auto x = scan_xcalls(t_, fields_, snap);
    auto l = scan_sleeping_locks(t_, fields_, snap);
    return build_hang_report(snap, x, l, cpus);
  }

  const WaitEdge* edge(const HangReport& r, const std::string& from, const std::string& to) {
    auto f = r.graph.find(from), t = r.graph.find(to);
    if (!f || !t) return nullptr;
    for (const auto& e : r.graph.edges())
      if (e.from == *f && e.to == *t) return &e;
    return nullptr;
  }

  static std::string id(const char* kind, uint64_t a) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s:0x%llx", kind, static_cast<unsigned long long>(a));
    return buf;
  }

  // --- non-RT rwsem (6.1: struct rw_semaphore {count; owner; osq; wait_lock; wait_list}) ---
  void rwsem_layouts() {
    t_.add_struct("rw_semaphore", 0x28, {{"count", 0x0, 8}, {"count.counter", 0x0, 8}, {"owner", 0x8, 8},
                                         {"owner.counter", 0x8, 8}, {"wait_lock", 0x14, 4},
                                         {"wait_list", 0x18, 16, "struct list_head"}});
    t_.add_struct("rwsem_waiter", 0x30, {{"list", 0x0, 16}, {"task", 0x10, 8}, {"type", 0x18, 4}});
  }
  uint64_t add_rwsem(const std::string& name, uint64_t count, uint64_t owner_word) {
    uint64_t sem = t_.add_global(name, 0x28);
    t_.set(sem, "rw_semaphore", "count", count);
    t_.set(sem, "rw_semaphore", "owner", owner_word);
    k_.list_init(sem + 0x18);
    return sem;
  }
  void block_on_rwsem(uint64_t task, uint64_t sem) {
    uint64_t stack = stack_of(task);
    t_.set(stack + kWaiterOff, "rwsem_waiter", "task", task);
    k_.list_add_tail(stack + kWaiterOff, sem + 0x18);
    t_.write_u64(stack + 0x3c80, sem);
  }
  void block_on_mutex(uint64_t task, uint64_t mutex, bool address_on_stack = true) {
    uint64_t stack = stack_of(task);
    t_.set(stack + kWaiterOff, "mutex_waiter", "task", task);
    k_.list_add_tail(stack + kWaiterOff, t_.addr_of(mutex, "mutex", "wait_list"));
    if (address_on_stack) t_.write_u64(stack + 0x3c40, mutex);
  }

  FakeTarget t_;
  FakeKernel k_;
  Fields fields_;
  std::map<std::string, uint64_t> fn_;
};

const std::vector<std::string> kRwsemWriteWait = {"__schedule", "schedule", "rwsem_down_write_slowpath", "worker_a"};
const std::vector<std::string> kMutexWait = {"__schedule", "schedule", "__mutex_lock", "worker_b"};
// As Debian's 6.12 rt kernel leaves it: mutex_lock() tail-called rt_mutex_slowlock().
const std::vector<std::string> kRtMutexWait = {"__schedule", "rt_mutex_schedule", "rt_mutex_slowlock_block",
                                               "rt_mutex_slowlock", "worker_a"};

// The last reader released: owner still names it (READER_OWNED), the count has no reader
// and no writer in. That owner is stale: no edge at all.
TEST_F(SleepingLocksTest, RwsemOwnerOfAReleasedReaderDrawsNoEdge) {
  rwsem_layouts();
  uint64_t stale = k_.add_task(400, "gone_reader", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(401, "writer", FakeKernel::kUninterruptible);
  uint64_t sem = add_rwsem("stale_sem", kRwsemFlagWaiters, stale | kRwsemReaderOwned | 0x2);
  block_on_rwsem(w, sem);
  HangSnapshot snap;
  snap.tasks = {view(stale, 400, "gone_reader", {"__schedule", "schedule", "do_nanosleep"}),
                view(w, 401, "writer", kRwsemWriteWait)};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  const SleepingLock* l = locks.lock_at(sem);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->owner_task, stale);
  EXPECT_TRUE(l->owner_is_reader_hint);
  EXPECT_EQ(l->readers, 0);
  EXPECT_FALSE(l->owner_edge);
  EXPECT_EQ(l->flags, "WAITERS|READER_OWNED|NONSPINNABLE");
  HangReport r = report(snap);
  EXPECT_EQ(edge(r, id("rwsem", sem), "task:400"), nullptr);
  ASSERT_NE(edge(r, "task:401", id("rwsem", sem)), nullptr);
}

// Readers are in (count >> 8 == 1) and owner names a reader whose code cannot be read in
// full (its outer frame has no symbol): an inferred hint with its reason, and a note why
// it stays.
TEST_F(SleepingLocksTest, RwsemReaderOwnerWithReadersInIsAnInferredHint) {
  rwsem_layouts();
  uint64_t reader = k_.add_task(402, "reader", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(403, "writer", FakeKernel::kUninterruptible);
  uint64_t sem = add_rwsem("read_sem", (1u << kRwsemReaderShift) | kRwsemFlagWaiters, reader | kRwsemReaderOwned);
  block_on_rwsem(w, sem);
  HangSnapshot snap;
  snap.tasks = {view(reader, 402, "reader", {"__schedule", "schedule", "do_nanosleep", "no_such_symbol"}),
                view(w, 403, "writer", kRwsemWriteWait)};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  const SleepingLock* l = locks.lock_at(sem);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->readers, 1);
  EXPECT_TRUE(l->owner_edge);
  EXPECT_TRUE(l->owner_inferred);
  EXPECT_EQ(l->owner_evidence,
            "owner field names pid 402 as a reader; readers are not tracked, it may have released (count: 1 reader in)");
  ASSERT_FALSE(l->notes.empty());
  EXPECT_NE(l->notes[0].find("owner field names pid 402 as a reader; it stays a hint: its code could not be read in full"),
            std::string::npos)
      << l->notes[0];
  HangReport r = report(snap);
  const WaitEdge* e = edge(r, id("rwsem", sem), "task:402");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->inferred());
  EXPECT_EQ(e->evidence, l->owner_evidence);
}

// Write-locked: the owner is the writer, confirmed.
TEST_F(SleepingLocksTest, RwsemWriterOwnerIsConfirmed) {
  rwsem_layouts();
  uint64_t owner = k_.add_task(404, "writer", FakeKernel::kUninterruptible);
  uint64_t w = k_.add_task(405, "writer2", FakeKernel::kUninterruptible);
  uint64_t sem = add_rwsem("write_sem", kRwsemWriterLocked | kRwsemFlagWaiters, owner);
  block_on_rwsem(w, sem);
  HangSnapshot snap;
  snap.tasks = {view(owner, 404, "writer", {"__schedule", "schedule", "do_nanosleep"}),
                view(w, 405, "writer2", kRwsemWriteWait)};
  HangReport r = report(snap);
  const WaitEdge* e = edge(r, id("rwsem", sem), "task:404");
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->inferred());
  EXPECT_EQ(e->evidence, "owner field; count says WRITER_LOCKED");
}

// The VM scenario rwstale, synthetic: holder H reads (untracked), stale reader R is named
// by owner and waits for the gate mutex the writer W holds; W waits for the rwsem. The
// only cycle would rest on the owner hint, but every frame of R was read from code and
// none holds the rwsem: R is no owner, and there is no DEADLOCK. (H's frames take no
// lock in this fake code: the holder is unknown, hunted for in hang_analysis_test's
// RwstaleTest with real code.)
TEST_F(SleepingLocksTest, StaleReaderCycleIsNeverAConfirmedDeadlock) {
  rwsem_layouts();
  uint64_t h = k_.add_task(410, "kstuck_rwsh", FakeKernel::kUninterruptible);
  uint64_t r = k_.add_task(411, "kstuck_rwsr", FakeKernel::kUninterruptible);
  uint64_t w = k_.add_task(412, "kstuck_rwsw", FakeKernel::kUninterruptible);
  uint64_t sem = add_rwsem("dev_sem", (1u << kRwsemReaderShift) | kRwsemFlagWaiters, r | kRwsemReaderOwned | 0x2);
  uint64_t gate = k_.add_mutex("dev_gate", w, kMutexFlagWaiters);
  block_on_rwsem(w, sem);
  block_on_mutex(r, gate);
  HangSnapshot snap;
  snap.tasks = {view(h, 410, "kstuck_rwsh", {"__schedule", "schedule", "wait_for_completion"}),
                view(r, 411, "kstuck_rwsr", kMutexWait), view(w, 412, "kstuck_rwsw", kRwsemWriteWait)};
  HangReport rep = report(snap);
  EXPECT_EQ(edge(rep, id("rwsem", sem), "task:411"), nullptr);
  const SleepingLock* l = nullptr;
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  l = locks.lock_at(sem);
  ASSERT_NE(l, nullptr);
  std::string notes;
  for (const auto& n : l->notes) notes += n + "\n";
  EXPECT_NE(notes.find("pid 411 as a reader, but it is no owner: none of its 4 frames"), std::string::npos) << notes;
  EXPECT_NE(notes.find("holder unknown"), std::string::npos) << notes;
  EXPECT_NE(rep.verdict.verdict, Verdict::Deadlock) << rep.verdict.reason;
  const WaitEdge* gate_owner = edge(rep, id("mutex", gate), "task:412");
  ASSERT_NE(gate_owner, nullptr);
  EXPECT_FALSE(gate_owner->inferred());
  EXPECT_EQ(edge(rep, "task:410", id("rwsem", sem)), nullptr);
  if (rep.verdict.verdict == Verdict::Deadlock) {
    EXPECT_EQ(rep.verdict.confidence, Confidence::Inferred);
  }
}

// task->blocked_on (proxy execution) names the mutex when the stack does not: the lock
// is still confirmed by the task's waiter on its wait_list.
TEST_F(SleepingLocksTest, BlockedOnNamesTheMutexTheStackLost) {
  uint64_t owner = k_.add_task(420, "owner", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(421, "waiter", FakeKernel::kUninterruptible);
  uint64_t m = k_.add_mutex("bo_mutex", owner, kMutexFlagWaiters);
  block_on_mutex(w, m, /*address_on_stack=*/false);
  HangSnapshot snap;
  snap.tasks = {view(owner, 420, "owner", {"__schedule", "schedule", "do_nanosleep"}), view(w, 421, "waiter", kMutexWait)};
  auto without = scan_sleeping_locks(t_, fields_, snap);
  EXPECT_TRUE(without.blocked.empty());
  t_.set(w, "task_struct", "blocked_on", m);
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  ASSERT_EQ(locks.blocked.size(), 1u);
  EXPECT_EQ(locks.blocked[0].lock, m);
  EXPECT_EQ(locks.blocked[0].evidence, "task->blocked_on names it; its mutex_waiter is linked on the wait_list");
  // A blocked_on naming a mutex the task is not queued on proves nothing.
  uint64_t other = k_.add_mutex("other_mutex", owner);
  t_.set(w, "task_struct", "blocked_on", other);
  EXPECT_TRUE(scan_sleeping_locks(t_, fields_, snap).blocked.empty());
}

// The hung-task blocker (6.16+: lock | type) as extra evidence beside the stack's.
TEST_F(SleepingLocksTest, HungTaskBlockerIsExtraEvidence) {
  rwsem_layouts();
  uint64_t owner = k_.add_task(430, "writer", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(431, "writer2", FakeKernel::kUninterruptible);
  uint64_t sem = add_rwsem("blk_sem", kRwsemWriterLocked | kRwsemFlagWaiters, owner);
  block_on_rwsem(w, sem);
  t_.set(w, "task_struct", "blocker", sem | 0x3);  // BLOCKER_TYPE_RWSEM_WRITER
  HangSnapshot snap;
  snap.tasks = {view(owner, 430, "writer", {"__schedule", "schedule", "do_nanosleep"}),
                view(w, 431, "writer2", kRwsemWriteWait)};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  ASSERT_EQ(locks.blocked.size(), 1u);
  EXPECT_NE(locks.blocked[0].evidence.find("task->blocker (rwsem writer) names it too"), std::string::npos)
      << locks.blocked[0].evidence;
  // A blocker naming another lock is reported, the linked waiter wins.
  t_.set(w, "task_struct", "blocker", (sem + 0x1000) | 0x3);
  locks = scan_sleeping_locks(t_, fields_, snap);
  ASSERT_EQ(locks.blocked.size(), 1u);
  EXPECT_EQ(locks.blocked[0].lock, sem);
  EXPECT_TRUE(locks.partial);
}

TEST_F(SleepingLocksTest, PreemptRtIsDecidedFromTypes) {
  EXPECT_FALSE(kernel_is_preempt_rt(fields_));
  FakeTarget t2;
  FakeKernel k2(t2, 2);
  k2.make_preempt_rt();
  Fields f2(t2);
  EXPECT_TRUE(kernel_is_preempt_rt(f2));
  EXPECT_EQ(rt_base_offset(f2, RtLockKind::Rwsem), 0x8u);
  EXPECT_EQ(rt_base_offset(f2, RtLockKind::Spinlock), 0u);
  EXPECT_FALSE(rt_base_offset(fields_, RtLockKind::Mutex));
}

// PREEMPT_RT: a mutex is an rt_mutex; its waiters sit in a priority rbtree and each
// blocked task's pi_blocked_on names its waiter. Owner and waiters as on non-RT, in
// priority order (prio 100 before 120 whatever the queueing order).
TEST_F(SleepingLocksTest, RtMutexOwnerAndWaitersInPriorityOrder) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(500, "owner", FakeKernel::kInterruptible);
  uint64_t w1 = k_.add_task(501, "low", FakeKernel::kUninterruptible);
  uint64_t w2 = k_.add_task(502, "high", FakeKernel::kUninterruptible);
  uint64_t w3 = k_.add_task(503, "low2", FakeKernel::kUninterruptible);
  uint64_t m = k_.add_rt_lock("mutex", "rt_m", 0, o);
  k_.add_rt_waiter(m, w1, 120, stack_of(w1) + kWaiterOff);
  k_.add_rt_waiter(m, w2, 100, stack_of(w2) + kWaiterOff);
  k_.add_rt_waiter(m, w3, 120, stack_of(w3) + kWaiterOff);
  HangSnapshot snap;
  snap.tasks = {view(o, 500, "owner", {"__schedule", "schedule", "do_nanosleep"}), view(w1, 501, "low", kRtMutexWait),
                view(w2, 502, "high", kRtMutexWait), view(w3, 503, "low2", kRtMutexWait)};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  EXPECT_TRUE(locks.warnings.empty()) << locks.warnings[0];
  ASSERT_EQ(locks.locks.size(), 1u);
  const SleepingLock& l = locks.locks[0];
  EXPECT_EQ(l.kind, SleepingLockKind::Mutex);
  EXPECT_TRUE(l.rt);
  EXPECT_EQ(l.address, m);
  EXPECT_EQ(l.symbol, "rt_m");
  EXPECT_EQ(l.owner_task, o);
  EXPECT_EQ(l.flags, "HAS_WAITERS");
  EXPECT_EQ(l.waiters, (std::vector<uint64_t>{w2, w1, w3}));
  ASSERT_EQ(locks.blocked.size(), 3u);
  for (const auto& b : locks.blocked) {
    EXPECT_TRUE(b.confirmed);
    EXPECT_EQ(b.evidence,
              "task->pi_blocked_on: its rt_mutex_waiter names it and this lock (mutex.rtmutex, from its "
              "rt_mutex_slowlock (mutex_lock tail-calls it) frame); linked in the lock's waiters rbtree");
  }
}

// ABBA on PREEMPT_RT: the same DEADLOCK, confirmed, as on a non-RT kernel.
TEST_F(SleepingLocksTest, RtAbbaIsTheSameConfirmedDeadlock) {
  k_.make_preempt_rt();
  uint64_t a = k_.add_task(510, "abba_a", FakeKernel::kUninterruptible);
  uint64_t b = k_.add_task(511, "abba_b", FakeKernel::kUninterruptible);
  uint64_t ma = k_.add_rt_lock("mutex", "lock_a", 0, a);
  uint64_t mb = k_.add_rt_lock("mutex", "lock_b", 0, b);
  k_.add_rt_waiter(mb, a, 120, stack_of(a) + kWaiterOff);
  k_.add_rt_waiter(ma, b, 120, stack_of(b) + kWaiterOff);
  HangSnapshot snap;
  snap.tasks = {view(a, 510, "abba_a", kRtMutexWait), view(b, 511, "abba_b", kRtMutexWait)};
  HangReport r = report(snap);
  EXPECT_EQ(r.verdict.verdict, Verdict::Deadlock);
  EXPECT_EQ(r.verdict.confidence, Confidence::Confirmed);
  EXPECT_EQ(r.verdict.cycle.size(), 4u);
  const WaitNode& n = r.graph.nodes()[*r.graph.find(id("mutex", ma))];
  EXPECT_EQ(n.kind, NodeKind::Mutex);
  EXPECT_EQ(n.waiter_pids, (std::vector<int>{511}));
}

// spinlock_t on PREEMPT_RT sleeps: a lock node of kind spinlock, "sleeping (rt)", owned by a task.
TEST_F(SleepingLocksTest, RtSpinlockIsASleepingLockNode) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(520, "holder", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(521, "waiter", FakeKernel::kUninterruptible);
  uint64_t s = k_.add_rt_lock("spinlock", "rt_spin", 0, o);
  k_.add_rt_waiter(s, w, 120, stack_of(w) + kWaiterOff);
  HangSnapshot snap;
  snap.tasks = {view(o, 520, "holder", {"__schedule", "schedule", "do_nanosleep"}),
                view(w, 521, "waiter", {"__schedule", "rtlock_slowlock_locked", "rt_spin_lock", "worker_b"})};
  HangReport r = report(snap);
  auto ln = r.graph.find(id("spinlock", s));
  ASSERT_TRUE(ln);
  const WaitNode& n = r.graph.nodes()[*ln];
  EXPECT_EQ(n.kind, NodeKind::Spinlock);
  EXPECT_EQ(n.doing, "sleeping (rt)");
  const WaitEdge* own = edge(r, id("spinlock", s), "task:520");
  ASSERT_NE(own, nullptr);
  EXPECT_FALSE(own->inferred());
  ASSERT_NE(edge(r, "task:521", id("spinlock", s)), nullptr);
}

// An rtlock waiter (wake_state TASK_RTLOCK_WAIT) is a spinlock_t even when no frame says so.
TEST_F(SleepingLocksTest, RtlockWaiterIsASpinlockByWakeState) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(525, "holder", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(526, "waiter", FakeKernel::kUninterruptible);
  uint64_t s = k_.add_rt_lock("spinlock", "rt_spin2", 0, o);
  uint64_t waiter = k_.add_rt_waiter(s, w, 120, stack_of(w) + kWaiterOff);
  HangSnapshot snap;
  snap.tasks = {view(w, 526, "waiter", {"__schedule", "rtlock_slowlock_locked", "worker_b"})};
  EXPECT_EQ(scan_sleeping_locks(t_, fields_, snap).locks.at(0).kind, SleepingLockKind::Mutex);
  t_.set(waiter, "rt_mutex_waiter", "wake_state", 0x1000);
  EXPECT_EQ(scan_sleeping_locks(t_, fields_, snap).locks.at(0).kind, SleepingLockKind::Spinlock);
}

// rw_semaphore on PREEMPT_RT: the writer owns rwbase.rtmutex; READER_BIAS gone and
// WRITER_BIAS set says write-locked; a reader waits in the rbtree.
TEST_F(SleepingLocksTest, RtRwsemWriterOwnsAndReaderWaits) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(530, "writer", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(531, "reader", FakeKernel::kUninterruptible);
  uint64_t sem = k_.add_rt_lock("rw_semaphore", "rt_sem", 0x8, o);
  t_.write_u32(sem, kRwbaseWriterBias);
  k_.add_rt_waiter(sem + 0x8, w, 120, stack_of(w) + kWaiterOff);
  HangSnapshot snap;
  snap.tasks = {view(o, 530, "writer", {"__schedule", "schedule", "do_nanosleep"}),
                view(w, 531, "reader", {"__schedule", "rt_mutex_schedule", "rt_mutex_slowlock_block", "down_read"})};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  const SleepingLock* l = locks.lock_at(sem);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->kind, SleepingLockKind::Rwsem);
  EXPECT_TRUE(l->writer_locked);
  EXPECT_EQ(l->flags, "HAS_WAITERS|WRITER_LOCKED");
  EXPECT_EQ(l->owner_evidence, "rt_mutex owner field; readers says WRITER_BIAS");
  EXPECT_EQ(l->waiters, (std::vector<uint64_t>{w}));
  // Readers in (READER_BIAS + 2): no writer, the rt_mutex unowned.
  t_.write_u32(sem, kRwbaseReaderBias + 2);
  t_.set(sem + 0x8, "rt_mutex_base", "owner", 1);
  locks = scan_sleeping_locks(t_, fields_, snap);
  l = locks.lock_at(sem);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->readers, 2);
  EXPECT_FALSE(l->owner_edge);
}

// Linux 7.1+ (25500ba7e77c): struct mutex keeps first_waiter, not a wait_list head; the
// waiters form a ring with no head. Both waiters in order, the on-stack one's lock found.
TEST_F(SleepingLocksTest, MutexWithFirstWaiterRing) {
  t_.add_struct("mutex", 0x18, {{"owner", 0x0, 8, "atomic_long_t"}, {"owner.counter", 0x0, 8, "s64"},
                                {"wait_lock", 0x8, 4, "raw_spinlock_t"},
                                {"first_waiter", 0x10, 8, "struct mutex_waiter *"}});
  uint64_t o = k_.add_task(600, "owner", FakeKernel::kInterruptible);
  uint64_t w1 = k_.add_task(601, "first", FakeKernel::kUninterruptible);
  uint64_t w2 = k_.add_task(602, "second", FakeKernel::kUninterruptible);
  uint64_t m = t_.add_global("ring_mutex", 0x18);
  t_.set(m, "mutex", "owner", o | 0x1);
  uint64_t n1 = stack_of(w1) + kWaiterOff, n2 = stack_of(w2) + kWaiterOff;
  t_.set(n1, "mutex_waiter", "task", w1);
  t_.set(n2, "mutex_waiter", "task", w2);
  k_.list_init(n1);
  k_.list_add_tail(n2, n1);
  t_.write_u64(m + 0x10, n1);
  t_.write_u64(stack_of(w1) + 0x3c40, m);
  // A word pointing into the waiter's own stack must not pass for the lock.
  t_.write_u64(stack_of(w1) + 0x3c48, n1 - 0x10);
  HangSnapshot snap;
  snap.tasks = {view(o, 600, "owner", {"__schedule", "schedule", "do_nanosleep"}),
                view(w1, 601, "first", kMutexWait)};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  const SleepingLock* l = locks.lock_at(m);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->owner_task, o);
  EXPECT_TRUE(l->waiters_complete);
  EXPECT_EQ(l->waiters, (std::vector<uint64_t>{w1, w2}));
  ASSERT_EQ(locks.blocked.size(), 1u);
  EXPECT_EQ(locks.blocked[0].lock, m);

  t_.write_u64(m + 0x10, 0);  // no waiter: an empty, complete list
  auto again = read_sleeping_lock(t_, fields_, snap, SleepingLockKind::Mutex, m, 16);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->waiters.empty());
  EXPECT_TRUE(again->waiters_complete);
}

// A plain rt_mutex on a non-RT kernel (PI futex, RCU boost): found through pi_blocked_on.
TEST_F(SleepingLocksTest, PlainRtMutexOnANonRtKernel) {
  FakeTarget t2;
  FakeKernel k2(t2, 2);
  Fields f2(t2);
  // Only rt_mutex is rt_mutex based: keep the non-RT mutex, add the rt_mutex types.
  k2.make_preempt_rt();
  t2.add_struct("mutex", 0x20, {{"owner", 0x0, 8, "atomic_long_t"}, {"owner.counter", 0x0, 8, "s64"},
                                {"wait_lock", 0x8, 4, "raw_spinlock_t"}, {"wait_list", 0x10, 16, "struct list_head"}});
  ASSERT_FALSE(kernel_is_preempt_rt(f2));
  uint64_t o = k2.add_task(540, "owner", FakeKernel::kInterruptible);
  uint64_t w = k2.add_task(541, "futex", FakeKernel::kUninterruptible);
  uint64_t rm = k2.add_rt_lock("rt_mutex", "pi_lock", 0, o);
  uint64_t stack = t2.peek_u64(t2.addr_of(w, "task_struct", "stack"));
  k2.add_rt_waiter(rm, w, 120, stack + kWaiterOff);
  HangSnapshot snap;
  TaskView v;
  v.task = w;
  v.pid = 541;
  v.state_char = 'D';
  snap.tasks = {v};
  auto locks = scan_sleeping_locks(t2, f2, snap);
  ASSERT_EQ(locks.locks.size(), 1u);
  EXPECT_EQ(locks.locks[0].kind, SleepingLockKind::RtMutex);
  EXPECT_EQ(locks.locks[0].owner_task, o);
  EXPECT_EQ(locks.locks[0].note, "rt_mutex");
}

// A corrupt waiters tree: a node that is its own left child, and a tree past the limit.
TEST_F(SleepingLocksTest, RtWaitersTreeWalkIsBoundedAndCycleSafe) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(550, "owner", FakeKernel::kInterruptible);
  uint64_t m = k_.add_rt_lock("mutex", "loop_m", 0, o);
  std::vector<uint64_t> ws;
  for (int i = 0; i < 6; ++i) {
    uint64_t w = k_.add_task(551 + i, "w", FakeKernel::kUninterruptible);
    ws.push_back(k_.add_rt_waiter(m, w, 100 + i, stack_of(w) + kWaiterOff));  // a right-leaning chain
  }
  std::string why;
  auto layout = rt_mutex_layout(fields_, &why);
  ASSERT_TRUE(layout) << why;
  RtMutexState all = read_rt_mutex(t_, *layout, m);
  EXPECT_TRUE(all.waiters_complete);
  EXPECT_EQ(all.waiters.size(), 6u);
  RtMutexState cut = read_rt_mutex(t_, *layout, m, 3);
  EXPECT_FALSE(cut.waiters_complete);
  EXPECT_EQ(cut.problem, "more than 3 waiters");
  t_.write_u64(ws[2] + 0x10, ws[1]);  // rb_left of the third points back up the chain
  RtMutexState loop = read_rt_mutex(t_, *layout, m);
  EXPECT_FALSE(loop.waiters_complete);
  EXPECT_EQ(loop.problem, "rbtree loops");
  t_.write_u64(ws[2] + 0x10, 0x1234);  // not a kernel pointer
  EXPECT_EQ(read_rt_mutex(t_, *layout, m).problem, "bad rb_node pointer");
}

// An rt_mutex_waiter that names another task is not evidence for this one.
TEST_F(SleepingLocksTest, PiBlockedOnNamingAnotherTaskIsReported) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(560, "owner", FakeKernel::kInterruptible);
  uint64_t w = k_.add_task(561, "waiter", FakeKernel::kUninterruptible);
  uint64_t m = k_.add_rt_lock("mutex", "odd_m", 0, o);
  uint64_t waiter = k_.add_rt_waiter(m, w, 120, stack_of(w) + kWaiterOff);
  t_.set(waiter, "rt_mutex_waiter", "task", o);
  HangSnapshot snap;
  snap.tasks = {view(w, 561, "waiter", kRtMutexWait)};
  auto locks = scan_sleeping_locks(t_, fields_, snap);
  EXPECT_TRUE(locks.blocked.empty());
  ASSERT_EQ(locks.warnings.size(), 1u);
  EXPECT_NE(locks.warnings[0].find("names another task"), std::string::npos);
}

// kstuck mutex ADDRESS on an RT kernel reads the mutex through its rt_mutex.
TEST_F(SleepingLocksTest, ReadSleepingLockAtAnAddressOnRt) {
  k_.make_preempt_rt();
  uint64_t o = k_.add_task(570, "owner", FakeKernel::kInterruptible);
  uint64_t m = k_.add_rt_lock("mutex", "idle_m", 0, o);
  HangSnapshot snap;
  auto l = read_sleeping_lock(t_, fields_, snap, SleepingLockKind::Mutex, m);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(l->rt);
  EXPECT_EQ(l->owner_task, o);
  EXPECT_TRUE(l->waiters.empty());
}

}  // namespace
}  // namespace kstuck
