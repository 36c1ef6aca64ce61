// SPDX-License-Identifier: GPL-2.0
// The hang report as JSON (schema kstuck-hang/2): verdict, signature, cycle/chain, nodes, edges.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/hang/hang_json.h"
#include "analysis/hang/hang_render.h"
#include "analysis/hex_text.h"

namespace kstuck {
namespace {

nlohmann::ordered_json node_json(const WaitNode& n) {
  nlohmann::ordered_json j;
  j["id"] = n.id;
  j["kind"] = node_kind_name(n.kind);
  j["label"] = n.label;
  if (n.cpu) j["cpu"] = *n.cpu;
  if (n.pid) j["pid"] = *n.pid;
  if (!n.comm.empty()) j["comm"] = n.comm;
  if (n.address) j["address"] = hex_text(*n.address);
  if (!n.symbol.empty()) j["symbol"] = n.symbol;
  if (!n.func.empty()) j["func"] = n.func;
  if (n.kind == NodeKind::Xcall) {
    j["type"] = n.xcall_type;
    j["queued"] = n.queued;
    j["locked"] = n.locked;
    j["source"] = n.state;
    if (n.target_cpu) j["target_cpu"] = *n.target_cpu;
    if (n.waiter_cpu) j["waiter_cpu"] = *n.waiter_cpu;
    if (n.waiter_pid) j["waiter_pid"] = *n.waiter_pid;
  }
  if (n.kind == NodeKind::Cpu) {
    if (n.irqs_off) j["irqs_off"] = *n.irqs_off;
    j["spinning"] = n.spinning;
    j["idle"] = n.idle;
    if (n.starved_pid) {
      j["starved_pid"] = *n.starved_pid;
      j["starved_comm"] = n.starved_comm;
      if (n.starved_ns) j["starved_ns"] = *n.starved_ns;
    }
    j["panicking"] = n.panicking;
    j["stopped_by_panic"] = n.stopped_by_panic;
    if (!n.witness.empty()) j["witness"] = n.witness;
    if (n.stalled_ns) {
      j["stalled_ns"] = *n.stalled_ns;
      j["stall_evidence"] = n.stall_evidence;
    }
    j["stall_evidenced"] = n.stall_evidenced;
  }
  if (n.kind == NodeKind::Spinlock) j["holder_unknown"] = n.holder_unknown;
  if (n.kind == NodeKind::Task) {
    if (n.runnable_on) j["runnable_on"] = *n.runnable_on;
    if (n.since_ran_ns) j["since_ran_ns"] = *n.since_ran_ns;
    if (n.queued_ns) j["queued_ns"] = *n.queued_ns;
  }
  if (!n.doing.empty()) j["doing"] = n.doing;
  if (n.kind == NodeKind::Task && !n.state.empty()) j["state"] = n.state;
  if ((n.kind == NodeKind::Mutex || n.kind == NodeKind::Rwsem) && !n.state.empty()) j["flags"] = n.state;
  if (n.kind == NodeKind::Mutex || n.kind == NodeKind::Rwsem) {
    j["waiters"] = n.waiter_pids;
    j["waiters_complete"] = n.waiters_complete;
    if (!n.notes.empty()) j["notes"] = n.notes;
  }
  if (!n.stack.empty()) j["stack"] = n.stack;
  return j;
}

}  // namespace

nlohmann::ordered_json hang_edge_json(const WaitEdge& e, const std::vector<WaitNode>& nodes) {
  nlohmann::ordered_json ej;
  ej["from"] = nodes[e.from].id;
  ej["to"] = nodes[e.to].id;
  ej["kind"] = edge_kind_name(e.kind);
  ej["inferred"] = e.inferred();
  ej["confidence"] = confidence_name(e.confidence);
  ej["evidence"] = e.evidence;
  return ej;
}

std::string render_hang_json(const HangReport& r) {
  const auto& nodes = r.graph.nodes();
  auto ids = [&](const std::vector<size_t>& v) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (size_t i : v) a.push_back(nodes[i].id);
    return a;
  };
  nlohmann::ordered_json j;
  j["schema"] = kHangJsonSchema;
  j["verdict"] = verdict_name(r.verdict.verdict);
  const bool claim = r.verdict.verdict == Verdict::Deadlock || r.verdict.verdict == Verdict::Stuck;
  j["confidence"] = claim ? nlohmann::ordered_json(confidence_name(r.verdict.confidence)) : nlohmann::ordered_json(nullptr);
  j["verdict_text"] = verdict_text(r.verdict);
  j["reason"] = r.verdict.reason;
  j["inferred_edges"] = nlohmann::ordered_json::array();
  for (size_t e : r.verdict.inferred_edges) {
    if (e >= r.graph.edges().size()) continue;
    const WaitEdge& w = r.graph.edges()[e];
    j["inferred_edges"].push_back({{"from", nodes[w.from].id}, {"to", nodes[w.to].id}, {"kind", edge_kind_name(w.kind)},
                                   {"evidence", w.evidence}});
  }
  j["signature"] = r.signature;
  j["cycle"] = ids(r.verdict.cycle);
  j["chain"] = ids(r.verdict.chain);
  j["chains"] = nlohmann::ordered_json::array();
  for (const auto& c : r.verdict.chains) j["chains"].push_back(ids(c));
  j["root_cause"] = r.verdict.root_cause ? nlohmann::ordered_json(nodes[*r.verdict.root_cause].id)
                                         : nlohmann::ordered_json(nullptr);
  j["partial"] = r.partial;
  j["starved_after_ns"] = r.starved_after_ns;
  j["stall_evidence_ns"] = r.stall_evidence_ns;
  nlohmann::ordered_json panic = nullptr;
  for (const auto& n : nodes)
    if (n.kind == NodeKind::Cpu && n.panicking && n.cpu && panic.is_null()) panic = *n.cpu;
  j["panic_cpu"] = panic;
  j["warnings"] = r.warnings;
  j["nodes"] = nlohmann::ordered_json::array();
  for (const auto& n : nodes) j["nodes"].push_back(node_json(n));
  j["edges"] = nlohmann::ordered_json::array();
  for (const auto& e : r.graph.edges()) j["edges"].push_back(hang_edge_json(e, nodes));
  // Never throw on odd bytes from a dump (a comm is not guaranteed UTF-8).
  return j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace kstuck
