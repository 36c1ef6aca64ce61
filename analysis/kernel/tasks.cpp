// SPDX-License-Identifier: GPL-2.0
// Loading tasks: bounded walks over the task list and thread groups, each task read by name.
#include "analysis/kernel/tasks.h"

#include <unordered_set>

namespace kstuck {

const TaskInfo* TaskSet::by_pid(int pid) const {
  for (const auto& t : tasks)
    if (t.pid == pid && !(pid == 0 && t.cpu != 0)) return &t;
  return nullptr;
}

int TaskInfo::running_on(const CpuSet& cpus) const {
  if (current_on >= 0) return current_on;
  if (offline_on >= 0) return offline_on;
  if (!on_cpu || cpu < 0) return -1;
  // on_cpu stays set from before switch_to() until finish_task_switch(): a task whose CPU
  // runs another one already switched away and saved a fresh thread.sp.
  const CpuInfo* c = cpus.find(cpu);
  if (!c) c = cpus.find_offline(cpu);
  uint64_t now = c ? c->running_task() : 0;
  if (now && now != address) return -1;
  return cpu;
}

const TaskInfo* TaskSet::by_address(uint64_t address) const {
  for (const auto& t : tasks)
    if (t.address == address) return &t;
  return nullptr;
}

TaskInfo read_task(Fields& f, uint64_t task, const CpuSet& cpus, const TaskStateTable* states) {
  TaskInfo t;
  t.address = task;
  auto note = [&](const char* what, const Error& e) { t.problems.push_back(std::string(what) + ": " + e.describe()); };
  if (auto v = f.read_int(task, "task_struct", "pid")) t.pid = int(*v); else note("pid", v.error());
  if (auto v = f.read_int(task, "task_struct", "tgid")) t.tgid = int(*v); else note("tgid", v.error());
  if (auto v = f.read_chars(task, "task_struct", "comm")) t.comm = *v; else note("comm", v.error());
  // Since Linux commit 2f064a59a11f ("sched: Change task_struct::state") (in v5.14) it is
  // `unsigned int __state`; before, `volatile long state` (read by its size either way).
  const char* state_member = f.has("task_struct", "__state") ? "__state" : "state";
  auto state = f.read_uint(task, "task_struct", state_member);
  if (state) t.state_raw = uint32_t(*state); else note("state", state.error());
  if (auto v = f.read_uint(task, "task_struct", "exit_state")) t.exit_state = uint32_t(*v);
  // An unreadable state is '?' (seen: makedumpfile -d 31 leaving out a task_struct's
  // page on 7.3), never the 'R' that a zero would decode to.
  if (state) t.state = decode_task_state(t.state_raw, t.exit_state, states);
  if (auto v = f.read_uint(task, "task_struct", "flags")) t.flags = uint32_t(*v);
  // Since Linux commit bcf9033e5449 ("sched: move CPU field back into thread_info if
  // THREAD_INFO_IN_TASK") (in v5.16) x86 keeps it in thread_info.cpu (6.1, 6.12 and 7.3
  // have no task_struct.cpu); before, task_struct.cpu.
  if (f.has("task_struct", "cpu")) {
    if (auto v = f.read_uint(task, "task_struct", "cpu")) t.cpu = int(*v);
  } else if (auto v = f.read_uint(task, "task_struct", "thread_info.cpu")) {
    t.cpu = int(*v);
  }
  if (auto v = f.read_uint(task, "task_struct", "on_cpu")) t.on_cpu = *v != 0;
  constexpr uint64_t kTaskOnRqQueued = 1;  // TASK_ON_RQ_QUEUED (2 is TASK_ON_RQ_MIGRATING)
  if (auto v = f.read_uint(task, "task_struct", "on_rq")) t.on_rq = *v == kTaskOnRqQueued;
  if (auto v = f.read_ptr(task, "task_struct", "stack")) t.stack = *v; else note("stack", v.error());
  if (auto v = f.read_uint(task, "task_struct", "thread.sp")) t.thread_sp = *v; else note("thread.sp", v.error());
  if (auto v = f.read_uint(task, "task_struct", "sched_info.last_arrival")) t.last_arrival = *v;
  // Running: the task on whose stack the CPU's registers are (CpuInfo::running_task():
  // inside a context switch, the one of prev and next whose stack rsp is on; the other
  // one's thread.sp is valid).
  for (const auto& c : cpus.cpus)
    if (c.running_task() == task) t.current_on = c.cpu;
  for (const auto& c : cpus.offline_cpus)
    if (c.running_task() == task) t.offline_on = c.cpu;
  if (t.current_on < 0 && cpus.now_clock) {
    auto exec_start = f.read_uint(task, "task_struct", "se.exec_start");
    if (exec_start && *exec_start && cpus.now_clock_task >= *exec_start)
      t.since_ran_ns = cpus.now_clock_task - *exec_start;
    else if (t.last_arrival && *t.last_arrival && cpus.now_clock >= *t.last_arrival)
      t.since_ran_ns = cpus.now_clock - *t.last_arrival;
    auto last_queued = f.read_uint(task, "task_struct", "sched_info.last_queued");
    if (t.on_rq && last_queued && *last_queued && cpus.now_clock >= *last_queued)
      t.queued_ns = cpus.now_clock - *last_queued;
  }
  return t;
}

TaskSet load_tasks(Fields& f, const CpuSet& cpus, const TaskLimits& limits, void (*progress)(size_t, void*),
                   void* progress_ctx) {
  TaskSet set;
  Target& target = f.target();
  TaskStateTable states = read_task_state_table(f);
  std::unordered_set<uint64_t> seen;
  auto add = [&](uint64_t task) {
    if (set.tasks.size() >= limits.max_tasks || !seen.insert(task).second) return;
    set.tasks.push_back(read_task(f, task, cpus, &states));
    if (progress && set.tasks.size() % 64 == 0) progress(set.tasks.size(), progress_ctx);
  };

  auto init_task = target.symbol_address("init_task");
  auto tasks_off = f.offset("task_struct", "tasks");
  if (!init_task || !tasks_off) {
    set.walk_status = WalkStatus::Fault;
    set.problems.push_back("task list: " + (!init_task ? init_task.error() : tasks_off.error()).describe());
  } else {
    ListWalk leaders = walk_list(target, *init_task + *tasks_off, *tasks_off, limits.max_processes);
    set.walk_status = leaders.status;
    if (!leaders.complete())
      set.problems.push_back(std::string("task list ") + walk_status_name(leaders.status) + " after " +
                             std::to_string(leaders.entries.size()) + " processes" +
                             (leaders.error ? ": " + leaders.error->describe() : ""));
    // init_task (swapper/0) heads the list and is not an entry of it.
    std::vector<uint64_t> all{*init_task};
    all.insert(all.end(), leaders.entries.begin(), leaders.entries.end());
    // Threads hang off signal->thread_head through task->thread_node (since 2.6.37,
    // 0c740d0afc3b "introduce for_each_thread()"); the leader is on that list too.
    bool threads = f.has("signal_struct", "thread_head") && f.has("task_struct", "thread_node");
    auto node_off = f.offset("task_struct", "thread_node");
    for (uint64_t leader : all) {
      add(leader);
      if (!threads || !node_off) continue;
      auto signal = f.read_ptr(leader, "task_struct", "signal");
      auto head_off = f.offset("signal_struct", "thread_head");
      if (!signal || !*signal || !head_off) continue;
      ListWalk group = walk_list(target, *signal + *head_off, *node_off, limits.max_threads_per_process);
      for (uint64_t thread : group.entries) add(thread);
      if (!group.complete()) {
        const TaskInfo* leader_info = set.by_address(leader);
        set.problems.push_back("threads of pid " + std::to_string(leader_info ? leader_info->pid : -1) + ": " +
                               walk_status_name(group.status) +
                               (group.error ? " (" + group.error->describe() + ")" : ""));
      }
    }
  }
  for (const auto& c : cpus.cpus)
    if (c.idle && is_kernel_pointer(c.idle)) add(c.idle);
  for (uint64_t idle : cpus.offline_idle) add(idle);
  // A running task's stack starts from its CPU's registers; without them it is unknown.
  for (const auto& t : set.tasks) {
    int cpu = t.running_on(cpus);
    if (cpu < 0) continue;
    const CpuInfo* c = cpus.find(cpu);
    if (!c) c = cpus.find_offline(cpu);
    if (c && c->regs && (t.current_on >= 0 || t.offline_on >= 0)) continue;
    set.problems.push_back("pid " + std::to_string(t.pid) + " (" + t.comm + "): running on CPU " + std::to_string(cpu) +
                           " when the dump was taken; no saved registers: its stack is unknown");
  }
  // Without the symbol the built-in letters are right for every kernel 4.14..7.3; a table
  // that exists but cannot be read is worth a line.
  if (!states.from_kernel && target.symbol_address("task_state_array"))
    set.problems.push_back("task state letters built in: " + states.problem);
  if (set.tasks.size() >= limits.max_tasks)
    set.problems.push_back("stopped at " + std::to_string(limits.max_tasks) + " tasks");
  return set;
}

}  // namespace kstuck
