// SPDX-License-Identifier: GPL-2.0
// The live hang report: two passes over the running kernel, the verdict from the wait edges both passes saw.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis/hang/hang_analysis.h"

namespace kstuck {

struct LiveHangReport {
  // The second pass's nodes and the edges seen in both passes; its verdict and
  // signature come from those edges only.
  HangReport report;
  // Edges of the second pass the first did not have (node indices into report.graph):
  // transient, listed but never part of a verdict.
  std::vector<WaitEdge> transient;
  size_t vanished = 0;  // edges of the first pass the second no longer had
  std::vector<uint64_t> captures;  // the passes' NMI capture sequence numbers
  bool captured = false;           // every pass had an NMI capture
  // Wall-clock milliseconds, per pass: the NMI capture ioctl, and the model's reads of
  // /proc/kcore plus the analysis; total: from the command's start to the report.
  std::vector<double> capture_ms, read_ms;
  double total_ms = 0;
  double symbols_ms = 0, types_ms = 0;  // opening the target: symbols, BTF
  std::string symbol_source;            // where the symbols came from
};

// Joins two passes' reports: an edge is kept when both have it (same node ids at both
// ends, same kind), else it is transient. The verdict is drawn again from the kept
// edges; an UNKNOWN for missing data stays UNKNOWN.
LiveHangReport confirm_edges(const HangReport& first, const HangReport& second);

// The renderers of the dump report, with `source: live`, the capture sequence numbers
// and the transient edges added (JSON: "source", "capture_seq", "captures", "passes",
// each edge's "transient", transient edges appended to "edges").
std::string render_live_hang_json(const LiveHangReport& r);
std::string render_live_hang_text(const LiveHangReport& r);
std::string render_live_hang_dot(const LiveHangReport& r);

}  // namespace kstuck
