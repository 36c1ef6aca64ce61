// SPDX-License-Identifier: GPL-2.0
// Bounded, cycle-safe walks of kernel linked lists (list_head and singly linked llist).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/target.h"

namespace kstuck {

// Why a walk stopped. Anything but Complete means the entries are a prefix of the list.
enum class WalkStatus {
  Complete,   // came back to the head (list_head) or reached NULL (llist)
  Limit,      // stopped after `limit` entries
  Cycle,      // a node came round again without passing the head: a corrupt list
  Fault,      // a next pointer could not be read (error says where)
  BadPointer, // a next pointer is NULL or not a kernel address
  Changed,    // live memory: a node's successor no longer links back to it (it moved or
              // left the list while being read)
};

const char* walk_status_name(WalkStatus s);

struct ListWalk {
  std::vector<uint64_t> entries;  // container addresses (node - member offset), in list order
  WalkStatus status = WalkStatus::Complete;
  std::optional<Error> error;     // for Fault: the read error; otherwise a description
  uint64_t bad_link = 0;          // the node whose next pointer was bad or looped
  bool complete() const { return status == WalkStatus::Complete; }
};

// Walks a circular list_head starting at head (the head itself is not an entry) and
// returns the containing objects, member_offset being offsetof(container, list member).
ListWalk walk_list(Target& target, uint64_t head, uint64_t member_offset, size_t limit);

// Walks a NULL-terminated singly linked list (llist, hlist): first is the first node,
// next_offset is where each node keeps its next pointer.
ListWalk walk_singly(Target& target, uint64_t first, uint64_t next_offset, uint64_t member_offset, size_t limit);

}  // namespace kstuck
