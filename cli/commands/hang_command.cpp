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
#include "cli/command.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

int run_hang(const std::vector<std::string>& args) {
  po::options_description opts("hang options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(),
                                                 "the dumped kernel's vmlinux (required)")(
      "module-dir", po::value<std::vector<std::string>>(), "accepted for symmetry with analyze; not needed: module symbols come from the kallsyms in the dump")(
      "force", "use the vmlinux even if its build-id does not match")("json", "print the report as JSON")(
      "dot", "print the wait-for graph as Graphviz DOT")(
      "starved-after", po::value<double>()->default_value(20),
      "seconds a runnable task may wait on a busy CPU's runqueue before that CPU counts as stuck");
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "hang",
                                               "usage: kstuck hang VMCORE --vmlinux VMLINUX [--module-dir DIR]... [--json|--dot] [--starved-after S]\n"
                 "  finds who waits on whom (xcalls, mutexes, rwsems, spinlocks) and prints the verdict:\n"
                 "  DEADLOCK (a cycle), STUCK (a chain ending at a CPU busy with IRQs off, or at a busy CPU\n"
                 "  that has kept a runnable task waiting --starved-after seconds) or NONE\n\n",
                                               opts, vm))
    return *stop;
  if ((vm.count("json") && vm.count("dot"))) {
    std::cerr << "kstuck hang: --json and --dot exclude each other\n";
    return 2;
  }
  double starved_after = vm["starved-after"].as<double>();
  // Bounded so the conversion to nanoseconds cannot overflow: a day is far past any hang.
  if (!(starved_after > 0 && starved_after <= 86400)) {
    std::cerr << "kstuck hang: --starved-after wants seconds in (0, 86400]\n";
    return 2;
  }
  kstuck::HangOptions options;
  options.starved_after_ns = static_cast<uint64_t>(starved_after * 1e9);
  auto opened = kstuck::cli::open_dump(vm, "hang");
  if (!opened) return 1;
  // The kernel model gives ORC-unwound stacks and module symbols; without it (a dump
  // whose CPUs cannot be found) fall back to the conservative stack scan.
  auto model = kstuck::KernelModel::load(*opened);
  auto report = model ? kstuck::analyse_hang_with_model(**model, options) : kstuck::analyse_hang(*opened, options);
  if (!model && report) {
    report->partial = true;
    report->warnings.push_back("kernel model unavailable (" + model.error().describe() +
                               "): stacks from a conservative scan, no module symbols");
  }
  if (!report) {
    std::cerr << "kstuck hang: " << report.error().describe() << "\n";
    return 1;
  }
  std::string out = vm.count("json") ? kstuck::render_hang_json(*report)
                    : vm.count("dot") ? kstuck::render_hang_dot(*report)
                                      : kstuck::render_hang_text(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"hang", "who waits on whom in a vmcore: wait-for graph and deadlock verdict", run_hang});
