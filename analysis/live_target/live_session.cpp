// SPDX-License-Identifier: GPL-2.0
// LiveSession: capture, forget cached pages, reload the model; the problems a live report lists.
#include "analysis/live_target/live_session.h"

#include <chrono>

#include "analysis/live_target/nmi_capture.h"

namespace kstuck {
namespace {
double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Result<std::unique_ptr<LiveSession>> LiveSession::open(const LiveSessionOptions& options) {
  std::unique_ptr<LiveSession> s(new LiveSession());
  s->options_ = options;
  auto t = LiveTarget::open(options.target);
  if (!t) return tl::unexpected(t.error());
  s->target_ = std::move(*t);
  return s;
}

Result<void> LiveSession::next_pass() {
  LivePass p;
  auto t0 = std::chrono::steady_clock::now();
  auto cap = take_nmi_capture(options_.capture_timeout_ms, options_.device);
  p.capture_ms = ms_since(t0);
  std::optional<NmiSnapshot> snap;
  if (cap) {
    p.seq = cap->snapshot.seq;
    p.requested = cap->nr_requested;
    p.answered = cap->nr_answered;
    snap = std::move(cap->snapshot);
  } else {
    p.capture_problem = cap.error().describe() + ": the running CPUs' stacks are unknown";
  }
  target_->begin_pass(std::move(snap), p.capture_problem);
  // The old model holds a reference to the target only: dropped before the new one loads.
  model_.reset();
  auto t1 = std::chrono::steady_clock::now();
  auto m = KernelModel::load(*target_, options_.model);
  p.load_ms = ms_since(t1);
  passes_.push_back(std::move(p));
  if (!m) return tl::unexpected(m.error());
  model_ = std::move(*m);
  return {};
}

std::vector<std::string> LiveSession::problems() const {
  std::vector<std::string> out;
  if (passes_.empty()) return out;
  const LivePass& p = passes_.back();
  if (!p.capture_problem.empty()) out.push_back("live: " + p.capture_problem);
  else if (p.answered < p.requested)
    out.push_back("live: NMI capture " + std::to_string(*p.seq) + ": " + std::to_string(p.answered) + " of " +
                  std::to_string(p.requested) + " CPUs answered");
  for (const auto& n : target_->info().notes) out.push_back("live: " + n);
  return out;
}

}  // namespace kstuck
