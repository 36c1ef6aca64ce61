// SPDX-License-Identifier: GPL-2.0
// CpuActivity: what each CPU is doing (idle, spinning on a lock, waiting for an xcall, IRQs-off loop) and, for a spinlock, which lock and who may hold it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/hang/hang_snapshot.h"

namespace kstuck {

enum class CpuDoing { Unknown, Idle, Running, SpinlockWait, XcallWait, IrqsOffLoop };
const char* cpu_doing_name(CpuDoing d);

// A CPU that may hold a spinlock: it is not spinning on it, and its registers or its
// stack hold the lock's address. qspinlock records no owner, so this stays "inferred".
struct HolderCandidate {
  int cpu = -1;
  std::string evidence;
};

struct CpuActivity {
  int cpu = -1;
  CpuDoing doing = CpuDoing::Unknown;
  std::optional<bool> irqs_off;  // from EFLAGS.IF of the saved registers
  std::string where;             // the function it is in (below any interrupt it is handling)
  std::string interrupted_by;    // the innermost function of an interrupt on top, if any
  uint64_t lock = 0;             // SpinlockWait: the lock word, when recovered
  std::string lock_symbol;
  std::string lock_evidence;
  std::vector<HolderCandidate> holders;
  bool spinning() const {
    return doing == CpuDoing::SpinlockWait || doing == CpuDoing::XcallWait || doing == CpuDoing::IrqsOffLoop;
  }
};

// Classifies every CPU of the snapshot, recovers the lock word of each spinlock
// waiter (registers first, then the words just above its stack pointer: a pointer to
// a locked qspinlock word) and finds holder candidates among the other CPUs.
std::vector<CpuActivity> classify_cpus(Target& target, const HangSnapshot& snap);

}  // namespace kstuck
