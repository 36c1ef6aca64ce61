// SPDX-License-Identifier: GPL-2.0
// The CPUs of a dumped kernel: online mask, per-CPU bases, runqueues, current tasks and saved registers.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "analysis/fields.h"

namespace kstuck {

// How a CPU's saved registers were tied to it. The dump's register notes are a list
// without CPU numbers: kdump leaves out the notes of offline CPUs and of CPUs that did
// not answer the crash NMI, so the n-th note is not CPU n's in general.
enum class RegsMatch {
  None,         // no registers for this CPU
  CrashNotes,   // the note equals this CPU's own crash_notes buffer in the dump's memory
  CrashMemory,  // taken from this CPU's crash_notes buffer (the dump's note list lacks it)
  QemuOrder,    // a QEMU dump: one note per vCPU, in vCPU order (pids 1..n are QEMU's, not tasks')
  DumpOrder,    // nothing identifies the notes: the n-th note of the n-th online CPU, pid checked
  NmiCapture,   // a live target's NMI capture: one record per CPU number (Target::captured_registers)
};
const char* regs_match_name(RegsMatch m);

// Whether a listed CPU was running when the dump was taken.
enum class CpuState {
  Online,   // in __cpu_online_mask
  // Not in __cpu_online_mask, yet its own register note says where it was: a CPU that
  // another one stopped without unplugging it. panic()'s smp_send_stop() parks every other
  // CPU in stop_this_cpu(), which clears only its bit in __cpu_online_mask
  // (set_cpu_online(cpu, false)); hotplug clears __cpu_active_mask first
  // (sched_cpu_deactivate()) and leaves the dead CPU in its idle task. Its rq->curr is
  // the task it was running when it stopped, and its registers are that task's present.
  Stopped,
  Offline,  // unplugged, or nothing tells (CpuSet::offline_cpus, never in CpuSet::cpus)
};
const char* cpu_state_name(CpuState s);  // "online", "stopped", "offline"

struct CpuInfo {
  int cpu = -1;
  uint64_t per_cpu_offset = 0;
  uint64_t rq = 0;            // this CPU's struct rq (per-CPU runqueues)
  uint64_t curr = 0;          // rq->curr: the task the scheduler last switched to
  uint64_t current_task = 0;  // the arch's `current` (current_task; pcpu_hot.current_task on 6.2-6.14), 0 unknown
  // The task whose stack the saved registers run on: current_task, except in the moment
  // of a context switch after __switch_to_asm moved the stack pointer to the next task's
  // stack and before __switch_to() set current_task to it (there rq->curr's, decided by
  // where rsp points). 0 when there are no registers.
  uint64_t regs_task = 0;
  uint64_t idle = 0;          // rq->idle: swapper/N (not on init_task.tasks)
  uint64_t clock = 0;         // rq->clock, ns of sched_clock; stale on a CPU that stopped ticking
  uint64_t clock_task = 0;    // rq->clock_task, the clock se.exec_start is kept in
  std::optional<CpuRegisters> regs;  // the registers the CPU saved when the dump was taken
  RegsMatch regs_match = RegsMatch::None;
  int regs_note = -1;         // index of the dump's note used (-1: none, or from memory)
  CpuState state = CpuState::Online;
  std::string state_detail;   // for a stopped CPU: why it is listed (not a problem: the report is whole)
  std::vector<std::string> problems;  // what could not be read, for the report
  // The task running on this CPU's registers: regs_task, else current_task, else rq->curr.
  uint64_t running_task() const { return regs_task ? regs_task : current_task ? current_task : curr; }
};

struct CpuSet {
  std::vector<CpuInfo> cpus;          // online and stopped CPUs (CpuState), ascending
  std::vector<int> stopped;           // the stopped ones among cpus, ascending
  std::vector<int> offline;           // present (or possible) CPUs that were offline, and not stopped
  std::vector<uint64_t> offline_idle; // their idle tasks (rq->idle): tasks too, on no CPU
  // One per offline CPU, as read (CpuState::Offline): its rq->curr (its idle task, which
  // an unplugged CPU dies in: play_dead()) runs there, and QEMU's note of that vCPU, when
  // the dump holds one, is its own registers; without them it is not unwound at all.
  std::vector<CpuInfo> offline_cpus;
  int register_notes = 0;             // register notes the dump holds
  std::vector<std::string> problems;  // global ones (online mask unreadable, notes unmatched, ...)
  // The newest scheduler clock among the CPUs: "now" for ages (a wedged CPU's is stale).
  // 0 when no CPU's clock is plausible (clock_problem says why): ages are then unknown.
  uint64_t now_clock = 0;
  uint64_t now_clock_task = 0;
  // Time since boot, ns: now_clock when it is plausible (and agrees with the timekeeper when
  // those can be read), else unknown with the reason in clock_problem.
  std::optional<uint64_t> uptime_ns;
  std::string uptime_source;  // "rq->clock", "timekeeper"
  std::string clock_problem;
  // The core timekeeper's CLOCK_BOOTTIME at its last tick, the second opinion on uptime_ns.
  std::optional<uint64_t> timekeeper_ns;
  std::string timekeeper_problem;  // why timekeeper_ns is unknown
  // The core timekeeper's xtime_sec (CLOCK_REALTIME seconds) at its last tick, if readable.
  std::optional<int64_t> wall_seconds;
  const CpuInfo* find(int cpu) const;          // an online or stopped CPU
  const CpuInfo* find_offline(int cpu) const;  // an offline one (offline_cpus)
};

// Reads __cpu_online_mask (bounded by nr_cpu_ids and 8192 CPUs) and, for each online
// CPU, __per_cpu_offset, runqueues.{curr,idle,clock,clock_task}, the arch's current task
// and the registers the dump saved, matched to CPUs by identity (see RegsMatch). A CPU
// whose data cannot be read is kept with its problems listed. A present CPU that is not
// online is listed as Stopped when a register note is its own by identity (its
// crash_notes with its current task's pid, or QEMU's note of that vCPU) and the kernel
// did not unplug it (still in __cpu_active_mask; rq->online, else a non-idle rq->curr,
// when that mask is unreadable); else it stays offline.
Result<CpuSet> load_cpus(Fields& fields);

// Address of a per-CPU variable's instance on a CPU.
Result<uint64_t> per_cpu_address(Fields& fields, std::string_view symbol, int cpu);

// The registers of one CPU's crash_notes buffer in the dump's memory (crash_save_cpu()
// writes an ELF NT_PRSTATUS note there when the kernel crashes); NotFound when the
// buffer holds no note (the CPU was offline, did not answer, or nothing crashed).
Result<CpuRegisters> crash_notes_registers(Fields& fields, int cpu);

}  // namespace kstuck
