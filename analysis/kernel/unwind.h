// SPDX-License-Identifier: GPL-2.0
// ORC stack unwinding of running CPUs (from saved registers) and sleeping tasks (thread.sp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/kernel/orc.h"

namespace kstuck {

// Where a stack lives; frames are labelled so a report can show IRQ/NMI crossings.
enum class StackKind { Task, Irq, Nmi, DoubleFault, Debug, Mce, Vc, Entry, User, Unknown };
const char* stack_kind_name(StackKind k);

struct StackRange {
  StackKind kind = StackKind::Unknown;
  uint64_t begin = 0, end = 0;  // [begin, end)
  bool contains(uint64_t a) const { return a >= begin && a < end; }
};

// The stacks a CPU/task can run on: its task stack plus the CPU's IRQ and exception stacks.
struct StackRanges {
  std::vector<StackRange> ranges;
  StackRange classify(uint64_t sp) const;
};

// The per-CPU IRQ stack (hardirq_stack_ptr, see percpu_hot.h), exception stacks (cea_exception_stacks) and
// entry (trampoline) stack, whose top is the TSS's sp0.
StackRanges cpu_stack_ranges(Fields& fields, int cpu);
// What to add to hardirq_stack_ptr's value to get the IRQ stack's end: 8 from 5.12, 0 before.
uint64_t irq_stack_ptr_to_end(Fields& fields);

enum class StopReason {
  EndOfStack,     // ORC end-of-stack marker (kernel thread start, entry from user)
  UserMode,       // reached a pt_regs frame from user space
  NoOrc,          // an IP without ORC data (and the frame-pointer guess did not help)
  Fault,          // a stack word could not be read
  BadOrc,         // an entry with an unknown register or type, or ORC says "undefined"
  WrongDirection, // the stack pointer did not move up on the same stack: corrupt or loop
  Limit,          // too many frames
  NoStart,        // nothing to start from (no registers, no thread.sp)
};
const char* stop_reason_name(StopReason r);

struct Frame {
  uint64_t ip = 0;
  uint64_t sp = 0;            // the stack pointer in this frame (CFA of the callee side)
  bool exact_ip = false;      // an interrupted/registers ip (not a return address)
  bool reliable = true;       // false after a frame-pointer guess
  StackKind stack = StackKind::Unknown;
  // RFLAGS of the context this frame ran in, when it comes from saved registers (a note,
  // a pt_regs or iret frame): whether an interrupted context had its interrupts off.
  std::optional<uint64_t> flags = std::nullopt;
};

struct Stack {
  std::vector<Frame> frames;
  StopReason stop = StopReason::EndOfStack;
  uint64_t stop_address = 0;  // faulting address, or the IP without ORC
  std::string detail;
  // Set when the saved registers' stack pointer lies on none of the CPU's known stacks
  // (task, IRQ, exception, entry): the registers themselves are then suspect, however
  // plausible the frames an unwind through rbp finds.
  std::string start_problem;
  bool complete() const { return stop == StopReason::EndOfStack || stop == StopReason::UserMode; }
};

struct UnwindLimits {
  size_t max_frames = 128;
  size_t max_stack_switches = 8;
};

class Unwinder {
 public:
  Unwinder(Fields& fields, OrcTables& orc, UnwindLimits limits = {});

  // A running CPU: start at the saved rip/rsp/rbp, the registers being the first frame.
  Stack from_registers(const CpuRegisters& regs, const StackRanges& stacks);
  // A switched-out task: struct inactive_task_frame at thread.sp holds bp and ret_addr.
  Stack from_thread_sp(uint64_t thread_sp, const StackRanges& stacks);

 private:
  struct State;
  Stack run(State& st, const StackRanges& stacks);
  bool get_reg(const State& st, int index, uint64_t& out) const;
  // The stack slot above sp holding a return address right after "call <ip's function>".
  std::optional<uint64_t> direct_call_return_slot(uint64_t ip, uint64_t sp, const StackRange& stack);
  // The caller's return slot of registers stopped in code ORC cannot describe:
  // direct_call_return_slot, else sp on the function's first instruction.
  std::optional<uint64_t> caller_return_slot(uint64_t ip, uint64_t sp, const StackRange& stack);

  Fields& fields_;
  OrcTables& orc_;
  UnwindLimits limits_;
  std::vector<uint64_t> fork_entries_;  // ret_from_fork_asm (6.5+) and ret_from_fork
  bool found_guess_ = false;  // the one entry-of-function guess of the current run
};

// Task stack range: [stack, stack + THREAD_SIZE). THREAD_SIZE is 16 KiB on x86-64 without
// KASAN (Debian's configs); it is not in the type info, so we take it as a constant.
inline constexpr uint64_t kThreadSize = 16384;

}  // namespace kstuck
