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

namespace po = boost::program_options;

namespace {

int run_hang(const std::vector<std::string>& args) {
  po::options_description opts("hang options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(),
                                                 "the dumped kernel's vmlinux (required)")(
      "module-dir", po::value<std::vector<std::string>>(), "accepted for symmetry with analyze; not needed: module symbols come from the kallsyms in the dump")(
      "force", "use the vmlinux even if its build-id does not match")("json", "print the report as JSON")(
      "dot", "print the wait-for graph as Graphviz DOT");
  po::options_description all;
  all.add(opts).add_options()("vmcore", po::value<std::string>());
  po::positional_options_description pos;
  pos.add("vmcore", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck hang: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || !vm.count("vmcore") || !vm.count("vmlinux") || (vm.count("json") && vm.count("dot"))) {
    std::cout << "usage: kstuck hang VMCORE --vmlinux VMLINUX [--module-dir DIR]... [--json|--dot]\n"
                 "  finds who waits on whom (xcalls, mutexes, rwsems, spinlocks) and prints the verdict:\n"
                 "  DEADLOCK (a cycle), STUCK (a chain ending at a CPU busy with IRQs off) or NONE\n\n"
              << opts;
    return vm.count("help") ? 0 : 2;
  }
  kstuck::KdumpOptions options;
  options.vmlinux = vm["vmlinux"].as<std::string>();
  options.force = vm.count("force") > 0;
  auto opened = kstuck::KdumpTarget::open(vm["vmcore"].as<std::string>(), options);
  if (!opened) {
    std::cerr << "kstuck hang: " << opened.error().describe() << "\n";
    return 1;
  }
  // The kernel model gives ORC-unwound stacks and module symbols; without it (a dump
  // whose CPUs cannot be found) fall back to the conservative stack scan.
  auto model = kstuck::KernelModel::load(**opened);
  auto report = model ? kstuck::analyse_hang_with_model(**model) : kstuck::analyse_hang(**opened);
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
