// SPDX-License-Identifier: GPL-2.0
// "kstuck xcall": the cross-CPU calls (CSDs) of a vmcore: queued, locked, waited for.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analysis/hang/scan_views.h"
#include "analysis/kdump_target/kdump_target.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/commands/dump_problems.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

int run_xcall(const std::vector<std::string>& args) {
  po::options_description opts("xcall options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(), "the dumped kernel's vmlinux (optional: the dump's own kallsyms and BTF otherwise)")(
      "force", "use the vmlinux even if its build-id does not match")("cpu", po::value<int>(),
                                                                      "only xcalls this CPU must run or sent")(
      "json", "print JSON (schema kstuck-xcall/1)");
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "xcall",
                                               "usage: kstuck xcall VMCORE [--vmlinux VMLINUX] [--cpu N] [--json]\n"
                 "  lists the cross-CPU calls queued, locked or waited for, with sender and target CPUs\n\n",
                                               opts, vm))
    return *stop;
  auto opened = kstuck::cli::open_dump(vm, "xcall");
  if (!opened) return kstuck::cli::kExitUnusable;
  auto model = kstuck::KernelModel::load(*opened);
  if (!model) {
    std::cerr << "kstuck xcall: " << model.error().describe() << "\n";
    return kstuck::cli::kExitUnusable;
  }
  auto scans = kstuck::scan_hang_with_model(**model);
  // The dump's own problems (truncated, --force over a build-id mismatch) are the report's too.
  auto problems = kstuck::cli::dump_problems(opened->info());
  kstuck::cli::add_read_problems(problems, *opened);
  scans.snap.warnings.insert(scans.snap.warnings.begin(), problems.lines.begin(), problems.lines.end());
  scans.snap.partial = scans.snap.partial || problems.degraded;
  const bool partial = scans.snap.partial || scans.xcalls.partial;
  std::optional<int> cpu;
  if (vm.count("cpu")) cpu = vm["cpu"].as<int>();
  std::string out = vm.count("json") ? kstuck::render_xcalls_json(scans, cpu) : kstuck::render_xcalls_text(scans, cpu);
  if (!vm.count("json")) out = kstuck::sanitize_text(out + kstuck::cli::partial_text(scans.snap.warnings, partial));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return partial ? kstuck::cli::kExitPartial : kstuck::cli::kExitComplete;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"xcall", "cross-CPU calls (CSDs) of a vmcore: queued, locked, waited for", run_xcall});
