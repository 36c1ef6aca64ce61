// SPDX-License-Identifier: GPL-2.0
// HangSnapshot: the CPUs, tasks, stacks and clocks the hang analysis reasons about (built from the kernel model).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/kernel/unwind.h"
#include "analysis/target.h"

namespace kstuck {

// kThreadSize (unwind.h): stacks are also THREAD_SIZE aligned (vmalloc'ed with
// THREAD_ALIGN), which lets a stack pointer name its stack's bounds.
inline constexpr uint64_t kEflagsIf = 0x200;  // X86_EFLAGS_IF: interrupts enabled

struct StackFrame {
  uint64_t pc = 0;
  uint64_t sp = 0;        // where the return address was found (0 for the live RIP)
  std::string function;   // without "+off" and without ".constprop.0"-style suffixes
  std::string module;
  std::optional<uint64_t> flags = std::nullopt;  // RFLAGS when the frame comes from saved registers (Frame::flags)
};

struct TaskView {
  uint64_t task = 0;  // struct task_struct *
  int pid = -1;
  std::string comm;
  uint64_t state = 0;  // __state (or state before 5.14)
  char state_char = '?';
  int on_cpu = -1;     // the CPU it is current on, or -1
  int cpu = -1;        // task_struct.cpu (thread_info.cpu before 5.16): its runqueue, or the last one
  bool on_rq = false;  // queued on that runqueue (TASK_ON_RQ_QUEUED)
  std::optional<uint64_t> since_ran_ns;  // not current: how long since it last ran (TaskInfo)
  std::optional<uint64_t> queued_ns;     // queued, not current: how long on the runqueue (TaskInfo)
  uint64_t stack_base = 0;  // task->stack
  uint64_t sp = 0;          // thread.sp for a sleeping task, the CPU's rsp for a running one
  std::vector<StackFrame> frames;  // innermost first
  bool frames_complete = true;     // the unwind reached the stack's end (false: frames are cut short)

  // Waits for a CPU: runnable and queued, but not the task its CPU runs.
  bool runnable_not_running() const { return state_char == 'R' && on_rq && on_cpu < 0 && cpu >= 0; }
};

struct CpuView {
  int cpu = -1;
  uint64_t curr = 0;  // rq->curr
  bool idle = false;  // curr is the CPU's idle task, or RIP in the idle loop
  // Not in cpu_online_mask, its registers from its own note (CpuState::Stopped): another
  // CPU stopped it (panic's smp_send_stop()); a witness like the panicking CPU.
  bool stopped = false;
  std::optional<CpuRegisters> regs;
  std::vector<StackFrame> frames;  // from the saved RIP outwards
  bool frames_complete = true;     // the unwind reached the stack's end
  uint64_t clock = 0;       // rq->clock (ns): sched_info timestamps are in it
  uint64_t clock_task = 0;  // rq->clock_task (ns): se.exec_start is in it
  // The earliest expiry (CLOCK_MONOTONIC, ns) of the hrtimers queued on this CPU's
  // hrtimer_bases: clock_base[HRTIMER_BASE_MONOTONIC].active's leftmost timer, else
  // expires_next. A timer that expired long ago and is still queued was never run: the
  // CPU took no timer interrupt since then. Absent when unreadable or nothing is queued.
  std::optional<uint64_t> timer_expires;
  std::string timer_source;  // which of the two it is
};

// What the dump says about the time it was taken, for stall measurements.
struct DumpClock {
  // CLOCK_MONOTONIC "now", ns: last_jiffies_update (ktime of the last jiffies update,
  // kernel/time/tick-sched.c). Every CPU that ticks brings it forward (the do_timer CPU,
  // and since Linux commit a1ff03cd6fb9 ("tick: Detect and fix jiffies update stall") (in
  // v5.18) any CPU that sees jiffies stall), so it lags the dump by a few ticks at most
  // while any CPU runs its timer interrupt: stalls measured against it are lower bounds.
  std::optional<uint64_t> now_mono;
  std::string now_mono_source;
  // panic_cpu (kernel/panic.c): the CPU in panic() or crash_kexec(), -1 (absent) when none.
  std::optional<int> panic_cpu;
};

struct HangSnapshot {
  std::vector<CpuView> cpus;
  std::vector<TaskView> tasks;
  DumpClock clock;
  // The front-end knows the task list was read (false: the kernel model has none).
  bool task_list_read = true;
  std::vector<std::string> warnings;  // degraded parts ("page excluded", "task list cut")
  bool partial = false;

  const TaskView* task_at(uint64_t task) const;
  const TaskView* task_with_stack(uint64_t address) const;  // whose stack holds address
  const CpuView* cpu(int n) const;
};

// The function name a frame would print: symbol without offset and clone suffixes.
std::string function_name(Target& target, uint64_t address, std::string* module = nullptr);

// Whether any frame's function starts with one of the prefixes.
bool frames_have(const std::vector<StackFrame>& frames, std::initializer_list<std::string_view> prefixes);

}  // namespace kstuck
