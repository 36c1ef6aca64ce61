// SPDX-License-Identifier: GPL-2.0
// "kstuck analyze": system, every CPU's and task's stack (grouped), D-state waits of a vmcore.
#include <cstdio>
#include <iostream>

#include "analysis/report/analyze_render.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/commands/dump_problems.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

int run_analyze(const std::vector<std::string>& args) {
  po::options_description opts("analyze options");
  opts.add_options()("help,h", "show this help")("log-lines", po::value<size_t>()->default_value(40),
                                                 "kernel log lines to show");
  kstuck::cli::add_dump_options(opts);
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "analyze",
                                               "usage: kstuck analyze VMCORE [--vmlinux VMLINUX] [--module-dir DIR]... [--force] [--json]\n"
                 "  prints the system, every CPU's stack, all tasks grouped by identical stack and the\n"
                 "  D-state tasks with how long they waited (JSON schema: docs/json-schema.md)\n"
                 "  exit: 0 complete, 1 dump unusable, 2 usage, 3 partial (the dump is damaged: problems say where)\n\n",
                                               opts, vm))
    return *stop;
  auto session = kstuck::cli::DumpSession::open(vm, "analyze");
  if (!session) return kstuck::cli::kExitUnusable;
  auto report = session->report(vm["log-lines"].as<size_t>());
  session->add_source_lines(report);  // vmlinux frames with --lines, module frames with --module-dir
  // The dump's own damage (its notes are already among the problems) and the reads that
  // failed on damaged data while the report was built make it partial: exit 3.
  auto problems = kstuck::cli::dump_problems(session->target().info());
  auto reads = session->target().read_problems();
  for (const auto& r : reads) report.problems.push_back("dump: " + r);
  // A stack that could not be unwound to its end is a loss too: say where it stopped.
  char at[32];
  for (const auto& c : report.cpus)
    if (c.has_registers && !c.stack.complete) {
      std::snprintf(at, sizeof(at), "0x%llx", static_cast<unsigned long long>(c.stack.stop_address));
      report.problems.push_back("cpu " + std::to_string(c.cpu) + ": stack incomplete (" + c.stack.stop + " at " + at +
                                (c.stack.detail.empty() ? "" : ": " + c.stack.detail) + ")");
    }
  for (size_t g = 0; g < report.groups.size(); g++)
    if (!report.groups[g].stack.complete)
      report.problems.push_back("stack group " + std::to_string(g + 1) + " (" +
                                std::to_string(report.groups[g].tasks.size()) + " tasks): stack incomplete (" +
                                report.groups[g].stack.stop +
                                (report.groups[g].stack.detail.empty() ? "" : ": " + report.groups[g].stack.detail) + ")");
  const bool partial = problems.degraded || !reads.empty();
  // Dump strings (comms, log lines, module names) may hold any byte: text escapes them.
  std::string out = vm.count("json") ? kstuck::render_analyze_json(report)
                                     : kstuck::sanitize_text(kstuck::render_analyze_text(report));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return partial ? kstuck::cli::kExitPartial : kstuck::cli::kExitComplete;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"analyze", "every CPU's and task's stack of a vmcore, grouped, with D-state waits", run_analyze});
