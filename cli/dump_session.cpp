// SPDX-License-Identifier: GPL-2.0
// DumpSession: option handling and model loading shared by the dump commands.
#include "cli/dump_session.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

namespace kstuck::cli {

namespace {
std::optional<std::string> vmlinux_line(uint64_t address, void* ctx) {
  auto r = static_cast<KdumpTarget*>(ctx)->source_line(address);
  if (!r) return std::nullopt;
  return *r;
}
}  // namespace

void DumpSession::add_source_lines(AnalyzeReport& report) { annotate_sources(report, vmlinux_line, target_.get()); }
void DumpSession::add_source_lines(ReportStack& stack) { annotate_sources(stack, vmlinux_line, target_.get()); }

void add_dump_options(po::options_description& opts) {
  opts.add_options()("vmlinux", po::value<std::string>(), "the dumped kernel's vmlinux with symbols (required)")(
      "module-dir", po::value<std::vector<std::string>>(), "directory with the dump's .ko files (repeatable)")(
      "force", "use the vmlinux even if its build-id does not match the dump")("json", "print JSON")(
      "lines", "add file:line to vmlinux frames (reads the vmlinux's DWARF: slower)");
}

namespace {
bool stderr_is_tty() {
  static const bool tty = isatty(STDERR_FILENO) == 1;
  return tty;
}
void task_progress(size_t done, void* ctx) { progress_bar("tasks", done, 0, ctx); }
}  // namespace

void progress_bar(const char* phase, size_t done, size_t total, void*) {
  if (!stderr_is_tty()) return;
  if (total == 0) {
    std::fprintf(stderr, "\r\033[K%s: %zu", phase, done);
  } else {
    int width = 30, filled = int(done * width / (total ? total : 1));
    std::fprintf(stderr, "\r\033[K%-7s [%.*s%*s] %zu/%zu", phase, filled, "##############################",
                 width - filled, "", done, total);
  }
  std::fflush(stderr);
}

std::unique_ptr<DumpSession> DumpSession::open(const po::variables_map& vm, const char* command) {
  std::unique_ptr<DumpSession> s(new DumpSession());
  KdumpOptions options;
  options.vmlinux = vm["vmlinux"].as<std::string>();
  options.force = vm.count("force") > 0;
  if (vm.count("module-dir")) s->module_dirs_ = vm["module-dir"].as<std::vector<std::string>>();
  progress_bar("open", 0, 0, nullptr);
  auto target = KdumpTarget::open(vm["vmcore"].as<std::string>(), options);
  if (!target) {
    if (stderr_is_tty()) std::fputs("\r\033[K", stderr);
    std::cerr << "kstuck " << command << ": " << target.error().describe() << "\n";
    return nullptr;
  }
  s->target_ = std::move(*target);
  ModelOptions mo;
  mo.progress = task_progress;
  auto model = KernelModel::load(*s->target_, mo);
  if (!model) {
    if (stderr_is_tty()) std::fputs("\r\033[K", stderr);
    std::cerr << "kstuck " << command << ": " << model.error().describe() << "\n";
    return nullptr;
  }
  s->model_ = std::move(*model);
  return s;
}

AnalyzeReport DumpSession::report(size_t log_lines) {
  AnalyzeOptions ao;
  ao.log_lines = log_lines;
  ao.progress = progress_bar;
  AnalyzeReport r = build_analyze_report(*model_, ao);
  if (stderr_is_tty()) std::fputs("\r\033[K", stderr);
  const DumpInfo& info = target_->info();
  r.system.source["dump"] = info.path;
  r.system.source["format"] = info.format + (info.description.empty() ? "" : " (" + info.description + ")");
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(info.kaslr_offset));
  r.system.source["kaslr"] = buf;
  r.system.source["build-id"] = info.build_id_matches ? "matches" : "MISMATCH (--force)";
  for (const auto& n : info.notes) r.problems.push_back("dump: " + n);
  if (!module_dirs_.empty())
    r.problems.push_back("--module-dir: file:line for module frames is not implemented yet; symbols come from the dump");
  return r;
}

DumpSession::~DumpSession() = default;

}  // namespace kstuck::cli
