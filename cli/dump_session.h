// SPDX-License-Identifier: GPL-2.0
// DumpSession: the shared options of analyze/tasks/bt, opening the vmcore and loading the model.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analysis/kdump_target/kdump_target.h"
#include "analysis/kdump_target/module_source_lines.h"
#include "analysis/kernel/kernel_model.h"
#include "analysis/report/analyze_report.h"

namespace kstuck::cli {

// Adds VMCORE --vmlinux --module-dir --force --json to a command's options.
void add_dump_options(boost::program_options::options_description& opts);

// Parses "VMCORE [EXTRA]" plus opts for a dump command. Returns the exit code to stop
// with (0 after --help, 2 after a usage or option error, with usage and options
// printed), or nullopt to go on. VMCORE is required; --vmlinux is optional.
std::optional<int> parse_dump_args(const std::vector<std::string>& args, const char* command, const char* usage,
                                   const boost::program_options::options_description& opts,
                                   boost::program_options::variables_map& vm, const char* extra_positional = nullptr);

// Opens VMCORE with --vmlinux and --force; prints "kstuck COMMAND: reason" on failure.
std::unique_ptr<KdumpTarget> open_dump(const boost::program_options::variables_map& vm, const char* command);

class DumpSession {
 public:
  // Opens the dump and loads the kernel model; prints a one-line error and returns
  // nullptr on failure. The progress bar goes to stderr only when it is a terminal.
  static std::unique_ptr<DumpSession> open(const boost::program_options::variables_map& vm, const char* command);

  KdumpTarget& target() { return *target_; }
  KernelModel& model() { return *model_; }
  AnalyzeReport report(size_t log_lines = 40);
  // file:line of vmlinux frames from the vmlinux's DWARF (with --lines) and of module
  // frames from the matching .ko under --module-dir (whenever it is given). The report
  // overload also lists the .ko files that were missing or refused as problems.
  void add_source_lines(AnalyzeReport& report);
  void add_source_lines(ReportStack& stack);
  // The .ko files that were missing or refused so far, one line each.
  std::vector<std::string> source_line_problems();

  ~DumpSession();

 private:
  DumpSession() = default;
  std::unique_ptr<KdumpTarget> target_;
  std::unique_ptr<KernelModel> model_;
  std::vector<std::string> module_dirs_;
  bool vmlinux_lines_ = false;
  std::unique_ptr<ModuleSourceLines> module_lines_;  // with --module-dir
};

// Draws "phase [#####     ] done/total" on stderr when it is a TTY; no-op otherwise.
void progress_bar(const char* phase, size_t done, size_t total, void* ctx);

}  // namespace kstuck::cli
