// SPDX-License-Identifier: GPL-2.0
// Sleeping locks: on-stack waiter recovery, wait-list walks and owner decoding for mutex and rwsem.
#include "analysis/hang/sleeping_locks.h"

#include <set>

#include "analysis/list_walk.h"

namespace kstuck {

const SleepingLock* SleepingLockScan::lock_at(uint64_t address) const {
  for (const auto& l : locks)
    if (l.address == address) return &l;
  return nullptr;
}

std::string static_name(Target& target, uint64_t address) {
  auto sym = target.symbol_at(address);
  if (!sym) return {};
  if (sym->address == address) return sym->name;
  // Only inside a sized object: a heap address must not borrow the nearest symbol.
  if (sym->size && address < sym->address + sym->size) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(address - sym->address));
    return sym->name + buf;
  }
  return {};
}

namespace {

struct KindInfo {
  SleepingLockKind kind;
  const char* lock_struct;
  const char* waiter_struct;
};

constexpr KindInfo kMutex{SleepingLockKind::Mutex, "mutex", "mutex_waiter"};
constexpr KindInfo kRwsem{SleepingLockKind::Rwsem, "rw_semaphore", "rwsem_waiter"};

const KindInfo* blocked_kind(const TaskView& t) {
  if (frames_have(t.frames, {"__mutex_lock", "mutex_lock"})) return &kMutex;
  if (frames_have(t.frames, {"rwsem_down_", "down_read", "down_write"})) return &kRwsem;
  return nullptr;
}

// The task's stack from its saved stack pointer to the top, at most max bytes.
std::vector<uint64_t> stack_words(Target& target, const TaskView& t, uint64_t max_bytes, uint64_t* base) {
  std::vector<uint64_t> words;
  if (!t.stack_base || t.sp < t.stack_base || t.sp >= t.stack_base + kThreadSize) return words;
  uint64_t lo = t.sp & ~uint64_t{7};
  uint64_t hi = std::min(t.stack_base + kThreadSize, lo + max_bytes);
  words.resize((hi - lo) / 8);
  for (uint64_t at = lo; at < hi;) {
    uint64_t chunk = std::min<uint64_t>(hi - at, 0x1000 - (at & 0xfff));
    if (!target.read(at, std::as_writable_bytes(std::span(words).subspan((at - lo) / 8, chunk / 8)))) {
      words.resize((at - lo) / 8);
      break;
    }
    at += chunk;
  }
  *base = lo;
  return words;
}

std::string mutex_flags(uint64_t owner) {
  std::string s;
  auto add = [&](const char* f) { s += s.empty() ? f : std::string("|") + f; };
  if (owner & kMutexFlagWaiters) add("WAITERS");
  if (owner & kMutexFlagHandoff) add("HANDOFF");
  if (owner & kMutexFlagPickup) add("PICKUP");
  return s;
}

std::string rwsem_flags(uint64_t count, uint64_t owner) {
  std::string s;
  auto add = [&](const char* f) { s += s.empty() ? f : std::string("|") + f; };
  if (count & kRwsemWriterLocked) add("WRITER_LOCKED");
  if (count & kRwsemFlagWaiters) add("WAITERS");
  if (count & kRwsemFlagHandoff) add("HANDOFF");
  if (owner & kRwsemReaderOwned) add("READER_OWNED");
  if (owner & 0x2) add("NONSPINNABLE");
  return s;
}

}  // namespace

SleepingLockScan scan_sleeping_locks(Target& target, Fields& fields, const HangSnapshot& snap, size_t waiter_limit) {
  SleepingLockScan out;
  auto warn = [&](std::string w) {
    out.partial = true;
    if (out.warnings.size() < 100) out.warnings.push_back(std::move(w));
  };
  std::set<uint64_t> known;

  for (const auto& t : snap.tasks) {
    if (t.on_cpu >= 0) continue;  // a sleeping lock's waiter is off-CPU
    const KindInfo* k = blocked_kind(t);
    if (!k) continue;
    auto w_task = fields.offset(k->waiter_struct, "task");
    auto w_list = fields.offset(k->waiter_struct, "list");
    auto l_wait = fields.offset(k->lock_struct, "wait_list");
    if (!w_task || !w_list || !l_wait) {
      warn(std::string(k->lock_struct) + ": no type information for its waiters");
      continue;
    }
    uint64_t base = 0;
    std::vector<uint64_t> words = stack_words(target, t, 2048, &base);
    std::set<uint64_t> on_stack(words.begin(), words.end());
    std::string who = "pid " + std::to_string(t.pid);

    // The on-stack waiter: a slot holding our own task pointer at waiter.task whose
    // list_head is consistently linked (next->prev == self == prev->next).
    uint64_t lock = 0;
    std::string evidence;
    for (size_t i = 0; i < words.size() && !lock; ++i) {
      if (words[i] != t.task) continue;
      uint64_t slot = base + 8 * i;
      if (slot < *w_task) continue;
      uint64_t waiter = slot - *w_task, node = waiter + *w_list;
      auto next = read_u64(target, node), prev = read_u64(target, node + 8);
      if (!next || !prev || !is_kernel_pointer(*next) || !is_kernel_pointer(*prev)) continue;
      auto np = read_u64(target, *next + 8), pn = read_u64(target, *prev);
      if (!np || !pn || *np != node || *pn != node) continue;
      // Walk the ring from the waiter: the lock's wait_list head is one of its nodes.
      ListWalk ring = walk_list(target, node, 0, waiter_limit);
      if (!ring.complete()) warn(who + ": wait ring: " + walk_status_name(ring.status));
      for (uint64_t n : ring.entries) {
        if (n < *l_wait) continue;
        uint64_t cand = n - *l_wait;
        if (on_stack.count(cand)) {
          lock = cand;
          evidence = "on-stack " + std::string(k->waiter_struct) + " is linked on its wait_list; the lock address is on the stack";
          break;
        }
      }
    }
    if (!lock) {
      warn(who + " is in a " + k->lock_struct + " slowpath but its lock was not recovered");
      continue;
    }
    out.blocked.push_back(BlockedOn{t.task, lock, k->kind, evidence});
    if (!known.insert(lock).second) continue;

    SleepingLock l;
    l.kind = k->kind;
    l.address = lock;
    l.symbol = static_name(target, lock);
    if (k->kind == SleepingLockKind::Mutex) {
      auto owner = fields.read_uint(lock, "mutex", "owner.counter");
      if (!owner) owner = fields.read_uint(lock, "mutex", "owner");
      if (owner) {
        l.owner_task = *owner & ~kMutexFlags;
        l.flags = mutex_flags(*owner);
      }
    } else {
      auto count = fields.read_uint(lock, "rw_semaphore", "count.counter");
      auto owner = fields.read_uint(lock, "rw_semaphore", "owner.counter");
      if (count && owner) {
        l.writer_locked = *count & kRwsemWriterLocked;
        l.readers = static_cast<int64_t>(*count >> kRwsemReaderShift);
        l.owner_task = *owner & ~kRwsemOwnerFlags;
        l.owner_is_reader_hint = !l.writer_locked && (*owner & kRwsemReaderOwned);
        l.flags = rwsem_flags(*count, *owner);
      }
    }
    ListWalk wl = walk_list(target, lock + *l_wait, *w_list, waiter_limit);
    l.waiters_complete = wl.complete();
    if (!wl.complete()) warn(std::string(k->lock_struct) + " " + std::to_string(lock) + ": wait_list: " +
                             walk_status_name(wl.status));
    for (uint64_t w : wl.entries)
      if (auto task = read_u64(target, w + *w_task)) l.waiters.push_back(*task);
    out.locks.push_back(std::move(l));
  }
  return out;
}

}  // namespace kstuck
