// SPDX-License-Identifier: GPL-2.0
// Task and CPU loading on a FakeKernel: threads, idle tasks, current tasks, corrupt lists.
#include "analysis/kernel/tasks.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/unit/fake_kernel.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

TEST(Tasks, LeadersThreadsIdleAndCurrent) {
  FakeTarget t;
  FakeKernel k(t, 2);
  uint64_t init = k.add_task(1, "init", FakeKernel::kInterruptible, 0);
  uint64_t app = k.add_task(100, "app", FakeKernel::kUninterruptible, 1);
  uint64_t worker = k.add_thread(app, 101, "app-worker", FakeKernel::kRunning, 1);
  uint64_t idle1 = t.alloc(0x100);
  t.set(idle1, "task_struct", "flags", 0x2);
  t.set_string(idle1, "task_struct", "comm", "swapper/1");
  t.set(idle1, "task_struct", "cpu", 1);
  t.set(k.per_cpu_addr(1, "runqueues"), "rq", "idle", idle1);
  t.set(k.per_cpu_addr(0, "runqueues"), "rq", "idle", k.init_task());
  k.set_curr(0, init);
  k.set_curr(1, idle1);
  // Clocks: CPU 0 at 10 s, CPU 1 stopped ticking at 2 s; app slept at 4 s.
  t.set(k.per_cpu_addr(0, "runqueues"), "rq", "clock", 10'000'000'000);
  t.set(k.per_cpu_addr(1, "runqueues"), "rq", "clock", 2'000'000'000);
  t.set(app, "task_struct", "sched_info.last_arrival", 4'000'000'000);
  // app-worker was woken at 7 s and waits on CPU 1's runqueue; it last ran at 1 s.
  t.set(worker, "task_struct", "on_rq", 1);
  t.set(worker, "task_struct", "sched_info.last_queued", 7'000'000'000);
  t.set(worker, "task_struct", "sched_info.last_arrival", 1'000'000'000);

  Fields f(t);
  auto cpus = load_cpus(f);
  ASSERT_TRUE(cpus) << cpus.error().describe();
  ASSERT_EQ(cpus->cpus.size(), 2u);
  EXPECT_EQ(cpus->cpus[0].curr, init);
  EXPECT_EQ(cpus->now_clock, 10'000'000'000u);
  TaskSet set = load_tasks(f, *cpus);
  EXPECT_EQ(set.walk_status, WalkStatus::Complete);
  ASSERT_EQ(set.tasks.size(), 5u);  // swapper/0, init, app, app-worker, swapper/1
  const TaskInfo* a = set.by_pid(100);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->state.letter, 'D');
  EXPECT_EQ(a->since_ran_ns.value(), 6'000'000'000u);
  const TaskInfo* w = set.by_pid(101);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->tgid, 100);
  EXPECT_EQ(w->comm, "app-worker");
  EXPECT_TRUE(w->on_rq);
  EXPECT_EQ(w->cpu, 1);
  EXPECT_EQ(w->queued_ns.value(), 3'000'000'000u);    // on the runqueue since 7 s
  EXPECT_EQ(w->since_ran_ns.value(), 9'000'000'000u);  // but off the CPU since 1 s
  EXPECT_FALSE(a->on_rq);
  EXPECT_FALSE(a->queued_ns);  // asleep: not waiting for a CPU
  EXPECT_EQ(set.by_pid(1)->current_on, 0);
  EXPECT_FALSE(set.by_pid(1)->since_ran_ns);  // running: no "since"
  EXPECT_EQ(set.by_address(idle1)->current_on, 1);
  EXPECT_TRUE(set.by_address(idle1)->idle_task());
}

TEST(Tasks, AnUnreadableStateIsUnknownNotRunning) {
  FakeTarget t;
  FakeKernel k(t, 1);
  uint64_t gone = k.add_task(146, "kstuck_abba1", FakeKernel::kUninterruptible, 0);
  Fields f(t);
  auto cpus = load_cpus(f).value();
  t.unmap(gone);  // its page excluded from the dump
  TaskInfo info = read_task(f, gone, cpus);
  EXPECT_EQ(info.state.letter, '?');
  EXPECT_TRUE(std::any_of(info.problems.begin(), info.problems.end(),
                          [](const std::string& p) { return p.starts_with("state: "); }));
}

TEST(Tasks, CorruptTaskListGivesMarkedPartialResult) {
  FakeTarget t;
  FakeKernel k(t, 1);
  uint64_t a = k.add_task(1, "init");
  uint64_t b = k.add_task(2, "kthreadd");
  k.add_task(3, "unreached");
  Fields f(t);
  auto cpus = load_cpus(f).value();
  uint64_t off = f.offset("task_struct", "tasks").value();
  t.write_u64(b + off, a + off);  // cycle a -> b -> a
  TaskSet cyc = load_tasks(f, cpus);
  EXPECT_EQ(cyc.walk_status, WalkStatus::Cycle);
  EXPECT_EQ(cyc.tasks.size(), 3u);  // swapper/0, init, kthreadd
  ASSERT_FALSE(cyc.problems.empty());
  EXPECT_NE(cyc.problems[0].find("cycle"), std::string::npos);

  t.write_u64(b + off, 0xffff8880dead0000ULL);  // wild pointer
  TaskSet wild = load_tasks(f, cpus);
  EXPECT_EQ(wild.walk_status, WalkStatus::Fault);
  // The wild "task" is kept and marked: every field of it failed to read.
  ASSERT_EQ(wild.tasks.size(), 4u);
  EXPECT_FALSE(wild.tasks.back().problems.empty());
  EXPECT_EQ(wild.tasks[2].comm, "kthreadd");

  TaskLimits limits;
  limits.max_processes = 1;
  t.write_u64(b + off, k.init_task() + off);  // repair
  TaskSet limited = load_tasks(f, cpus, limits);
  EXPECT_EQ(limited.walk_status, WalkStatus::Limit);
  EXPECT_EQ(limited.tasks.size(), 2u);
}

}  // namespace
}  // namespace kstuck

namespace kstuck {
namespace {

TEST(Cpus, UnreadableOnlineMaskFallsBackToRegisterNotes) {
  test::FakeTarget t;
  test::FakeKernel k(t, 4);
  t.unmap(t.symbol_address("__cpu_online_mask").value());
  Fields f(t);
  EXPECT_FALSE(load_cpus(f));  // no registers either: nothing to go on
  t.set_registers(0, CpuRegisters{});
  t.set_registers(1, CpuRegisters{});
  auto cpus = load_cpus(f);
  ASSERT_TRUE(cpus);
  EXPECT_EQ(cpus->cpus.size(), 2u);
  ASSERT_EQ(cpus->problems.size(), 1u);
  EXPECT_NE(cpus->problems[0].find("assuming CPUs 0-1"), std::string::npos);
}

}  // namespace
}  // namespace kstuck
