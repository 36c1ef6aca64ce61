// SPDX-License-Identifier: GPL-2.0
// LiveSession: the running kernel as a kernel model, pass by pass (a fresh NMI capture, memory read anew).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/error.h"
#include "analysis/kernel/kernel_model.h"
#include "analysis/live_target/live_target.h"

namespace kstuck {

struct LiveSessionOptions {
  LiveOptions target;
  std::string device = "/dev/kstuck";
  uint32_t capture_timeout_ms = 1000;
  ModelOptions model;
};

// One pass: what the capture gave and what the model read.
struct LivePass {
  std::optional<uint64_t> seq;   // the NMI capture's sequence number
  uint32_t requested = 0, answered = 0;
  double capture_ms = 0;         // the capture ioctl, wall clock
  double load_ms = 0;            // the model's reads, wall clock
  std::string capture_problem;   // why there is no capture (kstuck.ko not loaded, ...)
};

class LiveSession {
 public:
  // Opens the live target; does not take a pass yet.
  static Result<std::unique_ptr<LiveSession>> open(const LiveSessionOptions& options);

  // A new pass: NMI capture first (every CPU at one instant), then the page cache is
  // dropped and the kernel model loaded from memory read anew. Fails only when the
  // model cannot be loaded (not even the CPUs).
  Result<void> next_pass();

  LiveTarget& target() { return *target_; }
  const LiveTarget& target() const { return *target_; }
  KernelModel& model() { return *model_; }
  const LivePass& pass() const { return passes_.back(); }
  const std::vector<LivePass>& passes() const { return passes_; }
  // Problems every report of this session lists (no capture, CPUs that did not answer).
  std::vector<std::string> problems() const;

 private:
  LiveSession() = default;
  LiveSessionOptions options_;
  std::unique_ptr<LiveTarget> target_;
  std::unique_ptr<KernelModel> model_;
  std::vector<LivePass> passes_;
};

}  // namespace kstuck
