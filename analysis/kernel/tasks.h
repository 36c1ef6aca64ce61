// SPDX-License-Identifier: GPL-2.0
// All tasks of a dumped kernel: the task list, every thread, and the per-CPU idle tasks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/kernel/cpus.h"
#include "analysis/kernel/task_state.h"
#include "analysis/list_walk.h"

namespace kstuck {

struct TaskInfo {
  uint64_t address = 0;  // struct task_struct
  int pid = 0;
  int tgid = 0;
  std::string comm;
  uint32_t state_raw = 0;   // __state (or state before 5.14)
  uint32_t exit_state = 0;
  TaskState state;
  uint32_t flags = 0;       // PF_*
  int cpu = -1;             // task_struct.cpu (5.16+) or thread_info.cpu
  bool on_cpu = false;      // task_struct.on_cpu
  bool on_rq = false;       // task_struct.on_rq == TASK_ON_RQ_QUEUED: queued on cpu's runqueue
  int current_on = -1;      // the listed (online or stopped) CPU whose rq->curr this task is, else -1
  int offline_on = -1;      // the offline CPU whose rq->curr it is (its idle task), else -1
  uint64_t stack = 0;       // task_struct.stack (THREAD_SIZE bytes)
  uint64_t thread_sp = 0;   // thread.sp: its struct inactive_task_frame when switched out
  // sched_info.last_arrival: when it last got a CPU (rq clock, ns).
  std::optional<uint64_t> last_arrival;
  // How long since it last ran, ns: now_clock_task - se.exec_start (update_curr() stamps
  // exec_start when the task is dequeued to sleep); fallback now_clock - last_arrival.
  std::optional<uint64_t> since_ran_ns;
  // How long it has waited on its runqueue, ns: now_clock - sched_info.last_queued. The
  // scheduler stamps last_queued when the task is enqueued runnable (woken or preempted)
  // and clears it when the task gets the CPU, so unlike since_ran_ns this leaves out any
  // sleep before a wakeup. Only for queued tasks that are not running (CONFIG_SCHED_INFO).
  std::optional<uint64_t> queued_ns;
  std::vector<std::string> problems;

  // Where it ran when the dump was taken, though the dump may hold no registers for it:
  // the CPU of current_on or offline_on, else its own cpu while on_cpu is set and that
  // CPU's current task is not known to be another one (past switch_to(), thread.sp is
  // fresh); -1 when it was not running (thread.sp is where it stopped). Only a CPU's
  // current task runs on that CPU's registers: on_cpu alone makes its stack unknown.
  int running_on(const CpuSet& cpus) const;
  bool kthread() const { return flags & 0x00200000; }  // PF_KTHREAD
  bool idle_task() const { return flags & 0x00000002; }  // PF_IDLE
};

struct TaskLimits {
  size_t max_processes = 1 << 20;        // PID_MAX_LIMIT on 64-bit is 4M; leaders walked
  size_t max_threads_per_process = 1 << 16;
  size_t max_tasks = 1 << 20;
};

struct TaskSet {
  std::vector<TaskInfo> tasks;
  // How the walk of init_task.tasks ended; anything but complete means tasks are missing.
  WalkStatus walk_status = WalkStatus::Complete;
  std::vector<std::string> problems;
  const TaskInfo* by_pid(int pid) const;
  const TaskInfo* by_address(uint64_t address) const;
};

// Reads one task_struct (fields that cannot be read are listed in problems); states are
// the kernel's own state letters (read_task_state_table), nullptr for the built-in ones.
TaskInfo read_task(Fields& fields, uint64_t task, const CpuSet& cpus, const TaskStateTable* states = nullptr);

// Walks init_task.tasks and each leader's signal->thread_head (threads), adds the
// per-CPU idle tasks (rq->idle; pid 0 tasks are not on the task list), dedups, bounded.
TaskSet load_tasks(Fields& fields, const CpuSet& cpus, const TaskLimits& limits = {},
                   void (*progress)(size_t done, void* ctx) = nullptr, void* progress_ctx = nullptr);

}  // namespace kstuck
