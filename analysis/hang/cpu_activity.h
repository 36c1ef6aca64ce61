// SPDX-License-Identifier: GPL-2.0
// CpuActivity: what each CPU is doing (idle, spinning on a lock, waiting for an xcall, IRQs-off loop) and, for a spinlock, which lock and who may hold it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/code/held_locks.h"
#include "analysis/hang/hang_snapshot.h"

namespace kstuck {

enum class CpuDoing { Unknown, Idle, Running, SpinlockWait, XcallWait, IrqsOffLoop };
const char* cpu_doing_name(CpuDoing d);

// How strongly a holder candidate is shown, strongest first.
enum class HolderBasis {
  Code,               // a frame's code took the lock and no unlock is on the straight path to its pc
  CodeMaybeReleased,  // taken in code, but an unlock between (on another path) or the preempt count disagrees
  StackWord,          // only the lock's address in a register or on the stack
};
const char* holder_basis_name(HolderBasis b);

// A CPU that may hold a spinlock/rwlock: it is not spinning on it, and its code (or,
// weaker, its registers or stack) says it took it. qspinlock/qrwlock record no owner,
// so this stays "inferred", with the evidence.
struct HolderCandidate {
  int cpu = -1;
  std::string evidence;
  HolderBasis basis = HolderBasis::StackWord;
  std::string function;  // Code*: the function whose frame took the lock
};

// A lock a CPU's (or task's) frame took before its pc (read from the frame's code), or is acquiring.
struct HeldLock {
  uint64_t address = 0;       // 0: not recovered (`how` says why)
  std::string api;            // "spin_lock_irqsave"
  LockType type = LockType::Spin;
  bool irqs = false;          // an _irq/_irqsave variant
  bool read = false, write = false;  // rwlock_t
  bool may_fail = false;      // a trylock, killable or interruptible call: it may not have taken it
  std::string function;       // the frame's function
  std::string where;          // the call site, "kstuck_x+0x2a"
  std::string how;            // how the address was recovered
  std::string state;          // "held", "maybe released", "released", "acquiring"
  std::string unlock_where;   // maybe released / released: the unlock seen
  std::string method;         // how the code was read (linear scan, ...)
  size_t frame = 0;           // index in the stack's frames
  bool sleeping() const { return lock_type_sleeps(type); }
};

// What one stack's code says about its locks: every lock call before each frame's pc
// (analysis/code), released ones and ones whose address was not recovered included.
struct StackLocks {
  std::vector<HeldLock> locks;
  std::vector<std::string> notes;  // frames whose code could not be read, and why
  size_t frames_read = 0;          // frames analysed without a problem
  // Every frame of the stack was analysed without a problem, and the unwind reached
  // the stack's end: nothing in it took a lock the scan did not see.
  bool every_frame_read = false;
  std::string regs_from;           // where frame 0's registers came from, or why unknown
};

// The locks a task's frames took: registers for its first frame from its CPU's saved
// registers when it is current on one, else from its switch frame
// (FrameRegs::from_switch_frame, the callee-saved registers at __schedule's call of
// __switch_to_asm); callers' registers recovered frame by frame
// (LockCode::recover_registers). At most 32 frames.
StackLocks read_task_locks(LockCode& code, Target& target, const HangSnapshot& snap, const TaskView& task);

struct CpuActivity {
  int cpu = -1;
  CpuDoing doing = CpuDoing::Unknown;
  std::optional<bool> irqs_off;  // from EFLAGS.IF of the saved registers
  std::string where;             // the function it is in (below any interrupt it is handling)
  std::string interrupted_by;    // the innermost function of an interrupt on top, if any
  size_t context_frame = 0;      // frames[context_frame] is `where`: the interrupted context's
  uint64_t lock = 0;             // SpinlockWait: the lock word, when recovered
  std::string lock_symbol;
  std::string lock_evidence;
  std::vector<HolderCandidate> holders;
  std::vector<HeldLock> held;             // locks its frames hold or are acquiring (from code)
  std::optional<uint32_t> preempt_count;  // per-CPU __preempt_count / pcpu_hot.preempt_count
  std::vector<std::string> code_notes;    // frames whose code could not be read, and why
  bool spinning() const {
    return doing == CpuDoing::SpinlockWait || doing == CpuDoing::XcallWait || doing == CpuDoing::IrqsOffLoop;
  }
};

// Classifies every CPU of the snapshot; reads each CPU's frames' code for the locks they
// took (analysis/code: lock calls before the pc, the lock argument followed to a static
// address or a register + offset); recovers the lock of each spinlock waiter (the lock
// call its frame has not returned from, else a register or a stack word pointing at a
// locked lock word) and finds holder candidates among the other CPUs: by code first,
// weighed with their preempt count and IRQ state, else by the address in a register or
// on the stack. Tasks that are not on a CPU cannot hold a spinning lock (scheduling
// with one held is a bug the kernel reports), so only CPUs are searched.
std::vector<CpuActivity> classify_cpus(Target& target, const HangSnapshot& snap);

}  // namespace kstuck
