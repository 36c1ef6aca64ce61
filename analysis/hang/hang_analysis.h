// SPDX-License-Identifier: GPL-2.0
// HangAnalysis: joins xcalls, sleeping locks and CPU activity into the wait-for graph and its verdict.
#pragma once

#include <string>
#include <vector>

#include "analysis/hang/cpu_activity.h"
#include "analysis/hang/hang_snapshot.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hang/wait_graph.h"
#include "analysis/hang/xcall.h"

namespace kstuck {

struct HangReport {
  WaitGraph graph;
  GraphVerdict verdict;
  std::string signature;  // 16 hex digits: stable across dumps of the same bug
  std::vector<std::string> warnings;
  bool partial = false;
  uint64_t starved_after_ns = 0;  // the HangOptions threshold this report used
  uint64_t stall_evidence_ns = 0; // the HangOptions threshold this report used
};

struct HangOptions {
  // A runnable task kept off a busy CPU this long is starved, and the CPU a stuck end
  // of its wait chain. 20 s is the soft-lockup watchdog's limit (2 * watchdog_thresh)
  // for a CPU that does not schedule; a task merely queued behind busy ones waits
  // milliseconds, seconds under heavy overload.
  uint64_t starved_after_ns = 20'000'000'000ULL;
  // A CPU the dump's clocks show without a timer interrupt this long has a stall
  // evidenced beyond its one register sample (cpu_evidence.h): a STUCK verdict at it is
  // confirmed, and a panicking CPU stalled this long before its panic can be a root
  // cause. A healthy CPU takes its tick every 1-10 ms.
  uint64_t stall_evidence_ns = 1'000'000'000ULL;
};

// Builds the graph from the three scans (pure: no reads of its own).
HangReport build_hang_report(const HangSnapshot& snap, const XcallScan& xcalls, const SleepingLockScan& locks,
                             const std::vector<CpuActivity>& cpus, const HangOptions& options = {});

// A hash of the function names along the cycle (or the chain): independent of
// addresses, pids and CPU numbers, and of where the cycle was entered.
std::string hang_signature(const WaitGraph& graph, const GraphVerdict& verdict);

}  // namespace kstuck
