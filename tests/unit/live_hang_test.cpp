// SPDX-License-Identifier: GPL-2.0
// Two passes over a running kernel: edges seen in both make the verdict, the rest are transient.
#include "analysis/live_target/live_hang.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kstuck {
namespace {

WaitNode cpu(int n, bool irqs_off) {
  WaitNode w;
  w.id = "cpu:" + std::to_string(n);
  w.kind = NodeKind::Cpu;
  w.cpu = n;
  w.irqs_off = irqs_off;
  w.spinning = irqs_off;
  w.doing = irqs_off ? "busy" : "xcall wait";
  w.func = irqs_off ? "spin_fn" : "waiter_fn";
  w.label = "CPU " + std::to_string(n);
  return w;
}

WaitNode xcall(uint64_t a) {
  WaitNode w;
  w.id = "xcall:" + std::to_string(a);
  w.kind = NodeKind::Xcall;
  w.xcall_type = "SYNC";
  w.func = "xcall_fn";
  w.label = "xcall";
  return w;
}

// CPU 2 -> xcall -> CPU 3 (IRQs off), and in `with_task` a task waiting on CPU 1 too.
HangReport pass(bool stuck_chain, bool with_task) {
  HangReport r;
  size_t c1 = *r.graph.add_node(cpu(1, false));
  size_t c2 = *r.graph.add_node(cpu(2, false));
  size_t x = *r.graph.add_node(xcall(0x1000));
  size_t c3 = *r.graph.add_node(cpu(3, true));
  if (stuck_chain) {
    r.graph.add_edge(c2, x, EdgeKind::WaitsFor, "csd on the stack");
    r.graph.add_edge(x, c3, EdgeKind::QueuedOn, "queued");
  }
  if (with_task) {
    WaitNode t;
    t.id = "task:77";
    t.kind = NodeKind::Task;
    t.pid = 77;
    t.label = "pid 77";
    size_t tn = *r.graph.add_node(t);
    r.graph.add_edge(tn, c1, EdgeKind::WaitsFor, "runnable on CPU 1");
  }
  r.verdict = r.graph.analyse();
  r.signature = hang_signature(r.graph, r.verdict);
  return r;
}

TEST(LiveHang, EdgesInBothPassesMakeTheVerdict) {
  HangReport a = pass(true, false), b = pass(true, true);
  LiveHangReport live = confirm_edges(a, b);
  EXPECT_EQ(live.report.verdict.verdict, Verdict::Stuck);
  EXPECT_EQ(live.report.graph.nodes()[*live.report.verdict.root_cause].id, "cpu:3");
  EXPECT_EQ(live.report.signature, a.signature);
  ASSERT_EQ(live.transient.size(), 1u);
  EXPECT_EQ(live.report.graph.nodes()[live.transient[0].from].id, "task:77");
  EXPECT_EQ(live.vanished, 0u);
  EXPECT_EQ(live.report.graph.edges().size(), 2u);
}

TEST(LiveHang, AChainSeenOnceIsTransientAndMakesNoVerdict) {
  // The first pass caught CPU 2 in a short xcall wait; the second no longer did.
  HangReport a = pass(true, false), b = pass(false, false);
  LiveHangReport gone = confirm_edges(a, b);
  EXPECT_EQ(gone.report.verdict.verdict, Verdict::None);
  EXPECT_EQ(gone.vanished, 2u);
  // The other way round: seen only in the second pass.
  LiveHangReport fresh = confirm_edges(b, a);
  EXPECT_EQ(fresh.report.verdict.verdict, Verdict::None);
  EXPECT_EQ(fresh.transient.size(), 2u);
  bool warned = false;
  for (const auto& w : fresh.report.warnings) warned = warned || w.find("transient") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(LiveHang, JsonSaysSourceCaptureAndTransient) {
  LiveHangReport live = confirm_edges(pass(true, false), pass(true, true));
  live.captured = true;
  live.captures = {4, 5};
  auto j = nlohmann::json::parse(render_live_hang_json(live));
  EXPECT_EQ(j["schema"], "kstuck-hang/2");
  EXPECT_EQ(j["source"], "live");
  EXPECT_EQ(j["capture_seq"], 5);
  EXPECT_EQ(j["verdict"], "STUCK");
  EXPECT_EQ(j["transient_edges"], 1);
  size_t transient = 0;
  for (const auto& e : j["edges"]) transient += e["transient"].get<bool>();
  EXPECT_EQ(transient, 1u);
  std::string text = render_live_hang_text(live);
  EXPECT_NE(text.find("source: live (NMI captures 4 and 5"), std::string::npos) << text;
  EXPECT_NE(text.find("transient (seen in one pass only"), std::string::npos) << text;
  live.captured = false;
  EXPECT_TRUE(nlohmann::json::parse(render_live_hang_json(live))["capture_seq"].is_null());
}

}  // namespace
}  // namespace kstuck
