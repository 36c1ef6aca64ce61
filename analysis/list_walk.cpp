// SPDX-License-Identifier: GPL-2.0
// Bounded, cycle-safe list walks: a corrupt dump yields a marked prefix, never a hang.
#include "analysis/list_walk.h"

#include <unordered_set>

#include "analysis/fields.h"

namespace kstuck {

const char* walk_status_name(WalkStatus s) {
  switch (s) {
    case WalkStatus::Complete: return "complete";
    case WalkStatus::Limit: return "limit reached";
    case WalkStatus::Cycle: return "cycle";
    case WalkStatus::Fault: return "read fault";
    case WalkStatus::BadPointer: return "bad pointer";
    case WalkStatus::Changed: return "changed while reading";
  }
  return "unknown";
}

namespace {

// Shared walk: next_of reads a node's successor; done says the walk reached the end.
// prev_offset: where a node of a doubly linked list keeps its prev pointer, checked on a
// live target only (a dump's memory does not change; a bad back link there is left to the
// walk's other checks, as before).
template <typename IsEnd>
ListWalk walk(Target& target, uint64_t start_node, uint64_t next_offset, uint64_t member_offset, size_t limit,
              IsEnd is_end, bool null_ends, std::optional<uint64_t> prev_offset = std::nullopt) {
  ListWalk w;
  std::unordered_set<uint64_t> seen;
  uint64_t node = start_node;
  uint64_t from = 0;  // the node whose pointer led here (for diagnostics)
  while (true) {
    if (is_end(node)) return w;
    if (node == 0 && null_ends) return w;
    if (!is_kernel_pointer(node)) {
      w.status = WalkStatus::BadPointer;
      w.bad_link = from;
      w.error = Error(ErrorKind::Format, "bad list pointer", node);
      return w;
    }
    if (!seen.insert(node).second) {
      w.status = WalkStatus::Cycle;
      w.bad_link = from;
      w.error = Error(ErrorKind::Format, "list cycles back without reaching its head", node);
      return w;
    }
    if (w.entries.size() >= limit) {
      w.status = WalkStatus::Limit;
      w.error = Error(ErrorKind::Limit, "stopped after " + std::to_string(limit) + " entries", node);
      return w;
    }
    w.entries.push_back(node - member_offset);
    auto next = read_u64(target, node + next_offset);
    if (!next) {
      w.status = WalkStatus::Fault;
      w.bad_link = node;
      w.error = next.error();
      return w;
    }
    if (prev_offset && target.live() && *next) {
      // A node deleted meanwhile (list_del_rcu keeps its next) or moved to another list:
      // its successor's prev no longer names it. What follows is not this list's.
      auto back = read_u64(target, *next + *prev_offset);
      if (!back || *back != node) {
        w.status = WalkStatus::Changed;
        w.bad_link = node;
        w.error = Error(ErrorKind::Format, "changed while reading: the node after this one no longer links back", node);
        return w;
      }
    }
    from = node;
    node = *next;
  }
}

}  // namespace

ListWalk walk_list(Target& target, uint64_t head, uint64_t member_offset, size_t limit) {
  auto first = read_u64(target, head);
  if (!first) {
    ListWalk w;
    w.status = WalkStatus::Fault;
    w.bad_link = head;
    w.error = first.error();
    return w;
  }
  // struct list_head { next; prev; }
  return walk(target, *first, 0, member_offset, limit, [head](uint64_t n) { return n == head; }, false, uint64_t{8});
}

ListWalk walk_singly(Target& target, uint64_t first, uint64_t next_offset, uint64_t member_offset, size_t limit) {
  return walk(target, first, next_offset, member_offset, limit, [](uint64_t) { return false; }, true);
}

}  // namespace kstuck
