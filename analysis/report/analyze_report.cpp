// SPDX-License-Identifier: GPL-2.0
// Building the analyze report: system facts, CPU stacks, task stacks grouped, D-state waits.
#include "analysis/report/analyze_report.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "analysis/hex_text.h"
#include "analysis/nmi_dump_history.h"
#include "analysis/nmi_report.h"
#include "analysis/text_number.h"

namespace kstuck {

bool ReportStack::has_function(std::string_view function) const {
  for (const auto& f : frames)
    if (f.function == function) return true;
  return false;
}

ReportStack make_report_stack(KernelModel& model, const Stack& stack) {
  ReportStack out;
  for (const auto& f : stack.frames) {
    ReportFrame rf;
    rf.ip = f.ip;
    rf.exact = f.exact_ip;
    rf.reliable = f.reliable;
    rf.stack = stack_kind_name(f.stack);
    rf.symbol = model.symbolizer().format(f.ip, !f.exact_ip);
    if (auto s = model.symbolizer().lookup(f.exact_ip || !f.ip ? f.ip : f.ip - 1)) {
      rf.function = s->name;
      rf.module = s->module;
    }
    out.frames.push_back(std::move(rf));
  }
  out.stop = stop_reason_name(stack.stop);
  out.complete = stack.complete();
  out.stop_address = stack.stop_address;
  out.detail = stack.detail;
  return out;
}

// CRASHTIME is the timekeeper's xtime_sec when the kernel crashed (crash_save_vmcoreinfo(),
// before the other CPUs are stopped), and the timekeeper stops with the CPUs: xtime_sec may
// have moved on by a tick across a second boundary, never back. A value that is no number,
// later than the timekeeper, or further behind it, is not used, and the problem says why.
void decide_crash_time(const std::optional<std::string>& crashtime, std::optional<int64_t> timekeeper_wall_s,
                       SystemInfo& sys) {
  constexpr int64_t kTickSlackS = 2;
  if (!crashtime) return;
  auto crash = parse_decimal_i64(*crashtime);
  std::string what = "VMCOREINFO CRASHTIME=" + *crashtime;
  if (!crash) {
    sys.crash_time_problem = what + " is not a number: the crash time is unknown";
  } else if (timekeeper_wall_s && *crash > *timekeeper_wall_s) {
    sys.crash_time_problem = what + " is later than the timekeeper's xtime_sec " + std::to_string(*timekeeper_wall_s) +
                             ", which only moves forward: one of them is damaged, the crash time is unknown";
  } else if (timekeeper_wall_s && *timekeeper_wall_s - *crash > kTickSlackS) {
    sys.crash_time_problem = what + " is " + std::to_string(*timekeeper_wall_s - *crash) +
                             " s before the timekeeper's last tick (xtime_sec " + std::to_string(*timekeeper_wall_s) +
                             "): a damaged value, or the clock kept ticking after the crash; the crash time is unknown";
  } else {
    sys.crash_time = crash;
  }
}

namespace {

void fill_system(KernelModel& model, SystemInfo& sys, const AnalyzeOptions& options) {
  Fields& f = model.fields();
  Target& t = model.target();
  if (auto uts = t.symbol_address("init_uts_ns")) {
    if (auto v = f.read_chars(*uts, "uts_namespace", "name.release")) sys.release = *v;
    if (auto v = f.read_chars(*uts, "uts_namespace", "name.version")) sys.version = *v;
    if (auto v = f.read_chars(*uts, "uts_namespace", "name.machine")) sys.machine = *v;
    if (auto v = f.read_chars(*uts, "uts_namespace", "name.nodename")) sys.nodename = *v;
  }
  if (sys.release.empty())
    if (auto r = t.vmcoreinfo("OSRELEASE")) sys.release = *r;
  // Never a wrong number without saying so: an implausible clock leaves the uptime unknown.
  const CpuSet& cpus = model.cpus();
  if (cpus.uptime_ns) {
    sys.uptime_ns = *cpus.uptime_ns;
    sys.uptime_source = cpus.uptime_source;
  } else {
    sys.uptime_unknown = cpus.clock_problem.empty() ? "no clock could be read" : cpus.clock_problem;
  }
  if (cpus.timekeeper_ns && cpus.uptime_source != "timekeeper")
    sys.uptime_check = "timekeeper " + std::to_string(*cpus.timekeeper_ns / 1'000'000) + " ms";
  else if (!cpus.timekeeper_ns)
    sys.uptime_check = "timekeeper unread: " + cpus.timekeeper_problem;
  decide_crash_time(t.vmcoreinfo("CRASHTIME"), cpus.wall_seconds, sys);
  KernelLog log = read_kernel_log(f, std::max<size_t>(options.log_lines, 200));
  sys.panic_message = find_panic_message(log);
  size_t skip = log.records.size() > options.log_lines ? log.records.size() - options.log_lines : 0;
  sys.log_tail.assign(log.records.begin() + long(skip), log.records.end());
}

ReportFrame frame_of(KernelModel& model, uint64_t ip, bool return_address) {
  ReportFrame rf;
  rf.ip = ip;
  rf.exact = !return_address;
  rf.symbol = model.symbolizer().format(ip, return_address);
  if (auto s = model.symbolizer().lookup(return_address && ip ? ip - 1 : ip)) {
    rf.function = s->name;
    rf.module = s->module;
  }
  return rf;
}

// kstuck.ko's snapshots: found by the nmi reader through the module's kallsyms.
void fill_nmi(KernelModel& model, AnalyzeReport& r) {
  r.nmi_module_loaded = model.modules().by_name("kstuck") != nullptr;
  if (!r.nmi_module_loaded) {
    r.nmi_status = "kstuck.ko was not loaded";
    return;
  }
  auto h = read_dumped_nmi_history(model.target(), model.symbolizer());
  if (!h) {
    r.nmi_status = h.error().describe();
    return;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), "buffer at 0x%llx", static_cast<unsigned long long>(h->buffer_address));
  r.nmi_status = buf;
  for (const auto& w : h->warnings) r.problems.push_back("nmi records: " + w);
  for (const auto& w : h->history.warnings) r.problems.push_back("nmi records: " + w);
  for (const auto& snap : h->history.snapshots) {
    ReportNmiSnapshot rs;
    rs.seq = snap.seq;
    rs.trigger = nmi_trigger_name(snap.trigger);
    rs.complete = snap.complete();
    rs.initiator_cpu = snap.initiator_cpu;
    rs.requested = snap.nr_requested;
    rs.answered = snap.nr_answered;
    rs.start_ns = snap.start_ns;
    for (const auto& c : snap.cpus) {
      ReportNmiCpu rc;
      rc.cpu = c.cpu;
      rc.answered = c.answered();
      rc.irqs_off = !c.irqs_enabled();
      rc.context = nmi_context_names(c.context);
      rc.pid = c.pid;
      rc.comm = c.comm;
      rc.timestamp_ns = c.timestamp_ns;
      for (size_t i = 0; i < c.frames.size() && i < 256; ++i)
        rc.frames.push_back(frame_of(model, c.frames[i], nmi_frame_is_return_address(c, i)));
      rs.cpus.push_back(std::move(rc));
    }
    r.nmi.push_back(std::move(rs));
  }
}

std::string stack_key(const ReportStack& s) {
  std::string key;
  for (const auto& f : s.frames) key += f.symbol + "\n";
  key += s.stop;
  return key;
}

}  // namespace

namespace {
void annotate_frames(std::vector<ReportFrame>& frames, SourceLookup lookup, void* ctx,
                     std::unordered_map<uint64_t, std::string>& cache) {
  for (auto& f : frames) {
    uint64_t at = f.exact || !f.ip ? f.ip : f.ip - 1;
    auto it = cache.find(at);
    if (it == cache.end()) it = cache.emplace(at, lookup(at, ctx).value_or("")).first;
    f.source = it->second;
  }
}
}  // namespace

void annotate_sources(ReportStack& stack, SourceLookup lookup, void* ctx) {
  std::unordered_map<uint64_t, std::string> cache;
  annotate_frames(stack.frames, lookup, ctx, cache);
}

void annotate_sources(AnalyzeReport& report, SourceLookup lookup, void* ctx) {
  std::unordered_map<uint64_t, std::string> cache;
  for (auto& c : report.cpus) annotate_frames(c.stack.frames, lookup, ctx, cache);
  for (auto& g : report.groups) annotate_frames(g.stack.frames, lookup, ctx, cache);
  for (auto& s : report.nmi)
    for (auto& c : s.cpus) annotate_frames(c.frames, lookup, ctx, cache);
}

AnalyzeReport build_analyze_report(KernelModel& model, const AnalyzeOptions& options) {
  AnalyzeReport r;
  auto progress = [&](const char* phase, size_t done, size_t total) {
    if (options.progress) options.progress(phase, done, total, options.progress_ctx);
  };
  progress("system", 0, 1);
  fill_system(model, r.system, options);
  r.problems = model.cpus().problems;
  if (!r.system.crash_time_problem.empty()) r.problems.push_back(r.system.crash_time_problem);
  if (!model.cpus().offline.empty()) {
    std::string off = "offline CPUs (not in cpu_online_mask, and no note of their own says they were stopped):";
    for (int c : model.cpus().offline) off += " " + std::to_string(c);
    r.problems.push_back(off);
  }
  for (const auto& p : model.tasks().problems) r.problems.push_back(p);
  for (const auto& p : model.modules().problems) r.problems.push_back(p);
  if (!model.orc().vmlinux_error().empty()) r.problems.push_back(model.orc().vmlinux_error());
  if (model.orc().format().inferred) r.problems.push_back("ORC entry format inferred, not known: " + model.orc().format().how);
  for (const auto& m : model.modules().modules) r.modules.push_back({m.name, m.base, m.size});

  for (const auto& c : model.cpus().cpus) {
    progress("cpus", size_t(c.cpu), model.cpus().cpus.size());
    ReportCpu rc;
    rc.cpu = c.cpu;
    rc.state = cpu_state_name(c.state);
    rc.state_detail = c.state_detail;
    rc.task = c.curr;
    rc.problems = c.problems;
    if (const TaskInfo* t = model.tasks().by_address(c.curr)) {
      rc.pid = t->pid;
      rc.comm = t->comm;
    } else {
      rc.problems.push_back(c.curr ? "rq->curr " + hex_text(c.curr) + " is not among the tasks read"
                                   : std::string("current task unknown (rq->curr unreadable)"));
    }
    if (c.regs && c.regs_match == RegsMatch::DumpOrder)
      rc.problems.push_back("registers tied to this CPU by the dump's note order (no crash_notes to identify them)");
    if (c.regs) {
      rc.has_registers = true;
      rc.rip = c.regs->get(CpuRegisters::rip);
      rc.rsp = c.regs->get(CpuRegisters::rsp);
      rc.eflags = c.regs->get(CpuRegisters::eflags);
      rc.irqs_off = !(rc.eflags & 0x200);  // X86_EFLAGS_IF
    }
    Stack stack = model.cpu_stack(c.cpu);
    if (!stack.start_problem.empty()) {
      rc.problems.push_back(stack.start_problem);
      r.problems.push_back("CPU " + std::to_string(c.cpu) + ": " + stack.start_problem);
    }
    rc.stack = make_report_stack(model, stack);
    r.cpus.push_back(std::move(rc));
  }

  std::unordered_map<std::string, size_t> group_of;
  const auto& tasks = model.tasks().tasks;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i % 32 == 0) progress("stacks", i, tasks.size());
    const TaskInfo& t = tasks[i];
    ReportTask rt;
    rt.address = t.address;
    rt.pid = t.pid;
    rt.tgid = t.tgid;
    rt.comm = t.comm;
    rt.state = t.state.letter;
    rt.state_name = t.state.name;
    rt.cpu = t.cpu;
    rt.on_cpu = t.on_cpu;
    rt.current_on = t.current_on;
    rt.kthread = t.kthread();
    rt.since_ran_ns = t.since_ran_ns;
    rt.problems = t.problems;
    ReportStack stack = make_report_stack(model, model.task_stack(t));
    std::string key = stack_key(stack);
    auto [it, inserted] = group_of.emplace(key, r.groups.size());
    if (inserted) r.groups.push_back(TaskStackGroup{std::move(stack), {}, {}});
    rt.group = it->second;
    r.groups[rt.group].tasks.push_back(r.tasks.size());
    r.groups[rt.group].states[rt.state]++;
    if (rt.state == 'D') r.d_state.push_back(r.tasks.size());
    r.tasks.push_back(std::move(rt));
  }
  progress("stacks", tasks.size(), tasks.size());
  fill_nmi(model, r);
  if (size_t failed = model.orc().failed_lookups())
    r.problems.push_back("ORC table partly unreadable: " + std::to_string(failed) + " lookup(s) failed, the first: " +
                         model.orc().first_lookup_error());

  // Biggest groups first; renumber the tasks' group indexes to match.
  std::vector<size_t> order(r.groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.groups[a].tasks.size() > r.groups[b].tasks.size(); });
  std::vector<size_t> new_index(order.size());
  std::vector<TaskStackGroup> sorted;
  for (size_t i = 0; i < order.size(); ++i) {
    new_index[order[i]] = i;
    sorted.push_back(std::move(r.groups[order[i]]));
  }
  r.groups = std::move(sorted);
  for (auto& t : r.tasks) t.group = new_index[t.group];
  std::stable_sort(r.d_state.begin(), r.d_state.end(), [&](size_t a, size_t b) {
    return r.tasks[a].since_ran_ns.value_or(0) > r.tasks[b].since_ran_ns.value_or(0);
  });
  return r;
}

}  // namespace kstuck
