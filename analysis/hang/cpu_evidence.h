// SPDX-License-Identifier: GPL-2.0
// CpuEvidence: which CPUs are the panic's witnesses, and how long each CPU has taken no timer interrupt, from data in the dump.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/hang/hang_snapshot.h"

namespace kstuck {

// What the dump says about one CPU beyond its one register sample.
struct CpuEvidence {
  int cpu = -1;
  // The CPU that panicked or crashed into kdump: panic() and __crash_kexec() turn its
  // interrupts off, so that flag says nothing about a hang (DESIGN.md §6: a witness,
  // not a suspect).
  bool panicking = false;
  // A CPU the panicking one stopped (stop_this_cpu, the crash NMI): IRQs off by the panic too.
  bool stopped_by_panic = false;
  std::string witness;  // why it is a witness: "panic_cpu = 1; its stack is in panic()"
  // The CPU took no timer interrupt (no tick) for at least this long, ns: a lower bound
  // measured against the dump's clocks (see measure_stalls).
  std::optional<uint64_t> stalled_ns;
  std::string stall_evidence;  // how it was measured, for the report

  bool is_witness() const { return panicking || stopped_by_panic; }
};

// One entry per CPU of the snapshot, in its order.
//
// Witnesses: panic_cpu, and any CPU whose frames are in panic(), __crash_kexec() and
// friends (sysrq_handle_crash, hung_task's check_hung_uninterruptible_tasks reaches
// panic()) or in stop_this_cpu/crash_nmi_callback.
//
// Stalls, each a lower bound on how long the CPU has run no timer interrupt:
//  - its earliest queued CLOCK_MONOTONIC hrtimer (the tick is one) expired this long
//    before the dump's "now" (last_jiffies_update) and has not run;
//  - a CPU that is not in its idle task: rq->clock this long behind the newest CPU's
//    (scheduler_tick() updates it every tick; an idle CPU stops its tick legitimately).
std::vector<CpuEvidence> cpu_evidence(const HangSnapshot& snap);

// Whether a function (a frame's bare name) is part of a panic or a crash dump.
bool is_panic_function(const std::string& f);

}  // namespace kstuck
