// SPDX-License-Identifier: GPL-2.0
// Views of the hang analysis' scans for "kstuck xcall" and "kstuck mutex" (CLI and crash extension alike).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "analysis/hang/hang_snapshot.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hang/xcall.h"
#include "analysis/kernel/kernel_model.h"

namespace kstuck {

// What analyse_hang_with_model() reasons about, kept for display: the snapshot from the
// kernel model and the xcall and sleeping-lock scans over it.
struct HangScans {
  HangSnapshot snap;
  XcallScan xcalls;
  SleepingLockScan locks;
};
HangScans scan_hang_with_model(KernelModel& model);

// Every xcall (queued, locked in cfd_data/csd_data, on a waiter's stack); with cpu, only
// those that CPU must run or that it sent. Schema "kstuck-xcall/1".
std::string render_xcalls_json(const HangScans& scans, std::optional<int> cpu);
std::string render_xcalls_text(const HangScans& scans, std::optional<int> cpu);

// The mutexes and rwsems tasks sleep on: owner, flags, waiters in order, and how each
// waiter's lock was found. With an address, only that lock; an address no task waits
// on is read directly as a struct mutex (a read fault is the error). Schema "kstuck-mutex/1".
Result<std::string> render_mutexes_json(KernelModel& model, const HangScans& scans, std::optional<uint64_t> address);
Result<std::string> render_mutexes_text(KernelModel& model, const HangScans& scans, std::optional<uint64_t> address);

}  // namespace kstuck
