// SPDX-License-Identifier: GPL-2.0
// "kstuck bt": stacks from kstuck's own unwinder (crash 8.0.2 cannot unwind Debian's 6.1 dumps), rendered as the CLI's "kstuck bt".
#include <string>

#include "analysis/report/analyze_render.h"
#include "analysis/report/analyze_report.h"
#include "crash_ext/crash_session.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

// The CLI's "kstuck bt --cpu N" heading and stack.
Result<std::string> cpu_stack(KernelModel& model, int cpu, bool json) {
  const auto* c = model.cpus().find(cpu);
  if (!c) return fail(ErrorKind::NotFound, "CPU " + std::to_string(cpu) + " is not online in the dump");
  ReportStack stack = make_report_stack(model, model.cpu_stack(cpu));
  if (json) return render_stack_json(stack, "cpu", cpu);
  const auto* t = model.tasks().by_address(c->curr);
  bool irqs_off = c->regs && !(c->regs->get(CpuRegisters::eflags) & 0x200);
  std::string heading = "CPU " + std::to_string(cpu) + ": pid " +
                        (t ? std::to_string(t->pid) + " (" + t->comm + ")" : "?") +
                        (c->regs ? irqs_off ? "  IRQs OFF" : "  IRQs on" : "  no registers") +
                        (c->state != CpuState::Online ? std::string("  [") + cpu_state_name(c->state) + "]" : "");
  return render_stack_text(stack, heading);
}

// The CLI's "kstuck bt PID" heading and stack.
std::string task_stack(KernelModel& model, const TaskInfo& t, bool json) {
  ReportStack stack = make_report_stack(model, model.task_stack(t));
  if (json) return render_stack_json(stack, "pid", t.pid);
  std::string heading = "pid " + std::to_string(t.pid) + " (" + t.comm + ") state " + t.state.letter +
                        (t.current_on >= 0 ? " running on CPU " + std::to_string(t.current_on) : "");
  return render_stack_text(stack, heading);
}

// JSON: a list of the CLI's single-stack objects; text: the stacks one after another.
std::string join(const std::vector<std::string>& parts, bool json) {
  std::string out = json ? "[\n" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string p = parts[i];
    if (json && !p.empty() && p.back() == '\n') p.pop_back();
    out += p;
    out += json ? (i + 1 < parts.size() ? ",\n" : "\n") : (i + 1 < parts.size() ? "\n" : "");
  }
  return json ? out + "]\n" : out;
}

Result<std::string> run_bt(CrashTarget&, const Options& o) {
  auto model = CrashSession::model();
  if (!model) return tl::unexpected(model.error());
  KernelModel& m = **model;
  if (o.cpu >= 0) return cpu_stack(m, o.cpu, o.json);
  if (o.all) {
    std::vector<std::string> parts;
    for (const auto& c : m.cpus().cpus) {
      auto s = cpu_stack(m, c.cpu, o.json);
      if (!s) return tl::unexpected(s.error());
      parts.push_back(*s);
    }
    return join(parts, o.json);
  }
  if (!o.positional.empty()) {
    const std::string& arg = o.positional[0];
    char* end = nullptr;
    long pid = std::strtol(arg.c_str(), &end, 10);
    if (arg.empty() || *end || pid < 0) return fail(ErrorKind::Invalid, "not a pid: '" + arg + "'");
    const auto* t = m.tasks().by_pid(static_cast<int>(pid));
    if (!t) return fail(ErrorKind::NotFound, "no task with pid " + arg + " in the dump");
    return task_stack(m, *t, o.json);
  }
  std::vector<std::string> parts;
  for (const auto& t : m.tasks().tasks) parts.push_back(task_stack(m, t, o.json));
  return join(parts, o.json);
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"bt", "bt [-a | pid | -c cpu] [-j]", "jac", false, run_bt});

}  // namespace kstuck::crash
