// SPDX-License-Identifier: GPL-2.0
// The HangSnapshot from the kernel model (tasks, CPUs, ORC stacks) and the model-backed analysis.
#include "analysis/hang/model_snapshot.h"

#include <cstdint>

#include "analysis/hang/cpu_activity.h"
#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hang/xcall.h"
#include "analysis/hex_text.h"

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
    s.flags = f.flags;
    // A return address belongs to the call before it (as %pB prints it).
    s.function = function_name(symbols, f.exact_ip || !f.ip ? f.ip : f.ip - 1, &s.module);
    if (s.function.empty()) s.function = "?";
    out.push_back(std::move(s));
  }
  return out;
}

// The earliest expiry of a CPU's CLOCK_MONOTONIC hrtimers (see CpuView::timer_expires).
void read_timer(Fields& f, int cpu, CpuView& v) {
  auto bases = per_cpu_address(f, "hrtimer_bases", cpu);
  if (!bases) return;
  // clock_base[0] is HRTIMER_BASE_MONOTONIC, where the tick's sched_timer lives.
  auto base0 = f.offset("hrtimer_cpu_base", "clock_base");
  auto expires_off = f.offset("timerqueue_node", "expires");
  if (base0 && expires_off) {
    // Since Linux commit 511885d7061e ("lib/timerqueue: Rely on rbtree semantics for next
    // timer") (in v5.4) the head is an rb_root_cached and the earliest timer its
    // rb_leftmost; before, the head kept it in `next`.
    const char* leftmost = f.has("hrtimer_clock_base", "active.rb_root.rb_leftmost") ? "active.rb_root.rb_leftmost"
                                                                                     : "active.next";
    auto node = f.read_ptr(*bases + *base0, "hrtimer_clock_base", leftmost);
    if (node && *node && is_kernel_pointer(*node)) {
      if (auto e = read_value<int64_t>(f.target(), *node + *expires_off); e && *e > 0) {
        v.timer_expires = static_cast<uint64_t>(*e);
        v.timer_source = "earliest CLOCK_MONOTONIC hrtimer";
        return;
      }
    }
  }
  // expires_next is KTIME_MAX while the CPU runs hrtimer_interrupt() or has nothing queued.
  if (auto e = f.read_int(*bases, "hrtimer_cpu_base", "expires_next"); e && *e > 0 && *e < INT64_MAX) {
    v.timer_expires = static_cast<uint64_t>(*e);
    v.timer_source = "hrtimer_cpu_base.expires_next";
  }
}

// The dump's "now" and panic_cpu (see DumpClock).
DumpClock read_dump_clock(Target& t) {
  DumpClock c;
  if (auto a = t.symbol_address("last_jiffies_update"))
    if (auto v = read_value<int64_t>(t, *a); v && *v > 0) {
      c.now_mono = static_cast<uint64_t>(*v);
      c.now_mono_source = "last_jiffies_update";
    }
  if (auto a = t.symbol_address("panic_cpu"))
    if (auto v = read_value<int32_t>(t, *a); v && *v >= 0 && *v < 8192) c.panic_cpu = *v;
  return c;
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

  snap.clock = read_dump_clock(symbols);
  for (const auto& c : model.cpus().cpus) {
    for (const auto& p : c.problems) warn("cpu " + std::to_string(c.cpu) + ": " + p);
    CpuView v;
    v.cpu = c.cpu;
    v.curr = c.curr;
    v.idle = c.curr && c.curr == c.idle;
    v.stopped = c.state == CpuState::Stopped;
    v.regs = c.regs;
    v.clock = c.clock;
    v.clock_task = c.clock_task;
    read_timer(model.fields(), c.cpu, v);
    if (c.regs) {
      Stack st = model.cpu_stack(c.cpu);
      v.frames = convert(symbols, st);
      v.frames_complete = st.complete();
      if (!st.complete() && st.stop != StopReason::NoStart)
        warn("cpu " + std::to_string(c.cpu) + ": unwind stopped: " + stop_reason_name(st.stop));
      if (!st.start_problem.empty()) {
        warn("cpu " + std::to_string(c.cpu) + ": " + st.start_problem);
        v.frames_complete = false;
      }
    }
    snap.cpus.push_back(std::move(v));
  }
  // Idle tasks come from the runqueues even when init_task.tasks cannot be walked: a
  // task list is one with any other task in it.
  snap.task_list_read = false;
  for (const auto& t : model.tasks().tasks) {
    if (t.pid > 0) snap.task_list_read = true;
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
      if (c) v.frames_complete = c->frames_complete;
      // task->stack unreadable: the csd or lock found on the stack its registers run on
      // is attributed to this task; say how the bounds were found.
      if (!v.stack_base && c && c->regs) {
        v.stack_base = model.stack_from_registers(v.on_cpu, *c->regs);
        if (v.stack_base)
          warn("pid " + std::to_string(v.pid) + ": task->stack unreadable; its stack taken as " +
               hex_text(v.stack_base) + ", where CPU " + std::to_string(v.on_cpu) + "'s saved RSP is");
      }
    } else {
      v.sp = t.thread_sp;
      // Only waiting tasks can be part of a wait chain (a runnable one waits for its
      // CPU, and may hold a lock meanwhile): skip unwinding the rest. A task whose state
      // could not be read ('?', its page missing from the dump) may be waiting too.
      if (v.state_char == 'D' || v.state_char == 'S' || v.state_char == 'I' || v.state_char == '?' ||
          v.runnable_not_running()) {
        Stack st = model.task_stack(t);
        v.frames = convert(symbols, st);
        v.frames_complete = st.complete();
      }
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
