// SPDX-License-Identifier: GPL-2.0
// "kstuck bt": the stack of one task (by pid) or one CPU of a vmcore.
#include <cstdio>
#include <iostream>

#include "analysis/report/analyze_render.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

int run_bt(const std::vector<std::string>& args) {
  po::options_description opts("bt options");
  opts.add_options()("help,h", "show this help")("cpu", po::value<int>(), "the stack of this CPU");
  kstuck::cli::add_dump_options(opts);
  po::options_description all;
  all.add(opts).add_options()("vmcore", po::value<std::string>())("pid", po::value<int>());
  po::positional_options_description pos;
  pos.add("vmcore", 1).add("pid", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck bt: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || !vm.count("vmcore") || (vm.count("pid") == vm.count("cpu"))) {
    std::cout << "usage: kstuck bt VMCORE [--vmlinux VMLINUX] (PID | --cpu N) [--json]\n\n" << opts;
    return vm.count("help") ? 0 : 2;
  }
  auto session = kstuck::cli::DumpSession::open(vm, "bt");
  if (!session) return 1;
  auto& model = session->model();
  kstuck::ReportStack stack;
  std::string heading;
  std::string kind;
  int id;
  if (vm.count("cpu")) {
    id = vm["cpu"].as<int>();
    kind = "cpu";
    const auto* c = model.cpus().find(id);
    if (!c) {
      std::cerr << "kstuck bt: CPU " << id << " is not online in the dump\n";
      return 1;
    }
    stack = kstuck::make_report_stack(model, model.cpu_stack(id));
    const auto* t = model.tasks().by_address(c->curr);
    bool irqs_off = c->regs && !(c->regs->get(kstuck::CpuRegisters::eflags) & 0x200);
    heading = "CPU " + std::to_string(id) + ": pid " + (t ? std::to_string(t->pid) + " (" + t->comm + ")" : "?") +
              (c->regs ? irqs_off ? "  IRQs OFF" : "  IRQs on" : "  no registers") +
              (c->state != kstuck::CpuState::Online ? std::string("  [") + kstuck::cpu_state_name(c->state) + "]" : "");
  } else {
    id = vm["pid"].as<int>();
    kind = "pid";
    const auto* t = model.tasks().by_pid(id);
    if (!t) {
      std::cerr << "kstuck bt: no task with pid " << id << " in the dump\n";
      return 1;
    }
    stack = kstuck::make_report_stack(model, model.task_stack(*t));
    heading = "pid " + std::to_string(t->pid) + " (" + t->comm + ") state " + t->state.letter +
              (t->current_on >= 0 ? " running on CPU " + std::to_string(t->current_on) : "");
  }
  session->add_source_lines(stack);  // vmlinux frames with --lines, module frames with --module-dir
  for (const auto& p : session->source_line_problems()) std::cerr << "kstuck bt: " << p << "\n";
  std::string out = vm.count("json") ? kstuck::render_stack_json(stack, kind, id) : kstuck::sanitize_text(kstuck::render_stack_text(stack, heading));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"bt", "the stack of one task (PID) or CPU (--cpu N) of a vmcore", run_bt});
