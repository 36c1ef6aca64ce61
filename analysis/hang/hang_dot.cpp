// SPDX-License-Identifier: GPL-2.0
// The hang report as Graphviz DOT: CPUs, tasks, locks and xcalls as distinct shapes, the cycle in red.
#include <set>
#include <sstream>

#include "analysis/hang/hang_render.h"

namespace kstuck {
namespace {

// DOT string literal: labels come from the dump (comm, symbols), so escape everything.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c < 0x20 || c >= 0x7f) {
      out += '?';
      continue;
    }
    out += static_cast<char>(c);
  }
  return out + "\"";
}

const char* shape(NodeKind k) {
  switch (k) {
    case NodeKind::Cpu: return "box3d";
    case NodeKind::Task: return "ellipse";
    case NodeKind::Mutex: return "octagon";
    case NodeKind::Rwsem: return "doubleoctagon";
    case NodeKind::Spinlock: return "diamond";
    case NodeKind::Xcall: return "note";
  }
  return "box";
}

}  // namespace

std::string render_hang_dot(const HangReport& r) {
  std::ostringstream o;
  const auto& nodes = r.graph.nodes();
  std::set<size_t> in_cycle(r.verdict.cycle.begin(), r.verdict.cycle.end());
  std::set<std::pair<size_t, size_t>> cycle_edges;
  for (size_t k = 0; k < r.verdict.cycle.size(); ++k)
    cycle_edges.emplace(r.verdict.cycle[k], r.verdict.cycle[(k + 1) % r.verdict.cycle.size()]);
  std::set<size_t> used;
  for (const auto& e : r.graph.edges()) {
    used.insert(e.from);
    used.insert(e.to);
  }
  o << "digraph kstuck_hang {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n";
  o << "  label=" << quote(std::string("verdict: ") + verdict_name(r.verdict.verdict) +
                           (r.signature.empty() ? "" : "  signature " + r.signature))
    << "; labelloc=t;\n";
  for (size_t i = 0; i < nodes.size(); ++i) {
    const WaitNode& n = nodes[i];
    // Idle CPUs with no edge would only clutter the picture.
    if (!used.count(i) && n.kind == NodeKind::Cpu && !n.spinning && !n.irqs_off.value_or(false)) continue;
    o << "  n" << i << " [shape=" << shape(n.kind) << ", label=" << quote(n.label);
    if (in_cycle.count(i)) o << ", color=red, penwidth=2";
    else if (r.verdict.root_cause == i) o << ", color=orange, penwidth=2";
    o << "];\n";
  }
  for (const auto& e : r.graph.edges()) {
    o << "  n" << e.from << " -> n" << e.to << " [label="
      << quote(std::string(edge_kind_name(e.kind)) + (e.inferred() ? " (inferred)" : ""));
    if (cycle_edges.count({e.from, e.to})) o << ", color=red, penwidth=2";
    if (e.inferred()) o << ", style=dashed";
    o << "];\n";
  }
  o << "}\n";
  return o.str();
}

}  // namespace kstuck
