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
#include "cli/command.h"

namespace po = boost::program_options;

namespace {

int run_mutex(const std::vector<std::string>& args) {
  po::options_description opts("mutex options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(), "the dumped kernel's vmlinux (required)")(
      "force", "use the vmlinux even if its build-id does not match")("json", "print JSON (schema kstuck-mutex/1)");
  po::options_description all;
  all.add(opts).add_options()("vmcore", po::value<std::string>())("address", po::value<std::string>());
  po::positional_options_description pos;
  pos.add("vmcore", 1).add("address", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck mutex: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || !vm.count("vmcore") || !vm.count("vmlinux")) {
    std::cout << "usage: kstuck mutex VMCORE --vmlinux VMLINUX [ADDRESS] [--json]\n"
                 "  the mutexes and rwsems tasks sleep on (or the mutex at ADDRESS): owner, flags, waiters\n\n"
              << opts;
    return vm.count("help") ? 0 : 2;
  }
  std::optional<uint64_t> address;
  if (vm.count("address")) {
    const std::string& a = vm["address"].as<std::string>();
    char* end = nullptr;
    address = std::strtoull(a.c_str(), &end, 16);
    if (a.empty() || *end) {
      std::cerr << "kstuck mutex: not a hex address: '" << a << "'\n";
      return 2;
    }
  }
  kstuck::KdumpOptions options;
  options.vmlinux = vm["vmlinux"].as<std::string>();
  options.force = vm.count("force") > 0;
  auto opened = kstuck::KdumpTarget::open(vm["vmcore"].as<std::string>(), options);
  if (!opened) {
    std::cerr << "kstuck mutex: " << opened.error().describe() << "\n";
    return 1;
  }
  auto model = kstuck::KernelModel::load(**opened);
  if (!model) {
    std::cerr << "kstuck mutex: " << model.error().describe() << "\n";
    return 1;
  }
  auto scans = kstuck::scan_hang_with_model(**model);
  auto out = vm.count("json") ? kstuck::render_mutexes_json(**model, scans, address)
                              : kstuck::render_mutexes_text(**model, scans, address);
  if (!out) {
    std::cerr << "kstuck mutex: " << out.error().describe() << "\n";
    return 1;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  return 0;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"mutex", "mutexes and rwsems tasks of a vmcore sleep on: owners and waiters", run_mutex});
