// SPDX-License-Identifier: GPL-2.0
// "kstuck mutex": the mutexes and rwsems tasks of a vmcore sleep on, their owners and waiters.
#include <cstdio>
#include <cstdlib>
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

int run_mutex(const std::vector<std::string>& args) {
  po::options_description opts("mutex options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(), "the dumped kernel's vmlinux (optional: the dump's own kallsyms and BTF otherwise)")(
      "force", "use the vmlinux even if its build-id does not match")("json", "print JSON (schema kstuck-mutex/1)");
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "mutex",
                                               "usage: kstuck mutex VMCORE [--vmlinux VMLINUX] [ADDRESS] [--json]\n"
                 "  the mutexes and rwsems tasks sleep on (or the mutex at ADDRESS): owner, flags, waiters\n\n",
                                               opts, vm, "address"))
    return *stop;
  std::optional<uint64_t> address;
  if (vm.count("address")) {
    const std::string& a = vm["address"].as<std::string>();
    char* end = nullptr;
    address = std::strtoull(a.c_str(), &end, 16);
    if (a.empty() || *end) {
      std::cerr << "kstuck mutex: not a hex address: '" << a << "'\n";
      return kstuck::cli::kExitUsage;
    }
  }
  auto opened = kstuck::cli::open_dump(vm, "mutex");
  if (!opened) return kstuck::cli::kExitUnusable;
  auto model = kstuck::KernelModel::load(*opened);
  if (!model) {
    std::cerr << "kstuck mutex: " << model.error().describe() << "\n";
    return kstuck::cli::kExitUnusable;
  }
  auto scans = kstuck::scan_hang_with_model(**model);
  // The dump's own problems (truncated, --force over a build-id mismatch) are the report's too.
  auto problems = kstuck::cli::dump_problems(opened->info());
  kstuck::cli::add_read_problems(problems, *opened);
  scans.snap.warnings.insert(scans.snap.warnings.begin(), problems.lines.begin(), problems.lines.end());
  scans.snap.partial = scans.snap.partial || problems.degraded;
  const bool partial = scans.snap.partial || scans.locks.partial;
  auto out = vm.count("json") ? kstuck::render_mutexes_json(**model, scans, address)
                              : kstuck::render_mutexes_text(**model, scans, address);
  if (!out) {
    std::cerr << "kstuck mutex: " << out.error().describe() << "\n";
    return 1;
  }
  if (!vm.count("json")) *out = kstuck::sanitize_text(*out + kstuck::cli::partial_text(scans.snap.warnings, partial));
  std::fwrite(out->data(), 1, out->size(), stdout);
  return partial ? kstuck::cli::kExitPartial : kstuck::cli::kExitComplete;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"mutex", "mutexes and rwsems tasks of a vmcore sleep on: owners and waiters", run_mutex});
