// SPDX-License-Identifier: GPL-2.0
// The dump's own problems (truncated, a --force build-id mismatch, no register notes) as the hang, xcall and mutex reports carry them, and their exit codes.
#pragma once

#include <string>
#include <vector>

#include "analysis/kdump_target/kdump_target.h"

namespace kstuck::cli {

// Exit codes of `kstuck hang`, `xcall` and `mutex` (README "Exit codes"):
inline constexpr int kExitComplete = 0;  // a report from a dump read whole
inline constexpr int kExitUnusable = 1;  // no report: the dump or vmlinux cannot be used
inline constexpr int kExitUsage = 2;     // no report: bad command line
inline constexpr int kExitPartial = 3;   // a report, but partial (warnings say what is missing) or UNKNOWN

struct DumpProblems {
  std::vector<std::string> lines;  // the notes that degrade the report, "dump: ..."
  bool degraded = false;           // data is missing or may be wrong
  // The first note that takes away what any verdict rests on (VMCOREINFO and with it the
  // KASLR offset, the CPU register notes): a NONE drawn without it is UNKNOWN. Empty if none.
  std::string essential;
};

// Notes that say the dump lacks what a verdict needs (DumpFile and KdumpTarget word them).
inline bool essential_note(const std::string& n) {
  for (const char* p : {"the dump carries no VMCOREINFO", "no KASLR offset", "the dump carries no CPU register notes",
                        "register note ", "ELF note at byte ", "CPU register notes after"})
    if (n.rfind(p, 0) == 0) return true;
  return false;
}

// What DumpInfo says about the input. Notes are quirks handled or things that degrade
// the report; only the handled quirk of QEMU's empty utsname (the architecture is known
// anyway) leaves the report whole and out of its warnings (the crash extension, which
// reads the same dump through crash, prints the same report). A build-id mismatch
// accepted with --force degrades it: every symbol and layout may be wrong.
inline DumpProblems dump_problems(const DumpInfo& info) {
  DumpProblems p;
  for (const auto& n : info.notes) {
    if (n.rfind("dump header has an empty utsname", 0) == 0) continue;
    p.lines.push_back("dump: " + n);
    p.degraded = true;
    if (p.essential.empty() && essential_note(n)) p.essential = n;
  }
  if (!info.build_id_matches) {
    p.degraded = true;
    bool said = false;
    for (const auto& n : info.notes) said = said || n.find("mismatch") != std::string::npos;
    if (!said) p.lines.push_back("dump: the vmlinux does not match the dump (build-id)");
  }
  return p;
}

// Adds the reads that failed on damaged data during the analysis (KdumpTarget::read_problems).
inline void add_read_problems(DumpProblems& p, const KdumpTarget& target) {
  for (const auto& r : target.read_problems()) {
    p.lines.push_back("dump: " + r);
    p.degraded = true;
  }
}

// When no report can be made: the dump's own damage first (the cause: a missing
// VMCOREINFO, damaged notes, corrupt page tables), then the failure it led to.
inline std::string failure_with_causes(const KdumpTarget& target, const std::string& failure) {
  std::string out;
  for (const auto& n : target.info().notes)
    if (essential_note(n) || n.rfind("dump truncated", 0) == 0 || n.find("damaged") != std::string::npos)
      out += "dump: " + n + "\n  then: ";
  for (const auto& r : target.read_problems()) out += "dump: " + r + "\n  then: ";
  return out + failure;
}

// The text renderers' tail for what they do not print themselves: the snapshot's and
// the dump's warnings, and whether the result is partial.
inline std::string partial_text(const std::vector<std::string>& warnings, bool partial) {
  std::string out;
  for (const auto& w : warnings) out += "warning: " + w + "\n";
  if (partial) out += "note: partial result (see warnings)\n";
  return out;
}

}  // namespace kstuck::cli
