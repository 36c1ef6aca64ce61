// SPDX-License-Identifier: GPL-2.0
// WaitGraph: bounded construction, iterative cycle search and longest-chain verdict.
#include "analysis/hang/wait_graph.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace kstuck {

const char* node_kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::Cpu: return "cpu";
    case NodeKind::Task: return "task";
    case NodeKind::Mutex: return "mutex";
    case NodeKind::Rwsem: return "rwsem";
    case NodeKind::Spinlock: return "spinlock";
    case NodeKind::Xcall: return "xcall";
  }
  return "unknown";
}

const char* edge_kind_name(EdgeKind k) {
  switch (k) {
    case EdgeKind::WaitsFor: return "waits_for";
    case EdgeKind::OwnedBy: return "owned_by";
    case EdgeKind::QueuedOn: return "queued_on";
    case EdgeKind::RunsOn: return "runs_on";
  }
  return "unknown";
}

const char* confidence_name(Confidence c) { return c == Confidence::Confirmed ? "confirmed" : "inferred"; }

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::None: return "NONE";
    case Verdict::Stuck: return "STUCK";
    case Verdict::Deadlock: return "DEADLOCK";
    case Verdict::Unknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::optional<size_t> WaitGraph::add_node(WaitNode node) {
  if (auto it = index_.find(node.id); it != index_.end()) return it->second;
  if (nodes_.size() >= kMaxNodes) {
    full_ = true;
    return std::nullopt;
  }
  size_t i = nodes_.size();
  index_.emplace(node.id, i);
  nodes_.push_back(std::move(node));
  return i;
}

std::optional<size_t> WaitGraph::find(const std::string& id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

bool WaitGraph::add_edge(size_t from, size_t to, EdgeKind kind, std::string evidence, Confidence confidence) {
  if (from >= nodes_.size() || to >= nodes_.size()) return false;
  auto key = std::make_tuple(from, to, static_cast<int>(kind));
  if (auto it = edge_index_.find(key); it != edge_index_.end()) {
    WaitEdge& e = edges_[it->second];
    if (e.inferred() && confidence == Confidence::Confirmed) {
      e.confidence = confidence;
      e.evidence = std::move(evidence);
    }
    return true;
  }
  if (edges_.size() >= kMaxEdges) {
    full_ = true;
    return false;
  }
  edge_index_.emplace(key, edges_.size());
  edges_.push_back(WaitEdge{from, to, kind, confidence, std::move(evidence)});
  return true;
}

bool is_stuck_sink(const WaitNode& n) {
  // A spinlock spun on with IRQs off, holder unknown: whoever holds it, the spinner
  // cannot go on until it is released, and nothing shows that it will be.
  if (n.kind == NodeKind::Spinlock) return n.holder_unknown;
  if (n.kind != NodeKind::Cpu || n.idle) return false;
  // A CPU that has not let a runnable task run for the starvation threshold (a
  // SCHED_FIFO hog, a kernel loop that never reschedules) is stuck for that task and
  // everything waiting on it; the threshold is time evidence of its own.
  if (n.starved_pid) return true;
  // A CPU busy with interrupts off takes no IPI and schedules nothing: nothing that
  // waits on it can go on until it stops by itself. Unless the panic turned them off:
  // a witness of the panic is stuck only when the dump's clocks show its stall began
  // before the panic (the hard-lockup detector's CPU, one the panic had to stop by NMI).
  if (!n.irqs_off.value_or(false)) return false;
  return !(n.panicking || n.stopped_by_panic) || n.stall_evidenced;
}

bool stall_is_evidenced(const WaitNode& n) {
  if (n.kind != NodeKind::Cpu) return false;
  return n.starved_pid.has_value() || n.stall_evidenced;
}

std::string verdict_text(const GraphVerdict& v) {
  std::string s = verdict_name(v.verdict);
  if ((v.verdict == Verdict::Deadlock || v.verdict == Verdict::Stuck) && v.confidence == Confidence::Inferred)
    s += " (inferred)";
  return s;
}

std::string seconds_text(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

namespace {

// Rotates a cycle so it starts at its smallest CPU/task id (any node if none): the
// same deadlock then prints, and hashes, the same way whatever the search order.
void canonical_rotation(const std::vector<WaitNode>& nodes, std::vector<size_t>& cycle) {
  if (cycle.empty()) return;
  size_t best = 0;
  auto actor = [&](size_t i) { return nodes[i].kind == NodeKind::Cpu || nodes[i].kind == NodeKind::Task; };
  for (size_t i = 1; i < cycle.size(); ++i) {
    const auto& a = nodes[cycle[i]];
    const auto& b = nodes[cycle[best]];
    if (actor(cycle[i]) != actor(cycle[best])) {
      if (actor(cycle[i])) best = i;
      continue;
    }
    if (a.id < b.id) best = i;
  }
  std::rotate(cycle.begin(), cycle.begin() + static_cast<long>(best), cycle.end());
}

// One cycle of the graph restricted to the edges adj holds, or empty. Iterative DFS
// with white/grey/black colouring; a grey target closes a cycle. Each node and edge is
// visited once, so the walk is O(V+E); the step bound only guards against a bug turning
// that into a loop.
std::vector<size_t> find_cycle(const std::vector<std::vector<size_t>>& adj, size_t edges, bool& limited) {
  const size_t n = adj.size();
  enum : uint8_t { White, Grey, Black };
  std::vector<uint8_t> colour(n, White);
  const size_t max_steps = 4 * (n + edges) + 16;
  size_t steps = 0;
  for (size_t root = 0; root < n; ++root) {
    if (colour[root] != White) continue;
    std::vector<std::pair<size_t, size_t>> stack;  // (node, next edge index)
    stack.emplace_back(root, 0);
    colour[root] = Grey;
    while (!stack.empty()) {
      if (++steps > max_steps) {
        limited = true;
        return {};
      }
      auto& [u, next] = stack.back();
      if (next >= adj[u].size()) {
        colour[u] = Black;
        stack.pop_back();
        continue;
      }
      size_t v = adj[u][next++];
      if (colour[v] == Grey) {
        // Cycle v -> ... -> u -> v: the grey nodes on the stack from v upwards.
        std::vector<size_t> cyc;
        for (auto it = stack.begin(); it != stack.end(); ++it)
          if (!cyc.empty() || it->first == v) cyc.push_back(it->first);
        return cyc;
      }
      if (colour[v] == White) {
        colour[v] = Grey;
        stack.emplace_back(v, 0);
      }
    }
  }
  return {};
}

}  // namespace

std::optional<size_t> WaitGraph::strongest_edge(size_t from, size_t to) const {
  std::optional<size_t> best;
  for (size_t i = 0; i < edges_.size(); ++i) {
    const WaitEdge& e = edges_[i];
    if (e.from != from || e.to != to) continue;
    if (!best || (edges_[*best].inferred() && !e.inferred())) best = i;
  }
  return best;
}

GraphVerdict WaitGraph::analyse() const {
  GraphVerdict out;
  const size_t n = nodes_.size();
  std::vector<std::vector<size_t>> adj(n), confirmed(n);
  for (const auto& e : edges_) {
    adj[e.from].push_back(e.to);
    if (!e.inferred()) confirmed[e.from].push_back(e.to);
  }

  // A deadlock is confirmed only by a cycle of confirmed edges (DESIGN.md §6): look for
  // one first, so that an inferred edge (a guessed spinlock holder, a reader-owned
  // rwsem's last reader) elsewhere cannot hide it; then any cycle, which is inferred.
  std::vector<size_t> best_cycle = find_cycle(confirmed, edges_.size(), out.limited);
  if (best_cycle.empty()) best_cycle = find_cycle(adj, edges_.size(), out.limited);
  if (!best_cycle.empty()) {
    canonical_rotation(nodes_, best_cycle);
    out.verdict = Verdict::Deadlock;
    out.cycle = best_cycle;
    out.chain = best_cycle;
    out.root_cause = best_cycle.front();
    std::string named;
    for (size_t k = 0; k < best_cycle.size(); ++k) {
      auto e = strongest_edge(best_cycle[k], best_cycle[(k + 1) % best_cycle.size()]);
      if (!e || !edges_[*e].inferred()) continue;
      out.inferred_edges.push_back(*e);
      const WaitEdge& w = edges_[*e];
      named += std::string(named.empty() ? "" : "; ") + nodes_[w.from].id + " " + edge_kind_name(w.kind) + " " +
               nodes_[w.to].id + (w.evidence.empty() ? "" : " (" + w.evidence + ")");
    }
    out.reason = "a cycle of " + std::to_string(best_cycle.size()) + " waits";
    if (out.inferred_edges.empty()) {
      out.reason += ", each confirmed by kernel state: none of them can ever end";
    } else {
      out.confidence = Confidence::Inferred;
      out.reason += "; " + std::to_string(out.inferred_edges.size()) + " of them inferred, not confirmed by kernel state: " +
                    named + ". If they hold, none of the waits can ever end";
    }
    return out;
  }

  // No cycle: the graph is a DAG. Longest path ending at each node, in topological
  // order (Kahn), preferring chains that end at a stuck sink.
  std::vector<size_t> indeg(n, 0);
  for (const auto& e : edges_) ++indeg[e.to];
  std::vector<size_t> order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (indeg[i] == 0) order.push_back(i);
  for (size_t k = 0; k < order.size(); ++k)
    for (size_t v : adj[order[k]])
      if (--indeg[v] == 0) order.push_back(v);
  std::vector<size_t> dist(n, 0), pred(n, SIZE_MAX);
  for (size_t u : order)
    for (size_t v : adj[u])
      if (dist[u] + 1 > dist[v]) {
        dist[v] = dist[u] + 1;
        pred[v] = u;
      }
  std::optional<size_t> best;
  for (size_t i = 0; i < n; ++i) {
    // A root cause waits on nothing itself: the end of a chain. A CPU whose stall the
    // dump's clocks show is one even when nothing waits on it yet (a hard lockup).
    if (!adj[i].empty()) continue;
    if (dist[i] == 0 && !(is_stuck_sink(nodes_[i]) && stall_is_evidenced(nodes_[i]))) continue;
    if (!best) {
      best = i;
      continue;
    }
    // A stuck sink first, one whose stall the dump's clocks show before one seen in a
    // single sample, then the longest chain.
    bool si = is_stuck_sink(nodes_[i]), sb = is_stuck_sink(nodes_[*best]);
    bool ei = stall_is_evidenced(nodes_[i]), eb = stall_is_evidenced(nodes_[*best]);
    if (si != sb ? si : (si && ei != eb) ? ei : dist[i] > dist[*best]) best = i;
  }
  if (!best) {
    out.reason = "nothing waits on anything";
    return out;
  }
  std::vector<size_t> chain;
  for (size_t v = *best; v != SIZE_MAX && chain.size() <= n; v = pred[v]) chain.push_back(v);
  std::reverse(chain.begin(), chain.end());
  out.chain = chain;
  out.chains.push_back(chain);
  // Other chains into the root cause: walk the reversed edges breadth-first from it;
  // each start (nothing waits on it) found leads back along `toward` to the root.
  {
    std::vector<std::vector<size_t>> radj(n);
    for (const auto& e : edges_) radj[e.to].push_back(e.from);
    std::vector<size_t> toward(n, SIZE_MAX);
    std::vector<bool> seen(n, false);
    std::vector<size_t> queue{*best};
    seen[*best] = true;
    for (size_t k = 0; k < queue.size(); ++k)
      for (size_t u : radj[queue[k]])
        if (!seen[u]) {
          seen[u] = true;
          toward[u] = queue[k];
          queue.push_back(u);
        }
    for (size_t u : queue) {
      if (!radj[u].empty() || u == chain.front() || out.chains.size() >= 32) continue;
      std::vector<size_t> c;
      for (size_t v = u; v != SIZE_MAX && c.size() <= n; v = toward[v]) c.push_back(v);
      out.chains.push_back(std::move(c));
    }
  }
  out.root_cause = *best;
  const WaitNode& root = nodes_[*best];
  if (is_stuck_sink(root)) {
    out.verdict = Verdict::Stuck;
    out.reason = chain.size() == 1 ? root.id + " is stuck by itself (nothing in the dump waits on it yet)"
                                   : "the longest wait chain ends at " + root.id;
    if (root.kind == NodeKind::Spinlock) {
      out.reason += ", spun on with interrupts off; its holder is unknown (no CPU or task is known to hold it)";
    } else {
      if (root.irqs_off.value_or(false)) out.reason += ", busy with interrupts off";
      if (root.starved_pid) {
        out.reason += std::string(root.irqs_off.value_or(false) ? ";" : ",") + " it has kept runnable pid " +
                      std::to_string(*root.starved_pid) + " " + root.starved_comm + " off the CPU for " +
                      seconds_text(root.starved_ns.value_or(0));
        if (root.pid) out.reason += " while running pid " + std::to_string(*root.pid) + " " + root.comm;
      }
      if (root.stall_evidenced && root.stalled_ns)
        out.reason += "; no timer interrupt for at least " + seconds_text(*root.stalled_ns) + " (" +
                      root.stall_evidence + ")";
      if (root.panicking) out.reason += "; it is the panicking CPU, but its stall began before the panic";
    }
    // Only as strong as the weakest edge of the chain and the evidence of the stall.
    std::string named;
    for (size_t k = 0; k + 1 < chain.size(); ++k) {
      auto e = strongest_edge(chain[k], chain[k + 1]);
      if (!e || !edges_[*e].inferred()) continue;
      out.inferred_edges.push_back(*e);
      const WaitEdge& w = edges_[*e];
      named += std::string(named.empty() ? "" : "; ") + nodes_[w.from].id + " " + edge_kind_name(w.kind) + " " +
               nodes_[w.to].id + (w.evidence.empty() ? "" : " (" + w.evidence + ")");
    }
    bool evidenced = stall_is_evidenced(root);
    if (!out.inferred_edges.empty() || !evidenced) {
      out.confidence = Confidence::Inferred;
      if (!out.inferred_edges.empty())
        out.reason += "; " + std::to_string(out.inferred_edges.size()) + " wait(s) of the chain inferred: " + named;
      if (!evidenced && root.kind == NodeKind::Cpu)
        out.reason += "; interrupts are off in its one register sample, and nothing in the dump shows for how long";
    }
  } else if (root.kind == NodeKind::Cpu && (root.panicking || root.stopped_by_panic)) {
    out.reason = "waits exist, but the longest chain ends at " + root.id + ", " +
                 (root.panicking ? "the panicking CPU" : "a CPU the panic stopped") +
                 (root.witness.empty() ? "" : " (" + root.witness + ")") +
                 ": a witness of the panic, its interrupts off because of it; what waits on it waits because of the panic";
  } else {
    out.reason = "waits exist, but the longest chain ends at " + root.id + ", which can still progress";
  }
  return out;
}

}  // namespace kstuck
