// SPDX-License-Identifier: GPL-2.0
// Text rendering of the analyze report: what a support engineer reads first.
#include <cstdarg>
#include <cstdio>

#include "analysis/report/analyze_render.h"

namespace kstuck {
namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<size_t>(size_t(n), sizeof(buf) - 1));
}

void append_stack(std::string& out, const ReportStack& s, const char* indent) {
  std::string last_stack;
  for (const auto& f : s.frames) {
    if (!last_stack.empty() && f.stack != last_stack) appendf(out, "%s  --- <%s stack> ---\n", indent, f.stack.c_str());
    last_stack = f.stack;
    appendf(out, "%s  %s%s%s%s%s\n", indent, f.reliable ? "" : "? ", f.symbol.c_str(), f.exact ? "  (regs)" : "",
            f.source.empty() ? "" : "  ", f.source.c_str());
  }
  if (!s.complete) {
    appendf(out, "%s  [stopped: %s", indent, s.stop.c_str());
    if (s.stop_address) appendf(out, " at 0x%llx", static_cast<unsigned long long>(s.stop_address));
    if (!s.detail.empty()) appendf(out, ": %s", s.detail.c_str());
    out += "]\n";
  }
}

}  // namespace

std::string format_duration(uint64_t ns) {
  char buf[32];
  double s = double(ns) / 1e9;
  if (s < 60) std::snprintf(buf, sizeof(buf), "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof(buf), "%um%02us", unsigned(s / 60), unsigned(s) % 60);
  else std::snprintf(buf, sizeof(buf), "%uh%02um", unsigned(s / 3600), unsigned(s / 60) % 60);
  return buf;
}

std::string render_stack_text(const ReportStack& stack, const std::string& heading) {
  std::string out = heading + "\n";
  append_stack(out, stack, "");
  return out;
}

std::string render_analyze_text(const AnalyzeReport& r) {
  std::string out;
  const auto& sys = r.system;
  std::string uptime = sys.uptime_unknown.empty() ? format_duration(sys.uptime_ns) : "unknown (" + sys.uptime_unknown + ")";
  if (sys.uptime_unknown.empty() && sys.uptime_source == "timekeeper") uptime += " (from the timekeeper)";
  if (sys.uptime_unknown.empty() && sys.uptime_source == "rq->clock" && !sys.uptime_check.empty())
    uptime += " (rq->clock; " + sys.uptime_check + ")";
  appendf(out, "== system ==\n  release  %s (%s)\n  version  %s\n  uptime   %s\n", sys.release.c_str(),
          sys.machine.c_str(), sys.version.c_str(), uptime.c_str());
  for (const auto& [k, v] : sys.source) appendf(out, "  %-8s %s\n", k.c_str(), v.c_str());
  appendf(out, "  panic    %s\n", sys.panic_message.empty() ? "(none)" : sys.panic_message.c_str());
  if (!sys.log_tail.empty()) {
    appendf(out, "\n== kernel log (last %zu lines) ==\n", sys.log_tail.size());
    for (const auto& rec : sys.log_tail)
      appendf(out, "  [%5llu.%06llu] %s\n", static_cast<unsigned long long>(rec.ts_nsec / 1000000000),
              static_cast<unsigned long long>(rec.ts_nsec % 1000000000 / 1000), rec.text.c_str());
  }
  size_t stopped = 0;
  for (const auto& c : r.cpus) stopped += c.state != "online";
  if (stopped)
    appendf(out, "\n== CPUs (%zu online, %zu stopped) ==\n", r.cpus.size() - stopped, stopped);
  else
    appendf(out, "\n== CPUs (%zu online) ==\n", r.cpus.size());
  for (const auto& c : r.cpus) {
    appendf(out, "CPU %d: pid %d (%s)  IRQs %s  rip 0x%llx rsp 0x%llx%s\n", c.cpu, c.pid, c.comm.c_str(),
            !c.has_registers ? "?" : c.irqs_off ? "OFF" : "on", static_cast<unsigned long long>(c.rip),
            static_cast<unsigned long long>(c.rsp), c.state != "online" ? ("  [" + c.state + "]").c_str() : "");
    if (!c.state_detail.empty()) appendf(out, "  (%s)\n", c.state_detail.c_str());
    append_stack(out, c.stack, "");
    for (const auto& p : c.problems) appendf(out, "  ! %s\n", p.c_str());
  }
  if (!r.d_state.empty()) {
    appendf(out, "\n== D-state tasks (%zu) ==\n", r.d_state.size());
    for (size_t i : r.d_state) {
      const auto& t = r.tasks[i];
      appendf(out, "  pid %-7d %-16s waiting %s  (stack group %zu)\n", t.pid, t.comm.c_str(),
              t.since_ran_ns ? format_duration(*t.since_ran_ns).c_str() : "?", t.group + 1);
    }
  }
  appendf(out, "\n== tasks by stack (%zu tasks, %zu distinct stacks) ==\n", r.tasks.size(), r.groups.size());
  for (size_t gi = 0; gi < r.groups.size(); ++gi) {
    const auto& g = r.groups[gi];
    std::string states;
    for (auto [letter, n] : g.states) states += std::string(states.empty() ? "" : " ") + letter + ":" + std::to_string(n);
    std::string pids;
    for (size_t k = 0; k < g.tasks.size() && k < 12; ++k) {
      const auto& t = r.tasks[g.tasks[k]];
      pids += (k ? ", " : "") + std::to_string(t.pid) + " " + t.comm;
    }
    if (g.tasks.size() > 12) pids += ", ...";
    appendf(out, "[%zu] %zu task%s (%s): %s\n", gi + 1, g.tasks.size(), g.tasks.size() == 1 ? "" : "s",
            states.c_str(), pids.c_str());
    append_stack(out, g.stack, "  ");
  }
  if (r.nmi_module_loaded) {
    appendf(out, "\n== kstuck.ko NMI snapshots (%zu; %s) ==\n", r.nmi.size(), r.nmi_status.c_str());
    // The newest snapshot in full; older ones as one line each.
    for (size_t si = 0; si < r.nmi.size(); ++si) {
      const auto& snap = r.nmi[si];
      appendf(out, "snapshot %llu: %s, %u/%u CPUs answered%s, at %s\n", static_cast<unsigned long long>(snap.seq),
              snap.trigger.c_str(), snap.answered, snap.requested, snap.complete ? "" : " (incomplete)",
              format_duration(snap.start_ns).c_str());
      if (si + 1 != r.nmi.size()) continue;
      for (const auto& c : snap.cpus) {
        appendf(out, "  CPU %u: pid %u (%s)  %s\n", c.cpu, c.pid, c.comm.c_str(), c.context.c_str());
        for (const auto& f : c.frames)
          appendf(out, "    %s%s%s\n", f.symbol.c_str(), f.source.empty() ? "" : "  ", f.source.c_str());
      }
    }
  }
  if (!r.problems.empty()) {
    appendf(out, "\n== could not read ==\n");
    for (const auto& p : r.problems) appendf(out, "  %s\n", p.c_str());
  }
  return out;
}

std::string render_tasks_text(const AnalyzeReport& r) {
  std::string out;
  appendf(out, "%7s %7s %2s %4s %9s %-16s %s\n", "PID", "TGID", "ST", "CPU", "LAST-RAN", "COMM", "WHERE");
  for (const auto& t : r.tasks) {
    const auto& s = r.groups[t.group].stack;
    std::string where = s.frames.empty() ? "-" : s.frames.front().symbol;
    // The first frame is usually __schedule: show the first frame below the scheduler.
    for (const auto& f : s.frames) {
      if (f.function == "__schedule" || f.function == "schedule" || f.function == "__switch_to_asm" ||
          f.function == "schedule_timeout" || f.function == "schedule_preempt_disabled")
        continue;
      where = f.symbol;
      break;
    }
    std::string since = t.current_on >= 0 ? "running" : t.since_ran_ns ? format_duration(*t.since_ran_ns) : "?";
    appendf(out, "%7d %7d %2c %4d %9s %-16s %s\n", t.pid, t.tgid, t.state, t.cpu, since.c_str(), t.comm.c_str(),
            where.c_str());
  }
  for (const auto& p : r.problems) appendf(out, "! %s\n", p.c_str());
  return out;
}

}  // namespace kstuck
