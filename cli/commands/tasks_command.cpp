// SPDX-License-Identifier: GPL-2.0
// "kstuck tasks": one line per task of a vmcore (pid, state, CPU, last ran, where it is).
#include <cstdio>
#include <iostream>

#include "analysis/report/analyze_render.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

int run_tasks(const std::vector<std::string>& args) {
  po::options_description opts("tasks options");
  opts.add_options()("help,h", "show this help")("state", po::value<std::string>(),
                                                 "only tasks in these states, e.g. D or RD");
  kstuck::cli::add_dump_options(opts);
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "tasks",
                                               "usage: kstuck tasks VMCORE [--vmlinux VMLINUX] [--state LETTERS] [--json]\n\n",
                                               opts, vm))
    return *stop;
  auto session = kstuck::cli::DumpSession::open(vm, "tasks");
  if (!session) return 1;
  auto report = session->report(0);
  if (vm.count("state")) {
    std::string keep = vm["state"].as<std::string>();
    std::vector<kstuck::ReportTask> kept;
    for (auto& t : report.tasks)
      if (keep.find(t.state) != std::string::npos) kept.push_back(std::move(t));
    report.tasks = std::move(kept);
  }
  std::string out = vm.count("json") ? kstuck::render_tasks_json(report) : kstuck::sanitize_text(kstuck::render_tasks_text(report));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"tasks", "list the tasks of a vmcore with state, CPU and time since they ran", run_tasks});
