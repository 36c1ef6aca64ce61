// SPDX-License-Identifier: GPL-2.0
// Sleeping locks: on-stack waiter recovery, wait-list walks and owner decoding for mutex and rwsem.
#include "analysis/hang/sleeping_locks.h"

#include <algorithm>
#include <optional>
#include <set>

#include "analysis/code/disasm.h"
#include "analysis/code/held_locks.h"
#include "analysis/hang/cpu_activity.h"
#include "analysis/hang/rt_mutex.h"
#include "analysis/hex_text.h"
#include "analysis/list_walk.h"

namespace kstuck {

const char* sleeping_lock_kind_name(SleepingLockKind k) {
  switch (k) {
    case SleepingLockKind::Mutex: return "mutex";
    case SleepingLockKind::Rwsem: return "rwsem";
    case SleepingLockKind::Spinlock: return "spinlock";
    case SleepingLockKind::Rwlock: return "rwlock";
    case SleepingLockKind::RtMutex: return "rt_mutex";
  }
  return "?";
}

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

const KindInfo* kind_info(SleepingLockKind k) { return k == SleepingLockKind::Rwsem ? &kRwsem : &kMutex; }

// Which lock PREEMPT_RT built on the rt_mutex a task waits on, from the API frame on
// its stack (kernel/locking/spinlock_rt.c, rwsem/mutex in rtmutex_api.c). rwbase_*
// serves both rw_semaphore and rwlock_t, so the rwlock entry points are tried first.
RtLockKind rt_kind_from_frames(const TaskView& t) {
  if (frames_have(t.frames, {"rt_read_lock", "rt_write_lock"})) return RtLockKind::Rwlock;
  if (frames_have(t.frames, {"rt_spin_lock"})) return RtLockKind::Spinlock;
  if (frames_have(t.frames, {"down_read", "down_write", "__down_read", "__down_write", "rwsem_"}))
    return RtLockKind::Rwsem;
  if (frames_have(t.frames, {"rt_mutex_lock", "rt_mutex_trylock", "__rt_mutex_start_proxy_lock"}))
    return RtLockKind::RtMutex;
  // mutex_lock() ends in a tail call to rt_mutex_slowlock() (seen on Debian's 6.12 rt:
  // __schedule, rt_mutex_schedule, rt_mutex_slowlock_block, __rt_mutex_slowlock_locked,
  // rt_mutex_slowlock, caller), so no frame names it; on PREEMPT_RT an rt_mutex wait
  // without another API frame is a mutex (struct mutex and struct rt_mutex both start
  // with their rt_mutex_base: the address is the same either way).
  return RtLockKind::Mutex;
}

// kernel/locking/rtmutex_common.h: rt_mutex_init_rtlock_waiter() marks the waiters of
// PREEMPT_RT's spinlock_t/rwlock_t with wake_state TASK_RTLOCK_WAIT (include/linux/sched.h).
constexpr uint64_t kTaskRtlockWait = 0x1000;

SleepingLockKind from_rt(RtLockKind k) {
  switch (k) {
    case RtLockKind::Mutex: return SleepingLockKind::Mutex;
    case RtLockKind::Rwsem: return SleepingLockKind::Rwsem;
    case RtLockKind::Spinlock: return SleepingLockKind::Spinlock;
    case RtLockKind::Rwlock: return SleepingLockKind::Rwlock;
    case RtLockKind::RtMutex: return SleepingLockKind::RtMutex;
  }
  return SleepingLockKind::RtMutex;
}

const char* rt_container_member(RtLockKind k) {
  switch (k) {
    case RtLockKind::Mutex: return "mutex.rtmutex";
    case RtLockKind::Rwsem: return "rw_semaphore.rwbase.rtmutex";
    case RtLockKind::Spinlock: return "spinlock_t.lock";
    case RtLockKind::Rwlock: return "rwlock_t.rwbase.rtmutex";
    case RtLockKind::RtMutex: return "rt_mutex";
  }
  return "?";
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

std::string task_text(const HangSnapshot& snap, uint64_t task) {
  const TaskView* t = snap.task_at(task);
  return t ? "pid " + std::to_string(t->pid) : "task " + hex_text(task);
}

// The lock the kernel itself recorded for a blocked task, when this kernel records one.
struct RecordedLock {
  uint64_t lock = 0;
  SleepingLockKind kind = SleepingLockKind::Mutex;
  std::string source;  // "task->blocked_on", "task->blocker"
};

std::optional<RecordedLock> recorded_lock(Target& target, Fields& fields, uint64_t task) {
  // Proxy execution's "locking/mutex: Rework task_struct::blocked_on" made blocked_on
  // a struct mutex * the mutex slowpath sets for its whole wait. Before it, with
  // CONFIG_DEBUG_MUTEXES, blocked_on was a struct mutex_waiter *: not a lock, not used.
  if (auto m = fields.member("task_struct", "blocked_on"); m && m->type_name == "struct mutex *") {
    if (auto v = read_u64(target, task + m->offset); v && is_kernel_pointer(*v))
      return RecordedLock{*v, SleepingLockKind::Mutex, "task->blocked_on"};
  }
  // CONFIG_DETECT_HUNG_TASK_BLOCKER: "hung_task: show the blocker task if the task is
  // hung on mutex" (in v6.15) added struct mutex *blocker_mutex; "hung_task: replace
  // blocker_mutex with encoded blocker" (in v6.16) made it unsigned long blocker, the
  // lock's address with its type in the low 2 bits (include/linux/hung_task.h:
  // 0 mutex, 1 semaphore, 2 rwsem reader, 3 rwsem writer).
  if (auto m = fields.member("task_struct", "blocker"); m && m->size == 8) {
    if (auto v = read_u64(target, task + m->offset); v && is_kernel_pointer(*v)) {
      uint64_t type = *v & 0x3, lock = *v & ~uint64_t{0x3};
      if (type == 0) return RecordedLock{lock, SleepingLockKind::Mutex, "task->blocker (mutex)"};
      if (type >= 2)
        return RecordedLock{lock, SleepingLockKind::Rwsem,
                            type == 2 ? "task->blocker (rwsem reader)" : "task->blocker (rwsem writer)"};
    }
  } else if (auto bm = fields.member("task_struct", "blocker_mutex"); bm && bm->type_name == "struct mutex *") {
    if (auto v = read_u64(target, task + bm->offset); v && is_kernel_pointer(*v))
      return RecordedLock{*v, SleepingLockKind::Mutex, "task->blocker_mutex"};
  }
  return std::nullopt;
}

// How a mutex or rwsem keeps its waiters. Up to 7.0 the lock embeds a list_head
// `wait_list`; since 25500ba7e77c ("locking/mutex: Remove the list_head from struct
// mutex") (in v7.1), and the same series for rw_semaphore, it holds `first_waiter`, a
// pointer to the first waiter whose `list` links the others in a ring with no head.
struct WaitersLayout {
  uint64_t w_task = 0, w_list = 0;
  std::optional<uint64_t> wait_list;     // offsetof(lock, wait_list)
  std::optional<uint64_t> first_waiter;  // offsetof(lock, first_waiter)
};

std::optional<WaitersLayout> waiters_layout(Fields& fields, const KindInfo& k) {
  auto w_task = fields.offset(k.waiter_struct, "task");
  auto w_list = fields.offset(k.waiter_struct, "list");
  if (!w_task || !w_list) return std::nullopt;
  WaitersLayout l{*w_task, *w_list, std::nullopt, std::nullopt};
  if (auto head = fields.offset(k.lock_struct, "wait_list")) {
    l.wait_list = *head;
    return l;
  }
  if (auto first = fields.offset(k.lock_struct, "first_waiter")) {
    l.first_waiter = *first;
    return l;
  }
  return std::nullopt;
}

// The lock's waiters in queue order (container addresses), bounded and cycle-safe.
ListWalk walk_waiters(Target& target, const WaitersLayout& layout, uint64_t lock, size_t limit) {
  if (layout.wait_list) return walk_list(target, lock + *layout.wait_list, layout.w_list, limit);
  ListWalk out;
  auto first = read_u64(target, lock + *layout.first_waiter);
  if (!first) {
    out.status = WalkStatus::Fault;
    out.error = first.error();
    return out;
  }
  if (*first == 0) return out;
  if (!is_kernel_pointer(*first)) {
    out.status = WalkStatus::BadPointer;
    out.bad_link = lock + *layout.first_waiter;
    return out;
  }
  if (limit == 0) {
    out.status = WalkStatus::Limit;
    return out;
  }
  // The ring walked from the first waiter's own node: every other waiter, in order.
  out = walk_list(target, *first + layout.w_list, layout.w_list, limit - 1);
  out.entries.insert(out.entries.begin(), *first);
  return out;
}

// Whether a waiter whose task is `task` is linked on the lock's waiters.
bool linked_on(Target& target, Fields& fields, const KindInfo& k, uint64_t lock, uint64_t task, size_t limit) {
  auto layout = waiters_layout(fields, k);
  if (!layout) return false;
  ListWalk wl = walk_waiters(target, *layout, lock, limit);
  for (uint64_t w : wl.entries)
    if (auto t = read_u64(target, w + layout->w_task); t && *t == task) return true;
  return false;
}

// Owner, flags and readers of a mutex or rwsem (not PREEMPT_RT), with the owner edge's
// confidence (kernel/locking/rwsem.c: a reader leaves its task in owner when it releases).
void decode_owner(Fields& fields, const HangSnapshot& snap, uint64_t lock, SleepingLock& l) {
  if (l.kind == SleepingLockKind::Mutex) {
    auto owner = fields.read_uint(lock, "mutex", "owner.counter");
    if (!owner) owner = fields.read_uint(lock, "mutex", "owner");
    if (!owner) return;
    l.owner_task = *owner & ~kMutexFlags;
    l.flags = mutex_flags(*owner);
    l.owner_edge = l.owner_task != 0;
    l.owner_evidence = "owner field";
    return;
  }
  auto count = fields.read_uint(lock, "rw_semaphore", "count.counter");
  auto owner = fields.read_uint(lock, "rw_semaphore", "owner.counter");
  if (!count || !owner) return;
  l.writer_locked = *count & kRwsemWriterLocked;
  l.readers = static_cast<int64_t>(*count >> kRwsemReaderShift);
  l.owner_task = *owner & ~kRwsemOwnerFlags;
  l.owner_is_reader_hint = !l.writer_locked && (*owner & kRwsemReaderOwned);
  l.flags = rwsem_flags(*count, *owner);
  if (!l.owner_task) return;
  if (l.writer_locked && !(*owner & kRwsemReaderOwned)) {
    l.owner_edge = true;
    l.owner_evidence = "owner field; count says WRITER_LOCKED";
  } else if (l.owner_is_reader_hint && l.readers > 0) {
    // Readers are not tracked: owner names the last reader to take the lock, which may
    // be gone. A hint, drawn only while the count says some reader is still in.
    l.owner_edge = true;
    l.owner_inferred = true;
    l.owner_evidence = "owner field names " + task_text(snap, l.owner_task) +
                       " as a reader; readers are not tracked, it may have released (count: " +
                       std::to_string(l.readers) + (l.readers == 1 ? " reader in)" : " readers in)");
  }
  // Reader-owned with no reader in (or a writer bit without a writer owner): owner is
  // stale, no edge.
}

void walk_wait_list(Target& target, Fields& fields, uint64_t lock, size_t limit, SleepingLock& l,
                    std::vector<std::string>* problems) {
  const KindInfo& k = *kind_info(l.kind);
  auto layout = waiters_layout(fields, k);
  if (!layout) {
    l.waiters_complete = false;
    problems->push_back(std::string(k.lock_struct) + ": no type information for its waiters (" + k.waiter_struct +
                        ".task/.list, " + k.lock_struct + ".wait_list or .first_waiter)");
    return;
  }
  ListWalk wl = walk_waiters(target, *layout, lock, limit);
  l.waiters_complete = wl.complete();
  if (!wl.complete())
    problems->push_back(std::string(k.lock_struct) + " " + hex_text(lock) + ": waiters: " + walk_status_name(wl.status));
  for (uint64_t w : wl.entries)
    if (auto task = read_u64(target, w + layout->w_task)) l.waiters.push_back(*task);
}

// A PREEMPT_RT lock (or plain rt_mutex): owner and waiters from its rt_mutex_base.
void decode_rt(Target& target, Fields& fields, const RtMutexLayout& layout, RtLockKind kind,
               uint64_t container, uint64_t base, size_t limit, SleepingLock& l, std::vector<std::string>* problems) {
  l.rt = true;
  l.rt_base = base;
  l.note = kind == RtLockKind::Spinlock || kind == RtLockKind::Rwlock ? "sleeping (rt)"
           : kind == RtLockKind::RtMutex                              ? "rt_mutex"
                                                                      : "rt_mutex based (rt)";
  RtMutexState st = read_rt_mutex(target, layout, base, limit);
  if (!st.problem.empty())
    problems->push_back(std::string(sleeping_lock_kind_name(l.kind)) + " " + hex_text(container) + ": rt_mutex: " +
                        st.problem);
  l.waiters_complete = st.waiters_complete;
  for (const auto& w : st.waiters) {
    l.waiters.push_back(w.task);
    if (!w.lock_matches)
      problems->push_back("rt_mutex_waiter " + hex_text(w.waiter) + " on " + hex_text(base) + "'s tree points at another lock");
  }
  l.owner_task = st.owner_task;
  l.flags = st.has_waiters_bit ? "HAS_WAITERS" : "";
  l.owner_edge = st.owner_task != 0;
  l.owner_evidence = "rt_mutex owner field";
  if (kind != RtLockKind::Rwsem && kind != RtLockKind::Rwlock) return;
  auto off = rt_readers_offset(fields, kind);
  auto readers = off ? read_value<uint32_t>(target, container + *off)
                     : Result<uint32_t>(fail(ErrorKind::NotFound, "rwbase_rt.readers"));
  if (!readers) {
    problems->push_back(std::string(sleeping_lock_kind_name(l.kind)) + " " + hex_text(container) +
                        ": rwbase_rt.readers unreadable or unknown");
    return;
  }
  auto add = [&](const char* f) { l.flags += l.flags.empty() ? f : std::string("|") + f; };
  // include/linux/rwbase_rt.h: READER_BIAS while no writer is in or pending; a writer
  // takes the rt_mutex, removes READER_BIAS, waits for the readers to leave, then sets
  // WRITER_BIAS.
  if (*readers & kRwbaseReaderBias) {
    l.readers = *readers & ~kRwbaseReaderBias;
    add("READER_BIAS");
  } else if (*readers == kRwbaseWriterBias) {
    l.writer_locked = true;
    add("WRITER_LOCKED");
    l.owner_evidence = "rt_mutex owner field; readers says WRITER_BIAS";
  } else {
    l.readers = *readers;
    add("WRITER_PENDING");
    if (l.owner_task)
      l.owner_evidence = "rt_mutex owner field: the writer, which still waits for " + std::to_string(l.readers) +
                         " reader(s) to leave";
  }
}

// "down_read(&name) at f+0x1c" (or the address when the lock has no static name).
std::string read_call_text(const HeldLock& h, const std::string& name) {
  return h.api + "(" + (name.empty() ? hex_text(h.address) : "&" + name) + ") at " + h.where;
}

// The evidence of a code reader: the call, how its argument was followed, what the scan saw after it.
std::string reader_evidence(const HangSnapshot& snap, uint64_t task, const HeldLock& h, const std::string& name) {
  std::string ev = task_text(snap, task) + ": " + read_call_text(h, name) + " with " +
                   (h.state == "held" ? "no up_read before the return address"
                                      : "an up_read on another path (maybe released: " + h.unlock_where + ")") +
                   "; address " + h.how + " (" + h.method + ")";
  if (h.may_fail) ev += "; " + h.api + " may have returned without it (its return value is not followed)";
  return ev;
}

}  // namespace

void find_code_readers(Target& target, const HangSnapshot& snap, std::vector<SleepingLock>& locks,
                       std::vector<std::string>* problems, size_t task_limit) {
  std::vector<SleepingLock*> want;
  for (auto& l : locks)
    if (l.kind == SleepingLockKind::Rwsem && l.readers > 0 && !l.writer_locked) want.push_back(&l);
  if (want.empty()) return;
  auto dis = Disassembler::open();
  if (!dis) {
    for (auto* l : want) l->notes.push_back("readers not read from code: no disassembler: " + dis.error().message());
    return;
  }
  LockCode code(target, *dis);
  std::vector<std::vector<SleepingLock::CodeReader>> held(want.size()), maybe(want.size());
  std::vector<std::optional<StackLocks>> owner(want.size());
  size_t read = 0;
  for (const auto& t : snap.tasks) {
    if (t.frames.empty()) continue;
    if (++read > task_limit) {
      problems->push_back("rwsem readers from code: only the first " + std::to_string(task_limit) +
                          " tasks' stacks read");
      break;
    }
    StackLocks sl = read_task_locks(code, target, snap, t);
    for (size_t i = 0; i < want.size(); ++i) {
      const SleepingLock& l = *want[i];
      const HeldLock* best = nullptr;
      for (const auto& h : sl.locks)
        if (h.type == LockType::RwsemRead && h.address == l.address &&
            (h.state == "held" || h.state == "maybe released") && (!best || (best->state != "held" && h.state == "held")))
          best = &h;
      if (best)
        (best->state == "held" ? held : maybe)[i].push_back(
            {t.task, reader_evidence(snap, t.task, *best, l.symbol), best->state != "held"});
      if (l.owner_is_reader_hint && t.task == l.owner_task) owner[i] = sl;
    }
  }
  for (size_t i = 0; i < want.size(); ++i) {
    SleepingLock& l = *want[i];
    std::vector<SleepingLock::CodeReader> readers = held[i].empty() ? std::move(maybe[i]) : std::move(held[i]);
    // The owner field's reader hint against its own task's code.
    if (l.owner_is_reader_hint && l.owner_task) {
      const std::string who = task_text(snap, l.owner_task);
      auto self = std::find_if(readers.begin(), readers.end(), [&](const auto& r) { return r.task == l.owner_task; });
      if (self != readers.end()) {
        // Its code holds it too: one edge, the hint with the code's evidence.
        l.owner_evidence += "; its code holds it: " + self->evidence;
        readers.erase(self);
      } else if (!owner[i]) {
        l.notes.push_back("owner field names " + who + " as a reader; its stack was not read, so it stays a hint");
      } else {
        const StackLocks& sl = *owner[i];
        const HeldLock* released = nullptr;
        const HeldLock* unresolved = nullptr;
        const HeldLock* maybe_held = nullptr;  // only when another task surely holds it (readers took them)
        for (const auto& h : sl.locks) {
          if (h.type != LockType::RwsemRead) continue;
          if (h.address == l.address && h.state == "released" && !released) released = &h;
          if (h.address == l.address && h.state == "maybe released" && !maybe_held) maybe_held = &h;
          if (!h.address && (h.state == "held" || h.state == "maybe released") && !unresolved) unresolved = &h;
        }
        if (maybe_held) {
          l.notes.push_back("owner field names " + who + " as a reader; it stays a hint: its code took it and " +
                            "maybe released it (" + read_call_text(*maybe_held, l.symbol) + "; " +
                            maybe_held->unlock_where + ")");
        } else if (unresolved) {
          l.notes.push_back("owner field names " + who + " as a reader; it stays a hint: its " + unresolved->api +
                            " at " + unresolved->where + " took a lock whose address was not recovered (" +
                            unresolved->how + ")");
        } else if (released) {
          l.owner_edge = false;
          l.notes.push_back("owner field names " + who + " as a reader, but it is no owner: its code released it (" +
                            read_call_text(*released, l.symbol) + ", then " + released->unlock_where +
                            " on the straight path to the return address; " + released->method +
                            "); the kernel leaves the last reader in owner after up_read");
        } else if (sl.every_frame_read) {
          l.owner_edge = false;
          l.notes.push_back("owner field names " + who + " as a reader, but it is no owner: none of its " +
                            std::to_string(sl.frames_read) +
                            " frames (every one read from code) holds a read lock on it; the kernel leaves the "
                            "last reader in owner after up_read");
        } else {
          l.notes.push_back("owner field names " + who + " as a reader; it stays a hint: its code could not be read "
                            "in full (" + (sl.notes.empty() ? sl.regs_from : sl.notes.front()) + ")");
        }
      }
    }
    size_t found = readers.size() + (l.owner_edge && l.owner_is_reader_hint ? 1 : 0);
    if (readers.empty() && !(l.owner_edge && l.owner_is_reader_hint))
      l.notes.push_back("no task's code shows a read lock on it (count: " + std::to_string(l.readers) +
                        " reader(s) in): holder unknown");
    else if (static_cast<int64_t>(found) != l.readers)
      l.notes.push_back("count says " + std::to_string(l.readers) + " reader(s) in; " + std::to_string(found) +
                        " found (code and owner field)");
    l.code_readers = std::move(readers);
  }
}

Result<SleepingLock> read_sleeping_lock(Target& target, Fields& fields, const HangSnapshot& snap,
                                        SleepingLockKind kind, uint64_t address, size_t waiter_limit) {
  SleepingLock l;
  l.kind = kind;
  l.address = address;
  l.symbol = static_name(target, address);
  std::vector<std::string> problems;
  if (kernel_is_preempt_rt(fields) || kind == SleepingLockKind::Spinlock || kind == SleepingLockKind::Rwlock ||
      kind == SleepingLockKind::RtMutex) {
    std::string why;
    auto layout = rt_mutex_layout(fields, &why);
    if (!layout) return fail(ErrorKind::NotFound, why);
    RtLockKind rk = kind == SleepingLockKind::Mutex      ? RtLockKind::Mutex
                    : kind == SleepingLockKind::Rwsem    ? RtLockKind::Rwsem
                    : kind == SleepingLockKind::Spinlock ? RtLockKind::Spinlock
                    : kind == SleepingLockKind::Rwlock   ? RtLockKind::Rwlock
                                                         : RtLockKind::RtMutex;
    auto off = rt_base_offset(fields, rk);
    if (!off) return fail(ErrorKind::NotFound, std::string("no type information for ") + rt_container_member(rk));
    decode_rt(target, fields, *layout, rk, address, address + *off, waiter_limit, l, &problems);
  } else {
    auto probe = fields.read_uint(address, kind_info(kind)->lock_struct, "owner.counter");
    if (!probe) return tl::unexpected(probe.error().with_context(std::string(sleeping_lock_kind_name(kind)) + " " + hex_text(address)));
    decode_owner(fields, snap, address, l);
    walk_wait_list(target, fields, address, waiter_limit, l, &problems);
    if (!l.waiters_complete && l.waiters.empty())
      return fail(ErrorKind::Fault, std::string(sleeping_lock_kind_name(kind)) + " " + hex_text(address) +
                                        ": wait_list unreadable", address);
  }
  std::vector<SleepingLock> one{std::move(l)};
  find_code_readers(target, snap, one, &problems);
  return std::move(one.front());
}

SleepingLockScan scan_sleeping_locks(Target& target, Fields& fields, const HangSnapshot& snap, size_t waiter_limit) {
  SleepingLockScan out;
  auto warn = [&](std::string w) {
    out.partial = true;
    if (out.warnings.size() < 100) out.warnings.push_back(std::move(w));
  };
  std::set<uint64_t> known;
  const bool rt_kernel = kernel_is_preempt_rt(fields);
  auto pi_blocked_on = fields.offset("task_struct", "pi_blocked_on");
  std::string rt_why;
  std::optional<RtMutexLayout> rt_layout;
  bool rt_layout_tried = false;
  if (rt_kernel && !pi_blocked_on) warn("PREEMPT_RT kernel without task_struct.pi_blocked_on: lock waits not read");

  for (const auto& t : snap.tasks) {
    if (t.on_cpu >= 0) continue;  // a sleeping lock's waiter is off-CPU
    std::string who = "pid " + std::to_string(t.pid);

    // An rt_mutex wait: task->pi_blocked_on points at the task's on-stack
    // rt_mutex_waiter (kernel/locking/rtmutex.c, task_blocks_on_rt_mutex()) for as
    // long as it is queued. On PREEMPT_RT every mutex, rwsem, spinlock_t and rwlock_t.
    uint64_t pi_waiter = 0;
    if (pi_blocked_on)
      if (auto v = read_u64(target, t.task + *pi_blocked_on); v && is_kernel_pointer(*v)) pi_waiter = *v;
    if (pi_waiter) {
      if (!rt_layout_tried) {
        rt_layout = rt_mutex_layout(fields, &rt_why);
        rt_layout_tried = true;
        if (!rt_layout) warn("rt_mutex: " + rt_why + ": rt_mutex waits not read");
      }
      if (!rt_layout) continue;
      auto w_task = read_u64(target, pi_waiter + rt_layout->waiter_task);
      auto w_lock = read_u64(target, pi_waiter + rt_layout->waiter_lock);
      if (!w_task || !w_lock) {
        warn(who + ": pi_blocked_on " + hex_text(pi_waiter) + " unreadable");
        continue;
      }
      if (*w_task != t.task || !is_kernel_pointer(*w_lock)) {
        warn(who + ": pi_blocked_on " + hex_text(pi_waiter) + " names another task or no lock");
        continue;
      }
      uint64_t base = *w_lock;
      RtLockKind rk = rt_kernel ? rt_kind_from_frames(t) : RtLockKind::RtMutex;
      if (rt_kernel && rk != RtLockKind::Rwlock && rk != RtLockKind::Spinlock)
        if (auto ws = fields.read_uint(pi_waiter, "rt_mutex_waiter", "wake_state"); ws && *ws == kTaskRtlockWait)
          rk = RtLockKind::Spinlock;  // an rtlock waiter whose frames did not say rwlock
      auto off = rt_base_offset(fields, rk);
      if (!off) {
        warn(who + ": no type information for " + rt_container_member(rk) + ": shown as its rt_mutex");
        rk = RtLockKind::RtMutex;
        off = rt_base_offset(fields, rk);
        if (!off) off = uint64_t{0};
      }
      uint64_t lock = base - *off;
      SleepingLockKind kind = from_rt(rk);
      std::string evidence = "task->pi_blocked_on: its rt_mutex_waiter names it and this lock";
      if (rk != RtLockKind::RtMutex)
        evidence += std::string(" (") + rt_container_member(rk) + ", from its " +
                    (rk == RtLockKind::Spinlock ? "rt_spin_lock"
                     : rk == RtLockKind::Rwlock ? "rt_read/write_lock"
                     : rk == RtLockKind::Rwsem  ? "down_read/write"
                                                : "rt_mutex_slowlock (mutex_lock tail-calls it)") +
                    " frame)";
      if (known.insert(lock).second) {
        SleepingLock l;
        l.kind = kind;
        l.address = lock;
        l.symbol = static_name(target, lock);
        std::vector<std::string> problems;
        decode_rt(target, fields, *rt_layout, rk, lock, base, waiter_limit, l, &problems);
        for (auto& p : problems) warn(std::move(p));
        out.locks.push_back(std::move(l));
      }
      const SleepingLock* l = out.lock_at(lock);
      bool linked = l && std::find(l->waiters.begin(), l->waiters.end(), t.task) != l->waiters.end();
      if (linked) {
        evidence += "; linked in the lock's waiters rbtree";
      } else {
        evidence += "; not found in the lock's waiters rbtree";
        warn(who + ": pi_blocked_on names rt_mutex " + hex_text(base) + " but its waiters tree does not hold it");
      }
      out.blocked.push_back(BlockedOn{t.task, lock, kind, evidence, linked});
      continue;
    }
    if (rt_kernel) continue;  // PREEMPT_RT: no mutex_waiter/rwsem_waiter lists to search

    const KindInfo* k = blocked_kind(t);
    std::optional<RecordedLock> rec = recorded_lock(target, fields, t.task);
    if (!k && !rec) continue;
    if (!k) k = kind_info(rec->kind);
    auto layout = waiters_layout(fields, *k);
    if (!layout) {
      warn(std::string(k->lock_struct) + ": no type information for its waiters");
      continue;
    }
    const uint64_t* w_task = &layout->w_task;
    const uint64_t* w_list = &layout->w_list;
    uint64_t base = 0;
    std::vector<uint64_t> words = stack_words(target, t, 2048, &base);
    std::set<uint64_t> on_stack(words.begin(), words.end());

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
      ListWalk ring = walk_list(target, node, 0, waiter_limit);
      if (!ring.complete()) warn(who + ": wait ring: " + walk_status_name(ring.status));
      if (layout->wait_list) {
        // The lock's wait_list head is one of the ring's nodes.
        for (uint64_t n : ring.entries) {
          if (n < *layout->wait_list) continue;
          uint64_t cand = n - *layout->wait_list;
          if (on_stack.count(cand)) {
            lock = cand;
            evidence = "on-stack " + std::string(k->waiter_struct) +
                       " is linked on its wait_list; the lock address is on the stack";
            break;
          }
        }
      } else {
        // The ring holds only waiters: the lock is the stack word whose first_waiter
        // names one of them. Words pointing into this stack are skipped: the stack holds
        // pointers to its own waiter (and frames), whose neighbours can read as one.
        std::set<uint64_t> ring_waiters{waiter};
        for (uint64_t n : ring.entries) ring_waiters.insert(n - *w_list);
        const uint64_t own_stack = base & ~(kThreadSize - 1);
        for (uint64_t cand : on_stack) {
          if (!is_kernel_pointer(cand) || (cand & ~(kThreadSize - 1)) == own_stack) continue;
          auto first = read_u64(target, cand + *layout->first_waiter);
          if (first && ring_waiters.count(*first)) {
            lock = cand;
            evidence = "on-stack " + std::string(k->waiter_struct) +
                       " is in the waiter ring its first_waiter starts; the lock address is on the stack";
            break;
          }
        }
      }
    }
    if (rec) {
      if (lock && rec->lock == lock) {
        evidence += "; " + rec->source + " names it too";
      } else if (lock) {
        warn(who + ": " + rec->source + " names " + hex_text(rec->lock) + ", its stack " + hex_text(lock));
      } else if (rec->kind == (k == &kRwsem ? SleepingLockKind::Rwsem : SleepingLockKind::Mutex) &&
                 linked_on(target, fields, *k, rec->lock, t.task, waiter_limit)) {
        lock = rec->lock;
        evidence = rec->source + " names it; its " + k->waiter_struct + " is linked on the wait_list";
      }
    }
    if (!lock) {
      warn(who + " is in a " + k->lock_struct + " slowpath but its lock was not recovered");
      continue;
    }
    out.blocked.push_back(BlockedOn{t.task, lock, k->kind, evidence, true});
    if (!known.insert(lock).second) continue;

    SleepingLock l;
    l.kind = k->kind;
    l.address = lock;
    l.symbol = static_name(target, lock);
    decode_owner(fields, snap, lock, l);
    std::vector<std::string> problems;
    walk_wait_list(target, fields, lock, waiter_limit, l, &problems);
    for (auto& p : problems) warn(std::move(p));
    out.locks.push_back(std::move(l));
  }
  std::vector<std::string> problems;
  find_code_readers(target, snap, out.locks, &problems);
  for (auto& p : problems) warn(std::move(p));
  return out;
}

}  // namespace kstuck
