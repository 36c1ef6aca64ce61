// SPDX-License-Identifier: GPL-2.0
// rt_mutex: layout from type information, owner decoding and a bounded, cycle-safe rbtree walk.
#include "analysis/hang/rt_mutex.h"

#include <set>

#include "analysis/list_walk.h"

namespace kstuck {

namespace {

bool type_is(Fields& fields, std::string_view s, std::string_view m, std::string_view type) {
  auto mem = fields.member(s, m);
  return mem && mem->type_name == type;
}

}  // namespace

std::optional<RtMutexLayout> rt_mutex_layout(Fields& fields, std::string* why) {
  RtMutexLayout l;
  // Since Linux commit 830e6acc8a1c ("locking/rtmutex: Split out the inner parts of
  // 'struct rtmutex'") (in v5.15) the owner and waiters live in struct rt_mutex_base.
  l.base_struct = fields.has("rt_mutex_base", "owner") ? "rt_mutex_base" : "rt_mutex";
  auto owner = fields.offset(l.base_struct, "owner");
  auto root = fields.offset(l.base_struct, "waiters.rb_root.rb_node");
  if (!root) root = fields.offset(l.base_struct, "waiters.rb_root");  // rb_node is its first member
  // Since Linux commit f7853c342418 ("locking/rtmutex: Fix task->pi_waiters integrity")
  // (in v6.5, backported to stable) the waiter's tree node is tree.entry, not tree_entry.
  auto node = fields.offset("rt_mutex_waiter", "tree.entry");
  if (!node) node = fields.offset("rt_mutex_waiter", "tree_entry");
  auto task = fields.offset("rt_mutex_waiter", "task");
  auto lock = fields.offset("rt_mutex_waiter", "lock");
  auto left = fields.offset("rb_node", "rb_left");
  auto right = fields.offset("rb_node", "rb_right");
  auto missing = [&](const char* what) {
    if (why) *why = std::string("no type information for ") + what;
    return std::nullopt;
  };
  if (!owner) return missing("rt_mutex_base.owner");
  if (!root) return missing("rt_mutex_base.waiters (rb_root_cached)");
  if (!node) return missing("rt_mutex_waiter.tree.entry / tree_entry");
  if (!task || !lock) return missing("rt_mutex_waiter.task / lock");
  if (!left || !right) return missing("rb_node.rb_left / rb_right");
  l.owner = *owner;
  l.waiters_root = *root;
  l.waiter_node = *node;
  l.waiter_task = *task;
  l.waiter_lock = *lock;
  l.rb_left = *left;
  l.rb_right = *right;
  return l;
}

bool kernel_is_preempt_rt(Fields& fields) {
  // include/linux/mutex_types.h: with CONFIG_PREEMPT_RT, struct mutex { struct
  // rt_mutex_base rtmutex; } (5.15+); 5.10's RT patch set had struct rt_mutex lock.
  return type_is(fields, "mutex", "rtmutex", "struct rt_mutex_base") ||
         type_is(fields, "mutex", "lock", "struct rt_mutex");
}

std::optional<uint64_t> rt_base_offset(Fields& fields, RtLockKind kind) {
  auto at = [&](std::string_view s, std::string_view m) -> std::optional<uint64_t> {
    auto mem = fields.member(s, m);
    if (!mem || (mem->type_name != "struct rt_mutex_base" && mem->type_name != "struct rt_mutex")) return std::nullopt;
    return mem->offset;
  };
  switch (kind) {
    case RtLockKind::Mutex:
      if (auto o = at("mutex", "rtmutex")) return o;
      return at("mutex", "lock");
    case RtLockKind::Rwsem:
      // include/linux/rwsem.h (RT): struct rw_semaphore { struct rwbase_rt rwbase; }.
      return at("rw_semaphore", "rwbase.rtmutex");
    case RtLockKind::Spinlock:
      // include/linux/spinlock_types.h (RT): typedef struct spinlock { struct rt_mutex_base lock; } spinlock_t.
      return at("spinlock", "lock");
    case RtLockKind::Rwlock:
      // include/linux/rwlock_types.h (RT): rwlock_t { struct rwbase_rt rwbase; atomic_t readers; }.
      if (auto o = at("rwlock", "rwbase.rtmutex")) return o;
      return at("rwlock_t", "rwbase.rtmutex");
    case RtLockKind::RtMutex:
      if (fields.has("rt_mutex", "rtmutex")) return at("rt_mutex", "rtmutex");
      return uint64_t{0};  // before 5.15 the rt_mutex itself holds owner and waiters
  }
  return std::nullopt;
}

std::optional<uint64_t> rt_readers_offset(Fields& fields, RtLockKind kind) {
  for (const char* s : {kind == RtLockKind::Rwsem ? "rw_semaphore" : "rwlock", kind == RtLockKind::Rwlock ? "rwlock_t" : ""}) {
    if (!*s || (kind != RtLockKind::Rwsem && kind != RtLockKind::Rwlock)) continue;
    if (auto o = fields.offset(s, "rwbase.readers")) return *o;
  }
  return std::nullopt;
}

RtMutexState read_rt_mutex(Target& target, const RtMutexLayout& layout, uint64_t base, size_t node_limit) {
  RtMutexState st;
  auto owner = read_u64(target, base + layout.owner);
  if (!owner) {
    st.waiters_complete = false;
    st.problem = "owner unreadable";
    return st;
  }
  st.owner_task = *owner & ~kRtMutexHasWaiters;
  st.has_waiters_bit = *owner & kRtMutexHasWaiters;
  auto root = read_u64(target, base + layout.waiters_root);
  if (!root) {
    st.waiters_complete = false;
    st.problem = "waiters root unreadable";
    return st;
  }
  // In-order walk (left, node, right): the tree is sorted by priority, then deadline,
  // so this is the order in which the waiters get the lock.
  std::vector<uint64_t> stack;
  std::set<uint64_t> seen;
  uint64_t cur = *root;
  size_t visited = 0;
  auto stop = [&](std::string why) {
    st.waiters_complete = false;
    st.problem = std::move(why);
  };
  while (cur || !stack.empty()) {
    while (cur) {
      if (!is_kernel_pointer(cur)) return stop("bad rb_node pointer"), st;
      if (!seen.insert(cur).second) return stop("rbtree loops"), st;
      if (++visited > node_limit) return stop("more than " + std::to_string(node_limit) + " waiters"), st;
      stack.push_back(cur);
      auto left = read_u64(target, cur + layout.rb_left);
      if (!left) return stop("rb_node unreadable"), st;
      cur = *left;
    }
    uint64_t node = stack.back();
    stack.pop_back();
    RtWaiter w;
    w.waiter = node - layout.waiter_node;
    auto task = read_u64(target, w.waiter + layout.waiter_task);
    auto lock = read_u64(target, w.waiter + layout.waiter_lock);
    if (!task) return stop("rt_mutex_waiter unreadable"), st;
    w.task = *task;
    w.lock_matches = lock && *lock == base;
    st.waiters.push_back(w);
    auto right = read_u64(target, node + layout.rb_right);
    if (!right) return stop("rb_node unreadable"), st;
    cur = *right;
  }
  return st;
}

}  // namespace kstuck
