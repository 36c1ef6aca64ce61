// SPDX-License-Identifier: GPL-2.0
// The hang report as text: the verdict first, then the cycle or chain with each actor's stack.
#include <set>
#include <sstream>

#include "analysis/hang/hang_render.h"

namespace kstuck {

std::string render_hang_text(const HangReport& r) {
  std::ostringstream o;
  const auto& nodes = r.graph.nodes();
  o << "verdict: " << verdict_text(r.verdict);
  if (!r.signature.empty()) o << "  (signature " << r.signature << ")";
  o << "\n  " << r.verdict.reason << "\n";
  if (r.verdict.verdict == Verdict::Deadlock || r.verdict.verdict == Verdict::Stuck)
    o << "confidence: " << confidence_name(r.verdict.confidence) << " ("
      << (r.verdict.confidence == Confidence::Confirmed
              ? std::string("every wait it rests on is kernel state") +
                    (r.verdict.verdict == Verdict::Stuck ? ", the stall is measured from the dump's clocks" : "")
          : !r.verdict.inferred_edges.empty()
              ? std::to_string(r.verdict.inferred_edges.size()) + " of its waits deduced, not read from kernel state"
              : std::string("its waits are kernel state, but the stall is one register sample: nothing in the dump "
                            "measures how long"))
      << ")\n";
  if (r.verdict.root_cause) {
    const WaitNode& root = nodes[*r.verdict.root_cause];
    o << "root cause candidate: " << root.label << "\n";
    if (root.kind == NodeKind::Cpu && root.stalled_ns && root.stall_evidenced)
      o << "  no timer interrupt for at least " << seconds_text(*root.stalled_ns) << ": " << root.stall_evidence << "\n";
  }
  for (const auto& n : nodes)
    if (n.kind == NodeKind::Cpu && (n.panicking || n.stopped_by_panic))
      o << (n.panicking ? "panic: " : "stopped by the panic: ") << "CPU " << n.cpu.value_or(-1)
        << " is a witness, not a suspect (" << n.witness << ")\n";
  if (r.partial) o << "note: partial result (see warnings)\n";

  const auto& seq = r.verdict.verdict == Verdict::Deadlock ? r.verdict.cycle : r.verdict.chain;
  if (!seq.empty()) {
    o << "\n" << (r.verdict.verdict == Verdict::Deadlock ? "cycle" : "longest chain") << ":\n";
    for (size_t k = 0; k < seq.size(); ++k) {
      const WaitNode& n = nodes[seq[k]];
      o << "  " << n.label << "\n";
      for (const auto& note : n.notes) o << "    (" << note << ")\n";
      if (k + 1 < seq.size() || r.verdict.verdict == Verdict::Deadlock) {
        size_t next = seq[(k + 1) % seq.size()];
        if (auto ei = r.graph.strongest_edge(seq[k], next)) {
          const WaitEdge& e = r.graph.edges()[*ei];
          o << "    --" << edge_kind_name(e.kind) << " (" << confidence_name(e.confidence) << ")--> ";
          o << (e.evidence.empty() ? "" : "[" + e.evidence + "]") << "\n";
        }
      }
    }
    o << "\nstacks:\n";
    std::set<size_t> shown;
    for (size_t i : seq) {
      const WaitNode& n = nodes[i];
      if (n.stack.empty() || !shown.insert(i).second) continue;
      o << "  " << n.label << "\n";
      for (const auto& f : n.stack) o << "    " << f << "\n";
    }
  }
  // More chains into the same root cause, one line each.
  for (size_t c = 1; c < r.verdict.chains.size(); ++c) {
    if (c == 1) o << "\nalso waiting on it:\n";
    o << " ";
    for (size_t k = 0; k < r.verdict.chains[c].size(); ++k)
      o << (k ? " -> " : " ") << nodes[r.verdict.chains[c][k]].label;
    o << "\n";
  }
  // Other waits the verdict did not pick, one line each.
  size_t others = 0;
  for (const auto& e : r.graph.edges()) {
    if (e.kind != EdgeKind::WaitsFor) continue;
    bool in_seq = false;
    for (const auto& c : r.verdict.chains)
      for (size_t i : c) in_seq = in_seq || i == e.from;
    for (size_t i : seq) in_seq = in_seq || i == e.from;
    if (in_seq) continue;
    if (others++ == 0) o << "\nother waits:\n";
    o << "  " << nodes[e.from].label << " waits for " << nodes[e.to].label << "\n";
  }
  if (!r.warnings.empty()) {
    o << "\nwarnings:\n";
    for (const auto& w : r.warnings) o << "  " << w << "\n";
  }
  return o.str();
}

}  // namespace kstuck
