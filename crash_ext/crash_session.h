// SPDX-License-Identifier: GPL-2.0
// CrashSession: the Target and kernel model of this crash session, loaded once and shared by every subcommand.
#pragma once

#include <memory>

#include "analysis/kernel/kernel_model.h"
#include "crash_ext/crash_target.h"

namespace kstuck::crash {

// A dump does not change under a crash session, so the model (tasks walked, modules,
// ORC tables) is loaded on first use and kept: later commands answer at once.
class CrashSession {
 public:
  static CrashTarget& target();
  // The loaded model, or the error that stopped loading (retried by the next command).
  static Result<KernelModel*> model();
};

}  // namespace kstuck::crash
