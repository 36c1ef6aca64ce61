// SPDX-License-Identifier: GPL-2.0
// Which locks (spinlock, rwlock, rwsem, mutex) a stack frame holds at its return address, read from the function's code.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/code/disasm.h"
#include "analysis/target.h"

namespace kstuck {

// The register values known in one frame (at its pc), each with how it was recovered.
struct FrameRegs {
  std::array<std::optional<uint64_t>, kGprCount> value{};
  std::array<std::string, kGprCount> how{};
  bool known(Gpr r) const { return r != Gpr::none && value[static_cast<size_t>(r)].has_value(); }
  uint64_t get(Gpr r) const { return value[static_cast<size_t>(r)].value_or(0); }
  void set(Gpr r, uint64_t v, std::string how_text) {
    value[static_cast<size_t>(r)] = v;
    how[static_cast<size_t>(r)] = std::move(how_text);
  }
  static FrameRegs from(const CpuRegisters& regs, const std::string& how_text);
  // A switched-out task's callee-saved registers at its first frame (the return address
  // into __schedule): struct inactive_task_frame at thread.sp, which __switch_to_asm
  // pushed (arch/x86/include/asm/switch_to.h). The members read are those its type
  // information has (x86-64: r15, r14, r13, r12, bx, bp); none: NotFound.
  static Result<FrameRegs> from_switch_frame(Target& target, uint64_t thread_sp);
};

// One frame of a stack as the code analysis needs it.
struct CodeFrame {
  uint64_t pc = 0;    // exact ip (innermost, or interrupted) or return address
  uint64_t sp = 0;    // the stack pointer in this frame (for a return address: just above it)
  bool exact = false; // pc is the instruction about to run, not a return address
};

// The lock functions of the kernel's spinlock API (kernel/locking/spinlock.c) and of the
// sleeping locks' (kernel/locking/rwsem.c, mutex.c; on PREEMPT_RT rwbase_rt.c and
// rtmutex_api.c under the same names). Read/Write are rwlock_t; RwsemRead/RwsemWrite
// an rw_semaphore taken for read or write.
enum class LockType { Spin, Read, Write, RwsemRead, RwsemWrite, Mutex };
const char* lock_type_name(LockType t);
// A lock that sleeps (rw_semaphore, mutex): a task may hold it while it sleeps.
bool lock_type_sleeps(LockType t);
struct LockFunction {
  const char* name;   // "_raw_spin_lock_irqsave"
  LockType type;
  bool acquire;       // false: an unlock
  bool irqs;          // _irq / _irqsave variants: IRQs off while held
  bool trylock;       // may return without the lock: a trylock, or a killable/interruptible wait a signal ends
  const char* api;    // how the caller wrote it: "spin_lock_irqsave"
};
std::span<const LockFunction> lock_functions();

enum class LockState {
  Held,           // acquired before the pc and no matching unlock between
  MaybeReleased,  // a matching (or unresolvable) unlock between, on a path that may not reach the pc
  Released,       // a matching unlock on the straight path to the pc
  Acquiring,      // the pc is the return address of this very call: it waits inside it
};
const char* lock_state_name(LockState s);

struct LockUse {
  const LockFunction* fn = nullptr;
  uint64_t call_site = 0;            // the call instruction
  std::string where;                 // "kstuck_x+0x2a"
  std::optional<uint64_t> address;   // the lock, when recovered
  std::string how;                   // "RIP-relative", "immediate", "rbx+0x10 (rbx: ...)", or why not
  LockState state = LockState::Held;
  std::string unlock_where;          // the unlock that released it (Released/MaybeReleased)
};

// The locks a frame's function took before its pc (linear scan; see FrameLocks::method).
struct FrameLocks {
  std::string function;
  std::vector<LockUse> locks;  // in code order, acquisitions only
  std::string method;          // how the code was read, for evidence
  std::string problem;         // why the frame could not be analysed (empty when it was)
};

// Reads kernel code through the Target and answers lock questions about frames. Caches
// decoded functions and symbol look-ups for one analysis.
class LockCode {
 public:
  LockCode(Target& target, Disassembler& dis);

  // The locks frame's function acquired before frame.pc, with the lock argument (rdi at
  // the call) followed back to an immediate, a RIP-relative address, a global pointer
  // loaded from memory, or a register (+ offset) whose value regs knows at the pc and
  // that nothing wrote between. Control flow is approximated by a linear scan of the
  // function from its start to the pc: branches are not followed.
  FrameLocks frame_locks(const CodeFrame& frame, const FrameRegs& regs);

  // Register values of every frame, innermost first: frame 0 gets `regs` (the dump's
  // saved registers); an interrupted frame gets the pt_regs found just below its stack
  // pointer; a caller gets the callee-saved registers its callee pushed in its prologue
  // (read from the stack), the others it inherits unchanged from the callee.
  std::vector<FrameRegs> recover_registers(const CpuRegisters& regs, std::span<const CodeFrame> frames);
  // The same from frame 0's registers as far as they are known (a switched-out task:
  // FrameRegs::from_switch_frame); an unknown register stays unknown in every caller.
  std::vector<FrameRegs> recover_registers(FrameRegs first, std::span<const CodeFrame> frames);

  // The lock function a call at this target address enters, if any.
  const LockFunction* lock_function_at(uint64_t target);

  std::string symbolize(uint64_t address);

 private:
  struct Decoded {
    FunctionCode code;
    std::vector<Insn> insns;
    std::string problem;
  };
  const Decoded& decoded(uint64_t pc);

  Target& target_;
  Disassembler& dis_;
  std::map<uint64_t, const LockFunction*> lock_by_address_;
  std::map<uint64_t, const LockFunction*> call_target_cache_;
  std::map<uint64_t, Decoded> functions_;   // by the function's start
  std::map<uint64_t, uint64_t> start_of_;   // pc -> function start
};

}  // namespace kstuck
