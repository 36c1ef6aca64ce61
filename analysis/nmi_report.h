// SPDX-License-Identifier: GPL-2.0
// NMI snapshot reports: per-CPU stacks, the identical-stack summary, as text or JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/nmi_records.h"

namespace kstuck {

// Names addresses for a report: live (/proc/kallsyms) or from a dump (module kallsyms).
class FrameNamer {
 public:
  virtual ~FrameNamer() = default;
  // "func+0x1c/0x80 [module]"; for a return address the lookup uses addr-1.
  virtual std::string format(uint64_t addr, bool return_address) = 0;
  // "func" alone (what the summary groups by); empty when unknown.
  virtual std::string function(uint64_t addr, bool return_address) = 0;
  // "kernel/smp.c:612" when debuginfo is at hand.
  virtual std::optional<std::string> source(uint64_t addr, bool return_address) = 0;
};

// CPUs whose stacks name the same functions (offsets ignored: idle CPUs stopped at
// different instructions of the same loop still group).
struct StackGroup {
  std::vector<uint32_t> cpus;
  std::vector<std::string> functions;  // innermost first
};
std::vector<StackGroup> group_stacks(const NmiSnapshot& snap, FrameNamer& namer);

// frames[i] is a return address except frames[0] of a CPU that saved interrupted regs.
bool nmi_frame_is_return_address(const NmiCpu& cpu, size_t index);

struct NmiReportOptions {
  bool stacks = true;    // every CPU's stack (else only the summary)
  bool summary = true;   // identical-stack groups
  bool registers = false;
};

std::string render_nmi_text(const NmiHistory& history, const std::vector<const NmiSnapshot*>& snaps,
                            FrameNamer& namer, const NmiReportOptions& options);
// Schema "kstuck-nmi/1": {"schema","format","snapshots":[...],"warnings":[...]}.
std::string render_nmi_json(const NmiHistory& history, const std::vector<const NmiSnapshot*>& snaps,
                            FrameNamer& namer, const NmiReportOptions& options);

}  // namespace kstuck
