// SPDX-License-Identifier: GPL-2.0
// Sleeping locks: which mutex or rwsem each blocked task waits on, who owns it, who else waits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/hang/hang_snapshot.h"

namespace kstuck {

// kernel/locking/mutex.c (4.11+): the low bits of mutex.owner are flags.
inline constexpr uint64_t kMutexFlagWaiters = 0x01, kMutexFlagHandoff = 0x02, kMutexFlagPickup = 0x04,
                          kMutexFlags = 0x07;
// kernel/locking/rwsem.c (5.3+): count bits and owner bits.
inline constexpr uint64_t kRwsemWriterLocked = 0x1, kRwsemFlagWaiters = 0x2, kRwsemFlagHandoff = 0x4;
inline constexpr uint64_t kRwsemReaderShift = 8;
inline constexpr uint64_t kRwsemReaderOwned = 0x1, kRwsemOwnerFlags = 0x7;

enum class SleepingLockKind { Mutex, Rwsem };

struct SleepingLock {
  SleepingLockKind kind = SleepingLockKind::Mutex;
  uint64_t address = 0;
  std::string symbol;      // a static lock's name ("kstuck_abba_mutex_a", "foo+0x10")
  uint64_t owner_task = 0; // mutex owner / rwsem writer (or, reader-owned, the last reader)
  bool owner_is_reader_hint = false;  // rwsem owned by readers: owner_task is only a hint
  std::string flags;       // decoded, e.g. "WAITERS|HANDOFF"
  int64_t readers = 0;     // rwsem: active readers
  bool writer_locked = false;
  std::vector<uint64_t> waiters;  // task_struct addresses in wait_list order
  bool waiters_complete = true;
};

struct BlockedOn {
  uint64_t task = 0;
  uint64_t lock = 0;
  SleepingLockKind kind = SleepingLockKind::Mutex;
  std::string evidence;  // how the lock was found and confirmed
};

struct SleepingLockScan {
  std::vector<SleepingLock> locks;
  std::vector<BlockedOn> blocked;
  std::vector<std::string> warnings;
  bool partial = false;
  const SleepingLock* lock_at(uint64_t address) const;
};

// For every task off-CPU in a __mutex_lock*/rwsem_down_* frame: finds its on-stack
// waiter (mutex_waiter/rwsem_waiter whose task is itself), walks the waiter's ring
// (bounded, cycle-safe) to the lock's wait_list head, and confirms the lock by its
// address on the task's stack (the slowpath keeps it across schedule()). Then decodes
// owner, flags and the waiters in order.
SleepingLockScan scan_sleeping_locks(Target& target, Fields& fields, const HangSnapshot& snap,
                                     size_t waiter_limit = 4096);

// A static object's name from the symbol table, "" for heap objects.
std::string static_name(Target& target, uint64_t address);

}  // namespace kstuck
