// SPDX-License-Identifier: GPL-2.0
// The HangSnapshot from the kernel model (tasks, CPUs, ORC stacks) and the model-backed analysis.
#include "analysis/hang/model_snapshot.h"

#include "analysis/hang/cpu_activity.h"
#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hang/xcall.h"

namespace kstuck {

Result<Symbol> ModelSymbolTarget::symbol_at(uint64_t address) {
  if (auto s = model_.symbolizer().lookup(address)) return *s;
  return fail(ErrorKind::NotFound, "no symbol", address);
}

namespace {

std::vector<StackFrame> convert(Target& symbols, const Stack& stack) {
  std::vector<StackFrame> out;
  for (const auto& f : stack.frames) {
    StackFrame s;
    s.pc = f.ip;
    s.sp = f.sp;
    // A return address belongs to the call before it (as %pB prints it).
    s.function = function_name(symbols, f.exact_ip || !f.ip ? f.ip : f.ip - 1, &s.module);
    if (s.function.empty()) s.function = "?";
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

HangSnapshot snapshot_from_model(KernelModel& model, Target& symbols) {
  HangSnapshot snap;
  auto warn = [&](std::string w) {
    snap.partial = true;
    if (snap.warnings.size() < 200) snap.warnings.push_back(std::move(w));
  };
  for (const auto& p : model.cpus().problems) warn(p);
  for (const auto& p : model.tasks().problems) warn(p);
  if (model.tasks().walk_status != WalkStatus::Complete)
    warn(std::string("task list: ") + walk_status_name(model.tasks().walk_status));

  for (const auto& c : model.cpus().cpus) {
    CpuView v;
    v.cpu = c.cpu;
    v.curr = c.curr;
    v.idle = c.curr && c.curr == c.idle;
    v.regs = c.regs;
    v.clock = c.clock;
    v.clock_task = c.clock_task;
    if (c.regs) {
      Stack st = model.cpu_stack(c.cpu);
      v.frames = convert(symbols, st);
      if (!st.complete() && st.stop != StopReason::NoStart)
        warn("cpu " + std::to_string(c.cpu) + ": unwind stopped: " + stop_reason_name(st.stop));
    }
    snap.cpus.push_back(std::move(v));
  }
  for (const auto& t : model.tasks().tasks) {
    TaskView v;
    v.task = t.address;
    v.pid = t.pid;
    v.comm = t.comm;
    v.state = t.state_raw;
    v.state_char = t.state.letter;
    v.on_cpu = t.current_on;
    v.cpu = t.cpu;
    v.on_rq = t.on_rq;
    v.since_ran_ns = t.since_ran_ns;
    v.queued_ns = t.queued_ns;
    v.stack_base = t.stack;
    if (v.on_cpu >= 0) {
      const CpuView* c = snap.cpu(v.on_cpu);
      if (c && c->regs) v.sp = c->regs->get(CpuRegisters::rsp);
      if (c) v.frames = c->frames;
    } else {
      v.sp = t.thread_sp;
      // Only waiting tasks can be part of a wait chain (a runnable one waits for its
      // CPU, and may hold a lock meanwhile): skip unwinding the rest.
      if (v.state_char == 'D' || v.state_char == 'S' || v.state_char == 'I' || v.runnable_not_running())
        v.frames = convert(symbols, model.task_stack(t));
    }
    snap.tasks.push_back(std::move(v));
  }
  return snap;
}

Result<HangReport> analyse_hang_with_model(KernelModel& model, const HangOptions& options) {
  ModelSymbolTarget symbols(model);
  Fields fields(symbols);
  HangSnapshot snap = snapshot_from_model(model, symbols);
  auto cpus = classify_cpus(symbols, snap);
  auto xcalls = scan_xcalls(symbols, fields, snap);
  auto locks = scan_sleeping_locks(symbols, fields, snap);
  return build_hang_report(snap, xcalls, locks, cpus, options);
}

}  // namespace kstuck
