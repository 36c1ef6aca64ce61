// SPDX-License-Identifier: GPL-2.0
// rt_mutex: owners and the priority-ordered waiters rbtree, PREEMPT_RT's sleeping locks built on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/fields.h"

namespace kstuck {

// kernel/locking/rtmutex_common.h: the low bit of rt_mutex_base.owner.
inline constexpr uint64_t kRtMutexHasWaiters = 0x1;
// include/linux/rwbase_rt.h: rwbase_rt.readers (PREEMPT_RT's rwsem and rwlock_t).
inline constexpr uint32_t kRwbaseReaderBias = 1u << 31, kRwbaseWriterBias = 1u << 30;

// Where the members of struct rt_mutex_base and struct rt_mutex_waiter are, from type
// information. Absent members leave the layout unknown (why says which).
struct RtMutexLayout {
  std::string base_struct;     // "rt_mutex_base" (5.15+) or "rt_mutex" (before)
  uint64_t owner = 0;          // base.owner
  uint64_t waiters_root = 0;   // base.waiters.rb_root.rb_node
  uint64_t waiter_node = 0;    // rt_mutex_waiter.tree.entry (or tree_entry)
  uint64_t waiter_task = 0;
  uint64_t waiter_lock = 0;
  uint64_t rb_left = 0, rb_right = 0;
};
std::optional<RtMutexLayout> rt_mutex_layout(Fields& fields, std::string* why);

// Whether this kernel's struct mutex is an rt_mutex (CONFIG_PREEMPT_RT): decided by
// the type of its first lock member, never by a version or config string.
bool kernel_is_preempt_rt(Fields& fields);

// The kinds of lock PREEMPT_RT builds on an rt_mutex_base, and the plain rt_mutex.
enum class RtLockKind { Mutex, Rwsem, Spinlock, Rwlock, RtMutex };
// Offset of the rt_mutex_base inside the containing lock (mutex.rtmutex,
// rw_semaphore.rwbase.rtmutex, spinlock.lock, rwlock.rwbase.rtmutex, rt_mutex.rtmutex),
// nullopt when this kernel's type has no such member (not RT, or unknown layout).
std::optional<uint64_t> rt_base_offset(Fields& fields, RtLockKind kind);
// Offset of rwbase_rt.readers in an RT rw_semaphore / rwlock_t.
std::optional<uint64_t> rt_readers_offset(Fields& fields, RtLockKind kind);

struct RtWaiter {
  uint64_t waiter = 0;  // struct rt_mutex_waiter *
  uint64_t task = 0;
  bool lock_matches = true;  // waiter->lock points back at this rt_mutex_base
};

struct RtMutexState {
  uint64_t owner_task = 0;
  bool has_waiters_bit = false;
  std::vector<RtWaiter> waiters;  // in-order walk of the rbtree: priority order, top waiter first
  bool waiters_complete = true;
  std::string problem;            // why the walk stopped early, "" when complete
};

// Reads owner and walks the waiters rbtree iteratively (explicit stack, at most
// node_limit nodes, a node seen twice stops the walk): a corrupt tree cannot loop or
// recurse.
RtMutexState read_rt_mutex(Target& target, const RtMutexLayout& layout, uint64_t base, size_t node_limit = 4096);

}  // namespace kstuck
