// SPDX-License-Identifier: GPL-2.0
// NMI snapshot reports: text for people, JSON for tools; both from the parsed history.
#include "analysis/nmi_report.h"

#include <cstdio>
#include <ctime>
#include <map>

#include <nlohmann/json.hpp>

#include "analysis/hex_text.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

namespace kstuck {
namespace {

constexpr const char* kRegNames[21] = {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11",
                                       "r10", "r9",  "r8",  "rax", "rcx", "rdx", "rsi",
                                       "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss"};

std::string utc(uint64_t realtime_ns) {
  std::time_t t = static_cast<std::time_t>(realtime_ns / 1000000000ULL);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string cpu_list(const std::vector<uint32_t>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size(); i++) {
    // Ranges keep 64-CPU summaries on one line: "0-3,8".
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) j++;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j;
  }
  return out;
}

std::string ms(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

}  // namespace

bool nmi_frame_is_return_address(const NmiCpu& cpu, size_t index) {
  return index > 0 || (cpu.context & NMI_DUMP_CTX_NO_REGS);
}

std::vector<StackGroup> group_stacks(const NmiSnapshot& snap, FrameNamer& namer) {
  std::vector<StackGroup> groups;
  std::map<std::vector<std::string>, size_t> index;
  for (const auto& c : snap.cpus) {
    if (!c.answered()) continue;
    std::vector<std::string> fns;
    if (c.user_mode()) fns.push_back("[user " + hex_text(c.regs[NMI_DUMP_REG_RIP]) + "]");
    for (size_t i = 0; i < c.frames.size(); i++) {
      auto f = namer.function(c.frames[i], nmi_frame_is_return_address(c, i));
      fns.push_back(f.empty() ? hex_text(c.frames[i]) : f);
    }
    auto [it, fresh] = index.emplace(fns, groups.size());
    if (fresh) groups.push_back({{}, fns});
    groups[it->second].cpus.push_back(c.cpu);
  }
  return groups;
}

std::string render_nmi_text(const NmiHistory& history, const std::vector<const NmiSnapshot*>& snaps,
                            FrameNamer& namer, const NmiReportOptions& options) {
  std::string out;
  char line[512];
  for (const auto* s : snaps) {
    std::snprintf(line, sizeof(line), "snapshot %llu (%s) %s: %u/%u CPUs answered in %s, initiator CPU %u%s\n",
                  static_cast<unsigned long long>(s->seq), nmi_trigger_name(s->trigger), utc(s->realtime_ns).c_str(),
                  s->nr_answered, s->nr_requested, ms(s->end_ns - s->start_ns).c_str(), s->initiator_cpu,
                  s->complete() ? "" : " [INCOMPLETE: dump taken mid-capture]");
    out += line;
    if (s->stalled_cpu) {
      std::snprintf(line, sizeof(line), "  watchdog: CPU %u silent for %s\n", *s->stalled_cpu, ms(s->stall_ns).c_str());
      out += line;
    }
    std::vector<uint32_t> missing, stopped;
    for (const auto& c : s->cpus) {
      if (c.status & NMI_DUMP_CPU_STOPPED) stopped.push_back(c.cpu);
      if ((c.status & NMI_DUMP_CPU_REQUESTED) && !c.answered()) missing.push_back(c.cpu);
    }
    if (!stopped.empty()) out += "  stopped by panic: CPUs " + cpu_list(stopped) + "\n";
    if (!missing.empty()) out += "  NOT ANSWERED: CPUs " + cpu_list(missing) + "\n";
    if (options.stacks) {
      for (const auto& c : s->cpus) {
        if (!c.answered()) continue;
        std::snprintf(line, sizeof(line), "\nCPU %u  %s pid %u tgid %u  %s preempt=0x%x  +%s\n", c.cpu, c.comm.c_str(),
                      c.pid, c.tgid, nmi_context_names(c.context).c_str(), c.preempt_count,
                      ms(c.timestamp_ns >= s->start_ns ? c.timestamp_ns - s->start_ns : 0).c_str());
        out += line;
        if (c.user_mode()) out += "  [user mode at " + hex_text(c.regs[NMI_DUMP_REG_RIP]) + "]\n";
        for (size_t i = 0; i < c.frames.size(); i++) {
          bool ret = nmi_frame_is_return_address(c, i);
          out += "  #" + std::to_string(i) + (i < 10 ? "  " : " ") + namer.format(c.frames[i], ret);
          if (auto src = namer.source(c.frames[i], ret)) out += "  " + *src;
          out += "\n";
        }
        if (c.stack_flags & NMI_DUMP_STACK_TRUNCATED) out += "  ... (truncated)\n";
        if (c.stack_flags & NMI_DUMP_STACK_UNWIND_ERROR) out += "  (unwinder reported an error)\n";
        if (c.stack_flags & NMI_DUMP_STACK_RESYNCED)
          out += "  (no ORC data at #0: #1 on are unwound from the caller's return address on the stack)\n";
        if (options.registers) {
          for (size_t r = 0; r < c.regs.size(); r++) {
            std::snprintf(line, sizeof(line), "%s%-8s %016llx", r % 3 == 0 ? "  " : "  ", kRegNames[r],
                          static_cast<unsigned long long>(c.regs[r]));
            out += line;
            if (r % 3 == 2 || r + 1 == c.regs.size()) out += "\n";
          }
        }
      }
    }
    if (options.summary) {
      auto groups = group_stacks(*s, namer);
      std::snprintf(line, sizeof(line), "\nstack summary: %zu distinct stack%s\n", groups.size(),
                    groups.size() == 1 ? "" : "s");
      out += line;
      for (const auto& g : groups) {
        out += "  CPU" + std::string(g.cpus.size() > 1 ? "s " : " ") + cpu_list(g.cpus) + ":";
        size_t shown = 0;
        for (const auto& f : g.functions) {
          if (shown++ == 8) {
            out += " < ...";
            break;
          }
          out += (shown == 1 ? " " : " < ") + f;
        }
        out += "\n";
      }
    }
    out += "\n";
  }
  if (history.info.unknown_nmis) {
    std::snprintf(line, sizeof(line),
                  "external NMIs since load: %llu seen, %llu captured, %llu rate-limited, %llu while busy\n",
                  static_cast<unsigned long long>(history.info.unknown_nmis),
                  static_cast<unsigned long long>(history.info.unknown_captured),
                  static_cast<unsigned long long>(history.info.unknown_ratelimited),
                  static_cast<unsigned long long>(history.info.unknown_busy));
    out += line;
  }
  for (const auto& w : history.warnings) out += "warning: " + w + "\n";
  return out;
}

std::string render_nmi_json(const NmiHistory& history, const std::vector<const NmiSnapshot*>& snaps,
                            FrameNamer& namer, const NmiReportOptions& options) {
  nlohmann::ordered_json root;
  root["schema"] = "kstuck-nmi/1";
  root["format"] = std::to_string(history.info.major) + "." + std::to_string(history.info.minor);
  root["slots"] = history.info.nr_slots;
  root["write_seq"] = history.info.write_seq;
  if (history.info.minor >= 1) {
    root["pinned_slots"] = history.info.pinned_slots;
    root["unknown_nmis"] = {{"seen", history.info.unknown_nmis},
                            {"captured", history.info.unknown_captured},
                            {"ratelimited", history.info.unknown_ratelimited},
                            {"busy", history.info.unknown_busy}};
  }
  auto& arr = root["snapshots"] = nlohmann::ordered_json::array();
  for (const auto* s : snaps) {
    nlohmann::ordered_json js;
    js["seq"] = s->seq;
    js["trigger"] = nmi_trigger_name(s->trigger);
    js["complete"] = s->complete();
    js["time"] = utc(s->realtime_ns);
    js["realtime_ns"] = s->realtime_ns;
    js["start_ns"] = s->start_ns;
    js["duration_ns"] = s->end_ns >= s->start_ns ? s->end_ns - s->start_ns : 0;
    js["initiator_cpu"] = s->initiator_cpu;
    js["requested"] = s->nr_requested;
    js["answered"] = s->nr_answered;
    js["timeout_ms"] = s->timeout_ms;
    if (s->stalled_cpu) {
      js["stalled_cpu"] = *s->stalled_cpu;
      js["stall_ns"] = s->stall_ns;
    }
    auto& cpus = js["cpus"] = nlohmann::ordered_json::array();
    for (const auto& c : s->cpus) {
      nlohmann::ordered_json jc;
      jc["cpu"] = c.cpu;
      jc["status"] = nmi_status_names(c.status);
      jc["answered"] = c.answered();
      if (c.answered()) {
        jc["timestamp_ns"] = c.timestamp_ns;
        jc["context"] = nmi_context_names(c.context);
        jc["user_mode"] = c.user_mode();
        jc["irqs_enabled"] = c.irqs_enabled();
        jc["preempt_count"] = c.preempt_count;
        jc["pid"] = c.pid;
        jc["tgid"] = c.tgid;
        jc["comm"] = c.comm;
        jc["task"] = hex_text(c.task_kaddr);
        jc["truncated"] = (c.stack_flags & NMI_DUMP_STACK_TRUNCATED) != 0;
        jc["resynced"] = (c.stack_flags & NMI_DUMP_STACK_RESYNCED) != 0;
        if (options.registers) {
          auto& regs = jc["regs"] = nlohmann::ordered_json::object();
          for (size_t r = 0; r < c.regs.size(); r++) regs[kRegNames[r]] = hex_text(c.regs[r]);
        } else {
          jc["rip"] = hex_text(c.regs[NMI_DUMP_REG_RIP]);
          jc["rsp"] = hex_text(c.regs[NMI_DUMP_REG_RSP]);
          jc["eflags"] = hex_text(c.regs[NMI_DUMP_REG_EFLAGS]);
        }
        auto& frames = jc["frames"] = nlohmann::ordered_json::array();
        for (size_t i = 0; i < c.frames.size(); i++) {
          bool ret = nmi_frame_is_return_address(c, i);
          nlohmann::ordered_json jf;
          jf["address"] = hex_text(c.frames[i]);
          jf["symbol"] = namer.format(c.frames[i], ret);
          jf["function"] = namer.function(c.frames[i], ret);
          if (auto src = namer.source(c.frames[i], ret)) jf["source"] = *src;
          frames.push_back(std::move(jf));
        }
      }
      cpus.push_back(std::move(jc));
    }
    if (options.summary) {
      auto& groups = js["summary"] = nlohmann::ordered_json::array();
      for (const auto& g : group_stacks(*s, namer)) groups.push_back({{"cpus", g.cpus}, {"stack", g.functions}});
    }
    arr.push_back(std::move(js));
  }
  root["warnings"] = history.warnings;
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace kstuck
