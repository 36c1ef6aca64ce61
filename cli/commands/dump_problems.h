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
};

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
  }
  if (!info.build_id_matches) {
    p.degraded = true;
    bool said = false;
    for (const auto& n : info.notes) said = said || n.find("mismatch") != std::string::npos;
    if (!said) p.lines.push_back("dump: the vmlinux does not match the dump (build-id)");
  }
  return p;
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
