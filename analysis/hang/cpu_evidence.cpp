// SPDX-License-Identifier: GPL-2.0
// CpuEvidence: panic witnesses from panic_cpu and stacks; stall lower bounds from hrtimer expiries and runqueue clocks.
#include "analysis/hang/cpu_evidence.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "analysis/hang/wait_graph.h"

namespace kstuck {
namespace {

// panic() and what it calls on the panicking CPU (kernel/panic.c, kernel/kexec_core.c,
// arch/x86/kernel/crash.c, reboot.c), and the callers that only ever panic.
constexpr std::array<std::string_view, 14> kPanicFunctions = {
    "panic",          "vpanic",        "nmi_panic",        "panic_smp_self_stop",
    "nmi_panic_self_stop", "__crash_kexec", "crash_kexec", "sysrq_handle_crash",
    "machine_crash_shutdown", "native_machine_crash_shutdown", "crash_smp_send_stop",
    "kdump_nmi_shootdown_cpus", "nmi_shootdown_cpus", "crash_setup_regs"};

// Where the panicking CPU parks the others (smp_send_stop(), the crash NMI).
constexpr std::array<std::string_view, 5> kStoppedFunctions = {
    "stop_this_cpu", "smp_stop_nmi_callback", "crash_nmi_callback", "__sysvec_reboot", "sysvec_reboot"};

template <size_t N>
bool in(const std::array<std::string_view, N>& names, const std::string& f) {
  return std::find(names.begin(), names.end(), f) != names.end();
}

}  // namespace

bool is_panic_function(const std::string& f) { return in(kPanicFunctions, f); }

std::vector<CpuEvidence> cpu_evidence(const HangSnapshot& snap) {
  std::vector<CpuEvidence> out;
  uint64_t newest_clock = 0;
  for (const auto& c : snap.cpus) newest_clock = std::max(newest_clock, c.clock);
  for (const auto& c : snap.cpus) {
    CpuEvidence e;
    e.cpu = c.cpu;
    std::vector<std::string> why;
    if (snap.clock.panic_cpu && *snap.clock.panic_cpu == c.cpu) {
      e.panicking = true;
      why.push_back("panic_cpu = " + std::to_string(c.cpu));
    }
    for (const auto& f : c.frames) {
      if (is_panic_function(f.function)) {
        e.panicking = true;
        why.push_back("its stack is in " + f.function + "()");
        break;
      }
      if (in(kStoppedFunctions, f.function)) {
        e.stopped_by_panic = true;
        why.push_back("stopped by the panic in " + f.function + "()");
        break;
      }
    }
    if (c.stopped && !e.stopped_by_panic && !e.panicking) {
      e.stopped_by_panic = true;
      why.push_back("stopped: not in cpu_online_mask");
    }
    if (e.panicking) e.stopped_by_panic = false;
    for (size_t i = 0; i < why.size(); ++i) e.witness += (i ? "; " : "") + why[i];

    std::vector<std::string> how;
    uint64_t stall = 0;
    if (snap.clock.now_mono && c.timer_expires && *c.timer_expires < *snap.clock.now_mono) {
      uint64_t overdue = *snap.clock.now_mono - *c.timer_expires;
      stall = std::max(stall, overdue);
      how.push_back("its " + c.timer_source + " expired " + seconds_text(overdue) + " before " +
                    snap.clock.now_mono_source + " and never ran");
    }
    if (!c.idle && c.clock && newest_clock > c.clock) {
      uint64_t lag = newest_clock - c.clock;
      stall = std::max(stall, lag);
      how.push_back("rq->clock " + seconds_text(lag) + " behind the newest CPU's");
    }
    if (!how.empty()) {
      e.stalled_ns = stall;
      for (size_t i = 0; i < how.size(); ++i) e.stall_evidence += (i ? "; " : "") + how[i];
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kstuck
