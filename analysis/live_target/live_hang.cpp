// SPDX-License-Identifier: GPL-2.0
// Two-pass confirmation of wait edges and the live additions to the hang renderers.
#include "analysis/live_target/live_hang.h"

#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "analysis/hang/hang_json.h"
#include "analysis/hang/hang_render.h"

namespace kstuck {
namespace {

using EdgeKey = std::tuple<std::string, std::string, int>;

EdgeKey key_of(const WaitGraph& g, const WaitEdge& e) {
  return {g.nodes()[e.from].id, g.nodes()[e.to].id, static_cast<int>(e.kind)};
}

std::string captures_text(const LiveHangReport& r) {
  if (!r.captured || r.captures.empty()) return "no NMI capture (kstuck.ko not loaded): running CPUs' stacks unknown";
  std::string s = "NMI capture";
  s += r.captures.size() > 1 ? "s " : " ";
  for (size_t i = 0; i < r.captures.size(); ++i) s += (i ? " and " : "") + std::to_string(r.captures[i]);
  return s;
}

}  // namespace

LiveHangReport confirm_edges(const HangReport& first, const HangReport& second) {
  LiveHangReport out;
  std::set<EdgeKey> seen;
  for (const auto& e : first.graph.edges()) seen.insert(key_of(first.graph, e));
  std::set<EdgeKey> now;
  HangReport& r = out.report;
  for (const auto& n : second.graph.nodes()) r.graph.add_node(n);
  for (const auto& e : second.graph.edges()) {
    EdgeKey k = key_of(second.graph, e);
    now.insert(k);
    if (seen.count(k)) r.graph.add_edge(e.from, e.to, e.kind, e.evidence, e.confidence);
    else out.transient.push_back(e);
  }
  for (const auto& k : seen) out.vanished += !now.count(k);
  r.verdict = r.graph.analyse();
  r.warnings = second.warnings;
  if (second.verdict.verdict == Verdict::Unknown && r.verdict.verdict == Verdict::None) {
    r.verdict.verdict = Verdict::Unknown;
    r.verdict.reason = second.verdict.reason;
  }
  if (!out.transient.empty() || out.vanished)
    r.warnings.push_back("live: " + std::to_string(out.transient.size()) + " wait edge(s) seen only in the second pass and " +
                         std::to_string(out.vanished) +
                         " only in the first: transient, not used for the verdict");
  r.signature = hang_signature(r.graph, r.verdict);
  r.starved_after_ns = second.starved_after_ns;
  r.stall_evidence_ns = second.stall_evidence_ns;
  r.partial = second.partial || r.graph.full() || r.verdict.limited;
  return out;
}

std::string render_live_hang_json(const LiveHangReport& r) {
  auto base = nlohmann::ordered_json::parse(render_hang_json(r.report));
  const auto& nodes = r.report.graph.nodes();
  nlohmann::ordered_json j;
  for (auto it = base.begin(); it != base.end(); ++it) {
    j[it.key()] = it.value();
    if (it.key() == "schema") {
      j["source"] = "live";
      j["capture_seq"] = r.captured && !r.captures.empty() ? nlohmann::ordered_json(r.captures.back())
                                                           : nlohmann::ordered_json(nullptr);
      j["captures"] = r.captured ? nlohmann::ordered_json(r.captures) : nlohmann::ordered_json::array();
      j["passes"] = r.captures.empty() ? 2 : r.captures.size();
    }
  }
  for (auto& e : j["edges"]) e["transient"] = false;
  for (const auto& e : r.transient) {
    nlohmann::ordered_json ej = hang_edge_json(e, nodes);
    ej["transient"] = true;
    j["edges"].push_back(std::move(ej));
  }
  j["timing_ms"] = {{"symbols", r.symbols_ms}, {"types", r.types_ms}, {"capture", r.capture_ms},
                    {"read_and_analyse", r.read_ms}, {"total", r.total_ms}};
  j["symbols"] = r.symbol_source;
  j["transient_edges"] = r.transient.size();
  j["vanished_edges"] = r.vanished;
  return j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string render_live_hang_text(const LiveHangReport& r) {
  std::ostringstream o;
  o << "source: live (" << captures_text(r) << "; wait edges confirmed by a second pass)\n";
  o << render_hang_text(r.report);
  if (!r.transient.empty()) {
    const auto& nodes = r.report.graph.nodes();
    o << "\ntransient (seen in one pass only, not used for the verdict):\n";
    for (const auto& e : r.transient)
      o << "  " << nodes[e.from].label << " --" << edge_kind_name(e.kind) << "--> " << nodes[e.to].label << "\n";
  }
  return o.str();
}

std::string render_live_hang_dot(const LiveHangReport& r) {
  std::string dot = render_hang_dot(r.report);
  return "// source: live (" + captures_text(r) + ")\n" + dot;
}

}  // namespace kstuck
