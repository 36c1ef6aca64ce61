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

// Spinlock and Rwlock are PREEMPT_RT's sleeping spinlock_t and rwlock_t; RtMutex a
// plain rt_mutex (PI futexes, RCU boosting, drivers) on any kernel.
enum class SleepingLockKind { Mutex, Rwsem, Spinlock, Rwlock, RtMutex };
// "mutex", "rwsem", "spinlock", "rwlock", "rt_mutex": JSON kinds and graph id prefixes.
const char* sleeping_lock_kind_name(SleepingLockKind k);

struct SleepingLock {
  SleepingLockKind kind = SleepingLockKind::Mutex;
  uint64_t address = 0;
  std::string symbol;      // a static lock's name ("kstuck_abba_mutex_a", "foo+0x10")
  uint64_t owner_task = 0; // mutex owner / rwsem writer (or, reader-owned, the last reader)
  bool owner_is_reader_hint = false;  // rwsem owned by readers: owner_task is only a hint
  // Whether the wait-for graph may draw lock -> owner_task, and how sure that edge is:
  // a mutex/rt_mutex owner or a write-locked rwsem's writer is confirmed; a reader-owned
  // rwsem's owner is an inferred hint, drawn only while the count says readers are in.
  bool owner_edge = false;
  bool owner_inferred = false;
  std::string owner_evidence;
  std::string flags;       // decoded, e.g. "WAITERS|HANDOFF"
  int64_t readers = 0;     // rwsem/rwlock: active readers
  bool writer_locked = false;
  bool rt = false;         // built on an rt_mutex (PREEMPT_RT): a sleeping lock
  uint64_t rt_base = 0;    // rt: its struct rt_mutex_base
  std::string note;        // "sleeping (rt)" for PREEMPT_RT's spinlock_t/rwlock_t and friends
  std::vector<uint64_t> waiters;  // task_struct addresses in wait_list order (rt: priority order)
  bool waiters_complete = true;
  // An rwsem with readers in: the tasks whose code took a read lock on it and has no
  // up_read before the return address (analysis/code over every task's stack). Readers
  // are not tracked by the kernel, so each is an inferred owner with its evidence.
  struct CodeReader {
    uint64_t task = 0;
    std::string evidence;       // "down_read(&x) at f+0x1c with no up_read before the return address; ..."
    bool maybe_released = false;  // an up_read on another path: weaker (only used when no task holds it for sure)
  };
  std::vector<CodeReader> code_readers;
  // Why the owner field's reader hint was dropped or kept, and how the readers the count
  // says are in compare with those found from code.
  std::vector<std::string> notes;
};

struct BlockedOn {
  uint64_t task = 0;
  uint64_t lock = 0;
  SleepingLockKind kind = SleepingLockKind::Mutex;
  std::string evidence;    // how the lock was found and confirmed
  bool confirmed = true;   // a linked waiter (wait_list / rbtree) names this task
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
// address on the task's stack (the slowpath keeps it across schedule()). Where the
// kernel records the lock itself (task_struct.blocked_on, the hung-task blocker), that
// is extra evidence, or the lock when the stack gave none (confirmed by the wait_list).
// A task with task_struct.pi_blocked_on set waits on an rt_mutex: on PREEMPT_RT that
// is every mutex, rwsem, spinlock_t and rwlock_t. Then decodes owner, flags and the
// waiters in order.
SleepingLockScan scan_sleeping_locks(Target& target, Fields& fields, const HangSnapshot& snap,
                                     size_t waiter_limit = 4096);

// The readers of every rwsem in `locks` that has readers in and no writer, found from
// code (SleepingLock::code_readers), and the owner field's reader hint weighed against
// its own task's code: when that task's frames show the read lock released (up_read
// after down_read on the straight path to the return address), or every frame of its
// stack was read and none holds it, the hint is no owner (owner_edge false) and notes
// say why. A hint whose task's code cannot be read in full stays, inferred. At most
// task_limit tasks' stacks are read.
void find_code_readers(Target& target, const HangSnapshot& snap, std::vector<SleepingLock>& locks,
                       std::vector<std::string>* problems, size_t task_limit = 20000);

// One lock read at an address (kstuck mutex ADDRESS): owner, flags, waiters; an RT
// kernel's mutex through its rt_mutex. The snapshot names reader-hint owners' pids.
Result<SleepingLock> read_sleeping_lock(Target& target, Fields& fields, const HangSnapshot& snap,
                                        SleepingLockKind kind, uint64_t address, size_t waiter_limit = 4096);

// A static object's name from the symbol table, "" for heap objects.
std::string static_name(Target& target, uint64_t address);

}  // namespace kstuck
