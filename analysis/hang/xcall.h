// SPDX-License-Identifier: GPL-2.0
// Xcall (CSD) queues: pending and locked cross-CPU calls, with who sent them and who must run them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/hang/hang_snapshot.h"

namespace kstuck {

// kernel/smp.c since 5.11 (when irq_work and TTWU wakeups joined call_single_queue):
// the type lives in u_flags & CSD_FLAG_TYPE_MASK.
inline constexpr uint32_t kCsdFlagLock = 0x01;
inline constexpr uint32_t kCsdTypeMask = 0xF0;
inline constexpr uint32_t kCsdTypeAsync = 0x00, kCsdTypeSync = 0x10, kCsdTypeIrqWork = 0x20, kCsdTypeTtwu = 0x30;

const char* csd_type_name(uint32_t flags);

struct XcallEntry {
  uint64_t address = 0;      // the csd / irq_work / task's wake_entry node
  uint32_t flags = 0;        // u_flags
  std::string func;          // symbolized func (csd, irq_work); empty for TTWU
  uint64_t func_address = 0;
  uint64_t info = 0;
  std::optional<int> target_cpu;  // the CPU that must run it
  std::optional<int> sender_cpu;  // who asked (cfd/csd_data ownership, a waiter's CPU, or node.src)
  std::optional<int> waiter_pid;  // the task whose stack holds the csd (smp_call_function_single)
  uint64_t ttwu_task = 0;    // TTWU: the task to wake
  bool queued = false;       // on the target's call_single_queue
  std::string source;        // "call_single_queue", "cfd_data", "csd_data", "stack"
  bool locked() const { return flags & kCsdFlagLock; }
};

struct XcallScan {
  std::vector<XcallEntry> entries;
  std::vector<std::string> warnings;  // walks cut short (cycles, faults, limits)
  bool partial = false;
};

// Reads every CPU's call_single_queue, the locked csds of cfd_data (6.1 wraps each
// CPU's csd in struct cfd_percpu, reached as cfd_data.pcpu->csd; kernels without
// cfd_percpu have cfd_data.csd: which one is probed from the type information) and
// csd_data, and the on-stack csd of each task in
// smp_call_function_single. An entry seen twice (queued and locked) is reported once.
XcallScan scan_xcalls(Target& target, Fields& fields, const HangSnapshot& snap, size_t per_queue_limit = 4096);

}  // namespace kstuck
