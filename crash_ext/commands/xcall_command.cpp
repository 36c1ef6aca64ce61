// SPDX-License-Identifier: GPL-2.0
// "kstuck xcall": the CLI's xcall view (queued, locked and waited-for CSDs) over this crash session.
#include <optional>
#include <string>

#include "analysis/hang/scan_views.h"
#include "crash_ext/crash_session.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

Result<std::string> run_xcall(CrashTarget&, const Options& o) {
  auto model = CrashSession::model();
  if (!model) return tl::unexpected(model.error());
  auto scans = scan_hang_with_model(**model);
  std::optional<int> cpu;
  if (o.cpu >= 0) cpu = o.cpu;
  return o.json ? render_xcalls_json(scans, cpu) : render_xcalls_text(scans, cpu);
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"xcall", "xcall [-c cpu] [-j]", "jc", false, run_xcall});

}  // namespace kstuck::crash
