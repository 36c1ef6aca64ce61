// SPDX-License-Identifier: GPL-2.0
// FakeKernel: lays out 6.1-shaped kernel structs (tasks, runqueues, mutexes, csds) in a FakeTarget.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/fake_target.h"

namespace kstuck::test {

// The layouts are synthetic but carry the member names of Linux 6.1 (task_struct.__state,
// signal->thread_head, rq.curr, mutex.owner, __call_single_data.node.llist, ...), so the
// analysis code runs against them exactly as against a real dump. Tests may redefine any
// struct with FakeTarget::add_struct to model another kernel version.
class FakeKernel {
 public:
  // Task states as the 6.1 kernel stores them in task_struct.__state.
  static constexpr uint32_t kRunning = 0x0, kInterruptible = 0x1, kUninterruptible = 0x2,
                            kStopped = 0x4, kTraced = 0x8, kParked = 0x40, kDead = 0x80,
                            kNoLoad = 0x400, kIdle = kUninterruptible | kNoLoad;
  static constexpr uint32_t kExitZombie = 0x20, kExitDead = 0x10;  // task_struct.exit_state
  static constexpr uint64_t kPerCpuBase = 0x10000;   // per-CPU symbols live at small offsets
  static constexpr uint64_t kPerCpuSize = 0x10000;

  explicit FakeKernel(FakeTarget& target, int ncpus = 4);

  FakeTarget& target() { return t_; }
  int ncpus() const { return ncpus_; }
  uint64_t init_task() const { return init_task_; }

  // A new thread-group leader linked at the tail of init_task.tasks (tgid = pid).
  uint64_t add_task(int pid, std::string_view comm, uint32_t state = kInterruptible, int cpu = 0);
  // A new thread of leader's group (linked on signal->thread_head, not on tasks).
  uint64_t add_thread(uint64_t leader, int pid, std::string_view comm, uint32_t state = kInterruptible, int cpu = 0);
  // Makes task current on cpu (runqueues.curr) and sets its on_cpu flag.
  void set_curr(int cpu, uint64_t task);

  // A per-CPU variable: defines the symbol once (size bytes in every CPU's area).
  uint64_t define_per_cpu(std::string name, uint64_t size);
  // Address of a per-CPU variable's instance for cpu.
  uint64_t per_cpu_addr(int cpu, std::string_view name);

  // A global struct mutex named name, owned by owner_task (0: unlocked).
  uint64_t add_mutex(std::string name, uint64_t owner_task, uint64_t flags = 0);
  // Queues task on the mutex's wait_list (allocates the struct mutex_waiter).
  uint64_t add_mutex_waiter(uint64_t mutex, uint64_t task);

  // PREEMPT_RT (6.12): struct mutex, rw_semaphore, spinlock and rwlock redefined on
  // struct rt_mutex_base, plus rt_mutex_waiter (tree.entry) and rb_node.
  void make_preempt_rt();
  // A global lock of struct_name whose rt_mutex_base sits at base_offset, owned by owner_task.
  uint64_t add_rt_lock(std::string struct_name, std::string name, uint64_t base_offset, uint64_t owner_task);
  // Queues task's rt_mutex_waiter (at waiter, e.g. on its stack) in base's waiters tree by
  // prio, points task->pi_blocked_on at it and sets RT_MUTEX_HAS_WAITERS.
  uint64_t add_rt_waiter(uint64_t base, uint64_t task, int prio, uint64_t waiter);

  // A csd queued on cpu's call_single_queue (llist push at the head).
  uint64_t queue_csd(int cpu, uint64_t func, uint64_t info, uint32_t flags = 0x11);
  // A remote wakeup of task pending on cpu's call_single_queue (its wake_entry, TTWU).
  uint64_t queue_ttwu(int cpu, uint64_t task);

  // A loaded module: struct module on the `modules` list, text_size bytes of mapped text
  // at 0xffffffffc0000000 + n MiB, and kallsyms for funcs (name, offset in text, size).
  struct ModuleFunc {
    std::string name;
    uint64_t offset;
    uint64_t size;
  };
  uint64_t add_module(std::string_view name, uint64_t text_size, const std::vector<ModuleFunc>& funcs);
  uint64_t module_base(uint64_t module);

  // list_head helpers over fake memory.
  void list_init(uint64_t head);
  void list_add_tail(uint64_t node, uint64_t head);

 private:
  void define_layouts();
  uint64_t new_task(int pid, int tgid, std::string_view comm, uint32_t state, int cpu);

  FakeTarget& t_;
  int ncpus_;
  uint64_t init_task_ = 0;
  uint64_t next_per_cpu_ = kPerCpuBase;
  int modules_ = 0;
};

}  // namespace kstuck::test
