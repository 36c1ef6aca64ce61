// SPDX-License-Identifier: GPL-2.0
// Tests of the wait-for graph on synthetic graphs: cycles, chains, bounds, signatures, DOT rendering.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "analysis/hang/hang_render.h"
#include "analysis/hang/wait_graph.h"

namespace kstuck {
namespace {

WaitNode node(std::string id, NodeKind kind, std::string func = {}) {
  WaitNode n;
  n.id = std::move(id);
  n.kind = kind;
  n.label = n.id;
  n.func = std::move(func);
  return n;
}

WaitNode cpu(int c, bool irqs_off, std::string doing, std::string func) {
  WaitNode n = node("cpu:" + std::to_string(c), NodeKind::Cpu, std::move(func));
  n.cpu = c;
  n.irqs_off = irqs_off;
  n.doing = std::move(doing);
  n.spinning = true;
  return n;
}

// ABBA: task A waits for mutex B owned by task B, which waits for mutex A owned by A.
WaitGraph abba(int pid_a, int pid_b, uint64_t ma, uint64_t mb) {
  WaitGraph g;
  auto ta = *g.add_node(node("task:" + std::to_string(pid_a), NodeKind::Task, "worker_a"));
  auto tb = *g.add_node(node("task:" + std::to_string(pid_b), NodeKind::Task, "worker_b"));
  WaitNode a = node("mutex:" + std::to_string(ma), NodeKind::Mutex);
  a.symbol = "lock_a";
  WaitNode b = node("mutex:" + std::to_string(mb), NodeKind::Mutex);
  b.symbol = "lock_b";
  auto na = *g.add_node(a);
  auto nb = *g.add_node(b);
  g.add_edge(ta, nb, EdgeKind::WaitsFor);
  g.add_edge(nb, tb, EdgeKind::OwnedBy);
  g.add_edge(tb, na, EdgeKind::WaitsFor);
  g.add_edge(na, ta, EdgeKind::OwnedBy);
  return g;
}

TEST(WaitGraph, AbbaIsADeadlockListedInOrder) {
  WaitGraph g = abba(200, 100, 0x1000, 0x2000);
  GraphVerdict v = g.analyse();
  ASSERT_EQ(v.verdict, Verdict::Deadlock);
  ASSERT_EQ(v.cycle.size(), 4u);
  // Canonical start: the smallest actor id ("task:100"), then the wait order.
  EXPECT_EQ(g.nodes()[v.cycle[0]].id, "task:100");
  EXPECT_EQ(g.nodes()[v.cycle[1]].id, "mutex:4096");
  EXPECT_EQ(g.nodes()[v.cycle[2]].id, "task:200");
  EXPECT_EQ(g.nodes()[v.cycle[3]].id, "mutex:8192");
  // Owner fields and linked waiters: every edge is kernel state.
  EXPECT_EQ(v.confidence, Confidence::Confirmed);
  EXPECT_TRUE(v.inferred_edges.empty());
  EXPECT_EQ(verdict_text(v), "DEADLOCK");
}

TEST(WaitGraph, SignatureIgnoresPidsAddressesAndEntryPoint) {
  WaitGraph g1 = abba(200, 100, 0x1000, 0x2000);
  WaitGraph g2 = abba(7, 9000, 0xffff888000001000ULL, 0x40);  // other pids, addresses, rotation
  auto s1 = hang_signature(g1, g1.analyse());
  auto s2 = hang_signature(g2, g2.analyse());
  EXPECT_EQ(s1.size(), 16u);
  EXPECT_EQ(s1, s2);
  // A different function in the cycle is a different bug.
  WaitGraph g3 = abba(200, 100, 0x1000, 0x2000);
  g3.nodes()[0].func = "other_worker";
  EXPECT_NE(hang_signature(g3, g3.analyse()), s1);
}

// The xcall case: CPU 2 waits for a csd queued on CPU 3, which spins with IRQs off.
TEST(WaitGraph, ChainEndingAtIrqsOffCpuIsStuck) {
  WaitGraph g;
  auto c2 = *g.add_node(cpu(2, false, "xcall wait", "caller"));
  auto x = *g.add_node(node("xcall:0x10", NodeKind::Xcall, "remote_func"));
  auto c3 = *g.add_node(cpu(3, true, "busy with IRQs off", "spin"));
  auto idle = g.add_node(node("cpu:0", NodeKind::Cpu));
  ASSERT_TRUE(idle);
  g.add_edge(c2, x, EdgeKind::WaitsFor);
  g.add_edge(x, c3, EdgeKind::QueuedOn);
  GraphVerdict v = g.analyse();
  EXPECT_EQ(v.verdict, Verdict::Stuck);
  ASSERT_TRUE(v.root_cause);
  EXPECT_EQ(*v.root_cause, c3);
  EXPECT_EQ(v.chain, (std::vector<size_t>{c2, x, c3}));
  EXPECT_TRUE(v.cycle.empty());
  // A second CPU waiting on the same IRQs-off CPU is a second chain into it.
  auto c1 = *g.add_node(cpu(1, false, "xcall wait", "flush_tlb"));
  auto x2 = *g.add_node(node("xcall:0x20", NodeKind::Xcall, "flush_func"));
  g.add_edge(c1, x2, EdgeKind::WaitsFor);
  g.add_edge(x2, c3, EdgeKind::QueuedOn);
  GraphVerdict v2 = g.analyse();
  EXPECT_EQ(v2.verdict, Verdict::Stuck);
  ASSERT_EQ(v2.chains.size(), 2u);
  EXPECT_EQ(v2.chains[0], v2.chain);
  std::vector<size_t> other = v2.chains[0] == std::vector<size_t>{c2, x, c3} ? v2.chains[1] : v2.chains[0];
  EXPECT_EQ(other, (std::vector<size_t>{c1, x2, c3}));
}

TEST(WaitGraph, ChainEndingAtARunnableTaskIsNoVerdict) {
  WaitGraph g;
  auto w = *g.add_node(node("task:1", NodeKind::Task));
  auto m = *g.add_node(node("mutex:1", NodeKind::Mutex));
  auto o = *g.add_node(node("task:2", NodeKind::Task));
  g.add_edge(w, m, EdgeKind::WaitsFor);
  g.add_edge(m, o, EdgeKind::OwnedBy);
  GraphVerdict v = g.analyse();
  EXPECT_EQ(v.verdict, Verdict::None);
  ASSERT_TRUE(v.root_cause);
  EXPECT_EQ(*v.root_cause, o);
}

TEST(WaitGraph, HealthyGraphHasNoVerdict) {
  WaitGraph g;
  for (int c = 0; c < 4; ++c) g.add_node(node("cpu:" + std::to_string(c), NodeKind::Cpu));
  GraphVerdict v = g.analyse();
  EXPECT_EQ(v.verdict, Verdict::None);
  EXPECT_FALSE(v.root_cause);
  EXPECT_TRUE(hang_signature(g, v).empty());
}

TEST(WaitGraph, MixedCycleThroughXcallAndSpinlock) {
  WaitGraph g;
  auto c2 = *g.add_node(cpu(2, true, "xcall wait", "hold_and_call"));
  auto x = *g.add_node(node("xcall:0x10", NodeKind::Xcall, "remote_func"));
  auto c3 = *g.add_node(cpu(3, true, "spinlock slowpath", "spin_on"));
  auto l = *g.add_node(node("spinlock:0x20", NodeKind::Spinlock));
  g.add_edge(c2, x, EdgeKind::WaitsFor);
  g.add_edge(x, c3, EdgeKind::QueuedOn);
  g.add_edge(c3, l, EdgeKind::WaitsFor);
  g.add_edge(l, c2, EdgeKind::OwnedBy, "stack word", Confidence::Inferred);
  GraphVerdict v = g.analyse();
  ASSERT_EQ(v.verdict, Verdict::Deadlock);
  EXPECT_EQ(v.cycle, (std::vector<size_t>{c2, x, c3, l}));
  // A guessed spinlock holder: DEADLOCK (inferred), naming that edge and its evidence.
  EXPECT_EQ(v.confidence, Confidence::Inferred);
  EXPECT_EQ(verdict_text(v), "DEADLOCK (inferred)");
  ASSERT_EQ(v.inferred_edges.size(), 1u);
  EXPECT_EQ(g.edges()[v.inferred_edges[0]].from, l);
  EXPECT_NE(v.reason.find("spinlock:0x20 owned_by cpu:2 (stack word)"), std::string::npos) << v.reason;
  // The same edge found again from kernel state becomes confirmed, and so does the cycle.
  g.add_edge(l, c2, EdgeKind::OwnedBy, "owner field");
  GraphVerdict confirmed = g.analyse();
  EXPECT_EQ(confirmed.confidence, Confidence::Confirmed);
  EXPECT_EQ(g.edges()[3].evidence, "owner field");
}

// The first cycle the search meets rests on a guess; a second one is all kernel state.
// The confirmed one is the verdict, whatever the search order.
TEST(WaitGraph, AConfirmedCycleWinsOverAnInferredOne) {
  WaitGraph g;
  auto c1 = *g.add_node(cpu(1, true, "spinlock slowpath", "spin_a"));
  auto l = *g.add_node(node("spinlock:0x30", NodeKind::Spinlock));
  auto c2 = *g.add_node(cpu(2, true, "spinlock slowpath", "spin_b"));
  g.add_edge(c1, l, EdgeKind::WaitsFor, "rdi", Confidence::Inferred);
  g.add_edge(l, c2, EdgeKind::OwnedBy, "stack word", Confidence::Inferred);
  g.add_edge(c2, l, EdgeKind::WaitsFor, "rdi", Confidence::Inferred);
  WaitGraph both = g;
  GraphVerdict guessed = g.analyse();
  ASSERT_EQ(guessed.verdict, Verdict::Deadlock);
  EXPECT_EQ(guessed.confidence, Confidence::Inferred);
  // Add an ABBA of confirmed edges after it.
  auto ta = *both.add_node(node("task:10", NodeKind::Task, "worker_a"));
  auto tb = *both.add_node(node("task:11", NodeKind::Task, "worker_b"));
  auto ma = *both.add_node(node("mutex:0x1", NodeKind::Mutex));
  auto mb = *both.add_node(node("mutex:0x2", NodeKind::Mutex));
  both.add_edge(ta, mb, EdgeKind::WaitsFor, "linked waiter");
  both.add_edge(mb, tb, EdgeKind::OwnedBy, "owner field");
  both.add_edge(tb, ma, EdgeKind::WaitsFor, "linked waiter");
  both.add_edge(ma, ta, EdgeKind::OwnedBy, "owner field");
  GraphVerdict v = both.analyse();
  ASSERT_EQ(v.verdict, Verdict::Deadlock);
  EXPECT_EQ(v.confidence, Confidence::Confirmed);
  EXPECT_EQ(v.cycle, (std::vector<size_t>{ta, mb, tb, ma}));
}

// STUCK is only as strong as its chain and the evidence of the stall: one sample of the
// IRQ flag is inferred; a stall the dump's clocks measure is confirmed.
TEST(WaitGraph, StuckIsConfirmedOnlyWithTimeEvidenceAndConfirmedEdges) {
  WaitGraph g;
  auto c2 = *g.add_node(cpu(2, false, "xcall wait", "caller"));
  auto x = *g.add_node(node("xcall:0x10", NodeKind::Xcall, "remote_func"));
  auto c3 = *g.add_node(cpu(3, true, "busy with IRQs off", "spin"));
  g.add_edge(c2, x, EdgeKind::WaitsFor, "csd on its stack");
  g.add_edge(x, c3, EdgeKind::QueuedOn, "queued");
  GraphVerdict one_sample = g.analyse();
  ASSERT_EQ(one_sample.verdict, Verdict::Stuck);
  EXPECT_EQ(one_sample.confidence, Confidence::Inferred);
  EXPECT_EQ(verdict_text(one_sample), "STUCK (inferred)");
  EXPECT_NE(one_sample.reason.find("one register sample"), std::string::npos) << one_sample.reason;
  g.nodes()[c3].stalled_ns = 12'300'000'000;
  g.nodes()[c3].stall_evidence = "rq->clock 12.3 s behind the newest CPU's";
  g.nodes()[c3].stall_evidenced = true;
  GraphVerdict timed = g.analyse();
  EXPECT_EQ(timed.confidence, Confidence::Confirmed);
  EXPECT_EQ(verdict_text(timed), "STUCK");
  EXPECT_NE(timed.reason.find("no timer interrupt for at least 12.3 s"), std::string::npos) << timed.reason;
  // An inferred wait in the chain weakens it again, and is named.
  WaitGraph h = g;
  auto c1 = *h.add_node(cpu(1, false, "xcall wait", "flush"));
  auto x2 = *h.add_node(node("xcall:0x20", NodeKind::Xcall, "other"));
  h.add_edge(c1, x2, EdgeKind::WaitsFor, "csd_lock guess", Confidence::Inferred);
  h.add_edge(x2, c2, EdgeKind::QueuedOn, "queued");
  GraphVerdict weak = h.analyse();
  ASSERT_EQ(weak.chain.size(), 5u);
  EXPECT_EQ(weak.confidence, Confidence::Inferred);
  ASSERT_EQ(weak.inferred_edges.size(), 1u);
  EXPECT_NE(weak.reason.find("csd_lock guess"), std::string::npos) << weak.reason;
}

// The CPU that panicked has IRQs off because panic() turned them off: what waits on it
// waits because of the panic. It is a root cause only when the dump's clocks show it
// stalled before the panic; a CPU the panic stopped never is by its IRQ flag.
TEST(WaitGraph, ThePanickingCpuIsAWitnessNotASink) {
  WaitGraph g;
  auto x = *g.add_node(node("xcall:0x10", NodeKind::Xcall, "wake up pid 9"));
  WaitNode p = cpu(1, true, "busy with IRQs off", "sysrq_handle_crash");
  p.spinning = false;
  p.panicking = true;
  p.witness = "panic_cpu = 1";
  auto c1 = *g.add_node(p);
  g.add_edge(x, c1, EdgeKind::QueuedOn, "TTWU entry");
  GraphVerdict v = g.analyse();
  EXPECT_EQ(v.verdict, Verdict::None) << v.reason;
  EXPECT_NE(v.reason.find("the panicking CPU"), std::string::npos) << v.reason;
  EXPECT_FALSE(is_stuck_sink(g.nodes()[c1]));
  // Stalled 30 s before the panic (a hard lockup the watchdog turned into a panic).
  g.nodes()[c1].stalled_ns = 30'000'000'000;
  g.nodes()[c1].stall_evidenced = true;
  GraphVerdict lockup = g.analyse();
  EXPECT_EQ(lockup.verdict, Verdict::Stuck);
  EXPECT_EQ(lockup.confidence, Confidence::Confirmed);
  // A CPU the panic stopped is judged the same way: its IRQ flag alone proves nothing
  // (the panic turned it off), a stall that began long before the panic does.
  g.nodes()[c1].panicking = false;
  g.nodes()[c1].stopped_by_panic = true;
  EXPECT_EQ(g.analyse().verdict, Verdict::Stuck);
  g.nodes()[c1].stall_evidenced = false;
  EXPECT_EQ(g.analyse().verdict, Verdict::None);
}

// A CPU spinning on a lock with IRQs off is never NONE: with no known holder the lock is
// the root cause, holder unknown.
TEST(WaitGraph, ASpinlockWithUnknownHolderEndsAStuckChain) {
  WaitGraph g;
  auto c3 = *g.add_node(cpu(3, true, "spinlock slowpath", "spin_on"));
  WaitNode l = node("spinlock:0x40", NodeKind::Spinlock);
  auto ln = *g.add_node(l);
  g.add_edge(c3, ln, EdgeKind::WaitsFor, "rdi points at a locked lock word", Confidence::Inferred);
  EXPECT_EQ(g.analyse().verdict, Verdict::None);  // not spun on with IRQs off: can progress
  g.nodes()[ln].holder_unknown = true;
  GraphVerdict v = g.analyse();
  ASSERT_EQ(v.verdict, Verdict::Stuck);
  EXPECT_EQ(v.root_cause, ln);
  EXPECT_EQ(v.confidence, Confidence::Inferred);
  EXPECT_NE(v.reason.find("holder is unknown"), std::string::npos) << v.reason;
}

TEST(WaitGraph, DuplicatesAreMergedAndBadEdgesRefused) {
  WaitGraph g;
  auto a = *g.add_node(node("task:1", NodeKind::Task));
  EXPECT_EQ(*g.add_node(node("task:1", NodeKind::Task)), a);
  EXPECT_TRUE(g.add_edge(a, a, EdgeKind::WaitsFor));
  EXPECT_TRUE(g.add_edge(a, a, EdgeKind::WaitsFor));
  EXPECT_EQ(g.edges().size(), 1u);
  EXPECT_FALSE(g.add_edge(a, 99, EdgeKind::WaitsFor));
  // A self-wait is the smallest cycle.
  EXPECT_EQ(g.analyse().verdict, Verdict::Deadlock);
}

// 100,000 nodes in one chain: a recursive search would overflow the stack here.
TEST(WaitGraph, LongChainsAreHandledIteratively) {
  WaitGraph g;
  std::optional<size_t> prev;
  for (int i = 0; i < 99999; ++i) {
    auto n = g.add_node(node("task:" + std::to_string(i), NodeKind::Task));
    ASSERT_TRUE(n);
    if (prev) g.add_edge(*prev, *n, EdgeKind::WaitsFor);
    prev = n;
  }
  auto c = *g.add_node(cpu(7, true, "busy with IRQs off", "spin"));
  g.add_edge(*prev, c, EdgeKind::WaitsFor);
  EXPECT_FALSE(g.add_node(node("one-too-many", NodeKind::Task)));
  EXPECT_TRUE(g.full());
  GraphVerdict v = g.analyse();
  EXPECT_EQ(v.verdict, Verdict::Stuck);
  EXPECT_EQ(v.chain.size(), 100000u);
  // Close the loop: now it is one big cycle.
  g.add_edge(c, 0, EdgeKind::OwnedBy);
  EXPECT_EQ(g.analyse().verdict, Verdict::Deadlock);
}

TEST(HangRender, DotRendersToPngWithCycleInRed) {
  HangReport r;
  r.graph = abba(100, 200, 0x1000, 0x2000);
  r.graph.nodes()[0].comm = "we\"ird\\name\n";  // dump bytes must not break the DOT syntax
  r.verdict = r.graph.analyse();
  r.signature = hang_signature(r.graph, r.verdict);
  std::string dot = render_hang_dot(r);
  EXPECT_NE(dot.find("color=red"), std::string::npos);
  EXPECT_NE(dot.find("shape=octagon"), std::string::npos);
  EXPECT_NE(dot.find("shape=ellipse"), std::string::npos);
  if (std::system("command -v dot >/dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz dot not installed";
  auto dir = std::filesystem::temp_directory_path() / ("kstuck_hang_dot_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "g.dot") << dot; }
  std::string cmd = "dot -Tpng '" + (dir / "g.dot").string() + "' -o '" + (dir / "g.png").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << dot;
  std::ifstream png(dir / "g.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(std::filesystem::file_size(dir / "g.png"), 1000u);
  std::filesystem::remove_all(dir);
}

TEST(HangRender, JsonHasTheStableSchema) {
  HangReport r;
  r.graph = abba(100, 200, 0x1000, 0x2000);
  r.verdict = r.graph.analyse();
  r.signature = hang_signature(r.graph, r.verdict);
  r.starved_after_ns = 1'500'000'000;
  std::string j = render_hang_json(r);
  for (const char* key : {"\"schema\": \"kstuck-hang/2\"", "\"starved_after_ns\": 1500000000", "\"verdict\": \"DEADLOCK\"", "\"signature\"",
                          "\"cycle\"", "\"chain\"", "\"root_cause\": \"task:100\"", "\"nodes\"", "\"edges\"",
                          "\"kind\": \"waits_for\"", "\"kind\": \"owned_by\"", "\"confidence\": \"confirmed\"",
                          "\"verdict_text\": \"DEADLOCK\"", "\"inferred_edges\": []", "\"panic_cpu\": null"})
    EXPECT_NE(j.find(key), std::string::npos) << key;
}

// The verdict's and each edge's confidence in JSON and text; UNKNOWN has none.
TEST(HangRender, ConfidenceIsInJsonAndText) {
  HangReport r;
  // ABBA whose owner edge into task:200 (node 0) is only a hint.
  WaitGraph g = abba(200, 100, 0x1000, 0x2000);
  WaitGraph h;
  for (const auto& n : g.nodes()) h.add_node(n);
  for (const auto& e : g.edges())
    h.add_edge(e.from, e.to, e.kind, e.kind == EdgeKind::OwnedBy && e.to == 0 ? "last reader (hint)" : "field",
               e.kind == EdgeKind::OwnedBy && e.to == 0 ? Confidence::Inferred : Confidence::Confirmed);
  r.graph = h;
  r.verdict = r.graph.analyse();
  std::string j = render_hang_json(r);
  for (const char* key : {"\"confidence\": \"inferred\"", "\"verdict_text\": \"DEADLOCK (inferred)\"",
                          "\"evidence\": \"last reader (hint)\"", "\"confidence\": \"confirmed\""})
    EXPECT_NE(j.find(key), std::string::npos) << key << "\n" << j;
  std::string t = render_hang_text(r);
  EXPECT_NE(t.find("verdict: DEADLOCK (inferred)"), std::string::npos) << t;
  EXPECT_NE(t.find("confidence: inferred (1 of its waits deduced"), std::string::npos) << t;
  EXPECT_NE(t.find("--owned_by (inferred)--> [last reader (hint)]"), std::string::npos) << t;
  r.verdict.verdict = Verdict::Unknown;
  EXPECT_NE(render_hang_json(r).find("\"confidence\": null"), std::string::npos);
  EXPECT_NE(render_hang_text(r).find("verdict: UNKNOWN"), std::string::npos);
}

}  // namespace
}  // namespace kstuck
