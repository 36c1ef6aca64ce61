// SPDX-License-Identifier: GPL-2.0
// "kstuck hang": who waits on whom in a vmcore, and the verdict (text, --json or --dot).
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/hang_render.h"
#include "analysis/hang/model_snapshot.h"
#include "analysis/kdump_target/kdump_target.h"
#include "analysis/kernel/kernel_model.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/commands/dump_problems.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

int run_hang(const std::vector<std::string>& args) {
  po::options_description opts("hang options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(),
                                                 "the dumped kernel's vmlinux (optional: the dump's own kallsyms and BTF otherwise)")(
      "module-dir", po::value<std::vector<std::string>>(), "accepted for symmetry with analyze; not needed: module symbols come from the kallsyms in the dump")(
      "force", "use the vmlinux even if its build-id does not match")("json", "print the report as JSON")(
      "dot", "print the wait-for graph as Graphviz DOT")(
      "starved-after", po::value<double>()->default_value(20),
      "seconds a runnable task may wait on a busy CPU's runqueue before that CPU counts as stuck");
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "hang",
                                               "usage: kstuck hang VMCORE [--vmlinux VMLINUX] [--module-dir DIR]... [--json|--dot] [--starved-after S]\n"
                 "  finds who waits on whom (xcalls, mutexes, rwsems, spinlocks) and prints the verdict:\n"
                 "  DEADLOCK (a cycle), STUCK (a chain ending at a CPU busy with IRQs off, or at a busy CPU\n"
                 "  that has kept a runnable task waiting --starved-after seconds), NONE, or UNKNOWN (the dump\n"
                 "  lacks the data a verdict needs); DEADLOCK and STUCK say \"(inferred)\" when they rest on a\n"
                 "  deduction rather than kernel state.\n"
                 "  exit: 0 complete, 1 dump unusable, 2 usage, 3 partial or UNKNOWN\n\n",
                                               opts, vm))
    return *stop;
  if ((vm.count("json") && vm.count("dot"))) {
    std::cerr << "kstuck hang: --json and --dot exclude each other\n";
    return kstuck::cli::kExitUsage;
  }
  double starved_after = vm["starved-after"].as<double>();
  // Bounded so the conversion to nanoseconds cannot overflow: a day is far past any hang.
  if (!(starved_after > 0 && starved_after <= 86400)) {
    std::cerr << "kstuck hang: --starved-after wants seconds in (0, 86400]\n";
    return kstuck::cli::kExitUsage;
  }
  kstuck::HangOptions options;
  options.starved_after_ns = static_cast<uint64_t>(starved_after * 1e9);
  auto opened = kstuck::cli::open_dump(vm, "hang");
  if (!opened) return kstuck::cli::kExitUnusable;
  // The kernel model gives the CPUs, tasks, ORC-unwound stacks and module symbols; it
  // fails only when not even the CPUs can be found, and then no verdict can be drawn.
  auto model = kstuck::KernelModel::load(*opened);
  if (!model) {
    std::cerr << "kstuck hang: "
              << kstuck::sanitize_text(kstuck::cli::failure_with_causes(*opened, model.error().describe())) << "\n";
    return kstuck::cli::kExitUnusable;
  }
  auto report = kstuck::analyse_hang_with_model(**model, options);
  if (!report) {
    std::cerr << "kstuck hang: "
              << kstuck::sanitize_text(kstuck::cli::failure_with_causes(*opened, report.error().describe())) << "\n";
    return kstuck::cli::kExitUnusable;
  }
  // The dump's own problems (truncated, --force over a build-id mismatch) are the
  // report's too: they come first among its warnings.
  auto problems = kstuck::cli::dump_problems(opened->info());
  kstuck::cli::add_read_problems(problems, *opened);
  report->warnings.insert(report->warnings.begin(), problems.lines.begin(), problems.lines.end());
  report->partial = report->partial || problems.degraded;
  // NONE claims that nothing waits: without the registers or VMCOREINFO it rests on, the
  // answer is UNKNOWN (a cycle or a stuck chain found in what was read still stands).
  if (!problems.essential.empty() && report->verdict.verdict == kstuck::Verdict::None) {
    report->verdict.verdict = kstuck::Verdict::Unknown;
    report->verdict.reason = problems.essential + "; " + report->verdict.reason;
  }
  std::string out = vm.count("json") ? kstuck::render_hang_json(*report)
                    : vm.count("dot") ? kstuck::sanitize_text(kstuck::render_hang_dot(*report))
                                      : kstuck::sanitize_text(kstuck::render_hang_text(*report));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->partial || report->verdict.verdict == kstuck::Verdict::Unknown ? kstuck::cli::kExitPartial
                                                                                : kstuck::cli::kExitComplete;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"hang", "who waits on whom in a vmcore: wait-for graph and deadlock verdict", run_hang});
