// SPDX-License-Identifier: GPL-2.0
// AnalyzeReport: what `kstuck analyze` shows (system, CPUs, tasks grouped by stack), front-end neutral.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/kernel/kernel_model.h"
#include "analysis/kernel/printk_log.h"

namespace kstuck {

struct ReportFrame {
  uint64_t ip = 0;
  std::string symbol;    // "func+0x1c/0x80 [module]" (or "0x..." when unknown)
  std::string function;  // "func" (empty when unknown)
  std::string module;    // empty for vmlinux
  std::string stack;     // task, irq, nmi, ... (stack_kind_name)
  bool reliable = true;
  bool exact = false;    // an interrupted IP from registers, not a return address
  std::string source;    // "kernel/smp.c:612" when the front-end looked it up (--lines)
};

struct ReportStack {
  std::vector<ReportFrame> frames;
  std::string stop;        // stop_reason_name
  bool complete = false;   // ended at the end of the stack or in user mode
  uint64_t stop_address = 0;
  std::string detail;
  bool has_function(std::string_view function) const;
};

struct ReportCpu {
  int cpu = -1;
  std::string state = "online";  // cpu_state_name: "online", or "stopped" (not in cpu_online_mask)
  std::string state_detail;      // why a stopped CPU is listed, and whose registers these are
  bool has_registers = false;
  uint64_t rip = 0, rsp = 0, eflags = 0;
  bool irqs_off = false;  // EFLAGS.IF clear
  uint64_t task = 0;      // rq->curr
  int pid = -1;
  std::string comm;
  ReportStack stack;
  std::vector<std::string> problems;
};

struct ReportTask {
  uint64_t address = 0;
  int pid = 0, tgid = 0;
  std::string comm;
  char state = '?';
  std::string state_name;
  int cpu = -1;
  bool on_cpu = false;
  int current_on = -1;
  bool kthread = false;
  std::optional<uint64_t> since_ran_ns;
  size_t group = 0;  // index into AnalyzeReport::groups
  std::vector<std::string> problems;
};

// Tasks whose stacks are identical frame for frame (same symbol+offset).
struct TaskStackGroup {
  ReportStack stack;
  std::vector<size_t> tasks;        // indexes into AnalyzeReport::tasks
  std::map<char, size_t> states;    // state letter -> count
};

struct SystemInfo {
  std::string release, version, machine, nodename;
  uint64_t uptime_ns = 0;             // ns since boot (CpuSet::uptime_ns); 0 when unknown
  std::string uptime_source;          // "rq->clock" or "timekeeper"; empty when unknown
  std::string uptime_unknown;         // why the uptime is unknown (implausible or unreadable clocks)
  std::string uptime_check;           // the second clock's word on it ("timekeeper 8.5s", or why none)
  std::optional<int64_t> crash_time;  // VMCOREINFO CRASHTIME, when it agrees with the timekeeper
  std::string crash_time_problem;     // why a CRASHTIME the dump has is not used
  std::string panic_message;
  std::vector<LogRecord> log_tail;
  std::map<std::string, std::string> source;  // what the front-end says about the input
};

struct ModuleSummary {
  std::string name;
  uint64_t base = 0, size = 0;
};

// One CPU of a kstuck.ko NMI snapshot found in the dump (nmi_dump/uapi/nmi_dump_record.h).
struct ReportNmiCpu {
  uint32_t cpu = 0;
  bool answered = false;
  bool irqs_off = false;
  std::string context;  // "kernel,irqs-off,..."
  uint32_t pid = 0;
  std::string comm;
  uint64_t timestamp_ns = 0;
  std::vector<ReportFrame> frames;
};

struct ReportNmiSnapshot {
  uint64_t seq = 0;
  std::string trigger;  // "on-demand", "unknown-nmi", "panic", "watchdog"
  bool complete = false;
  uint32_t initiator_cpu = 0, requested = 0, answered = 0;
  uint64_t start_ns = 0;
  std::vector<ReportNmiCpu> cpus;
};

struct AnalyzeReport {
  SystemInfo system;
  std::vector<ReportCpu> cpus;
  std::vector<ReportTask> tasks;
  std::vector<TaskStackGroup> groups;   // biggest first
  std::vector<size_t> d_state;      // tasks in D, longest waiting first
  std::vector<ModuleSummary> modules;
  // kstuck.ko's NMI history when the module was loaded in the dumped kernel.
  bool nmi_module_loaded = false;
  std::string nmi_status;  // why there are no snapshots, or the buffer's address
  std::vector<ReportNmiSnapshot> nmi;
  std::vector<std::string> problems;
};

struct AnalyzeOptions {
  size_t log_lines = 40;
  // Called between phases and per task stack: (phase, done, total).
  void (*progress)(const char* phase, size_t done, size_t total, void* ctx) = nullptr;
  void* progress_ctx = nullptr;
};

ReportStack make_report_stack(KernelModel& model, const Stack& stack);

// SystemInfo::crash_time from VMCOREINFO's CRASHTIME, checked against the core
// timekeeper's xtime_sec (CpuSet::wall_seconds); crash_time_problem says why it is not used.
void decide_crash_time(const std::optional<std::string>& crashtime, std::optional<int64_t> timekeeper_wall_s,
                       SystemInfo& sys);

// Fills ReportFrame::source of every frame (CPU, group and NMI stacks) through lookup,
// which gets the address to look up (ip-1 for return addresses); caches per address.
using SourceLookup = std::optional<std::string> (*)(uint64_t address, void* ctx);
void annotate_sources(AnalyzeReport& report, SourceLookup lookup, void* ctx);
void annotate_sources(ReportStack& stack, SourceLookup lookup, void* ctx);
AnalyzeReport build_analyze_report(KernelModel& model, const AnalyzeOptions& options = {});

}  // namespace kstuck
