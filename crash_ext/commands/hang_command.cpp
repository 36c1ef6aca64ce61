// SPDX-License-Identifier: GPL-2.0
// "kstuck hang": the CLI's hang analysis (wait-for graph, chains, verdict) over this crash session.
#include <string>

#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/hang_render.h"
#include "analysis/hang/model_snapshot.h"
#include "crash_ext/crash_session.h"
#include "crash_ext/crash_target.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

Result<std::string> run_hang(CrashTarget& /*target*/, const Options& o) {
  if (o.json && o.dot) return fail(ErrorKind::Invalid, "-j and -d exclude each other");
  // As the CLI: the kernel model's CPUs, tasks, ORC stacks and module symbols; without
  // them (not even the CPUs found) there is no verdict to draw.
  HangOptions options;
  if (o.starved_after_s > 0) options.starved_after_ns = static_cast<uint64_t>(o.starved_after_s * 1e9);
  auto model = CrashSession::model();
  if (!model) return tl::unexpected(model.error());
  auto report = analyse_hang_with_model(**model, options);
  if (!report) return tl::unexpected(report.error());
  if (o.json) return render_hang_json(*report);
  if (o.dot) return render_hang_dot(*report);
  return render_hang_text(*report);
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"hang", "hang [-j | -d] [-s seconds]", "jds", false, run_hang});

}  // namespace kstuck::crash
