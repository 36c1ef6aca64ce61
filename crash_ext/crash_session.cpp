// SPDX-License-Identifier: GPL-2.0
// CrashSession: lazily loaded, session-wide Target and kernel model.
#include "crash_ext/crash_session.h"

namespace kstuck::crash {
namespace {
std::unique_ptr<KernelModel>& model_slot() {
  static std::unique_ptr<KernelModel> model;
  return model;
}
}  // namespace

CrashTarget& CrashSession::target() {
  static CrashTarget target;
  return target;
}

Result<KernelModel*> CrashSession::model() {
  auto& slot = model_slot();
  if (slot) return slot.get();
  auto loaded = KernelModel::load(target(), ModelOptions{});
  if (!loaded) return tl::unexpected(loaded.error());
  slot = std::move(*loaded);
  return slot.get();
}

}  // namespace kstuck::crash
