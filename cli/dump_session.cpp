// SPDX-License-Identifier: GPL-2.0
// DumpSession: option handling and model loading shared by the dump commands.
#include "cli/dump_session.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "analysis/report/text_sanitize.h"
#include "cli/commands/dump_problems.h"

namespace po = boost::program_options;

namespace kstuck::cli {

namespace {
struct LineSources {
  KdumpTarget& target;
  const ModuleSet& modules;
  bool vmlinux;
  ModuleSourceLines* module_lines;  // nullptr without --module-dir
};

std::optional<std::string> frame_line(uint64_t address, void* ctx) {
  auto* s = static_cast<LineSources*>(ctx);
  Result<std::string> r = fail(ErrorKind::NotFound, "not asked for");
  if (s->modules.containing(address)) {
    if (s->module_lines) r = s->module_lines->at(address);
  } else if (s->vmlinux) {
    r = s->target.source_line(address);
  }
  if (!r) return std::nullopt;
  return *r;
}
}  // namespace

void DumpSession::add_source_lines(AnalyzeReport& report) {
  if (!vmlinux_lines_ && !module_lines_) return;
  LineSources sources{*target_, model_->modules(), vmlinux_lines_, module_lines_.get()};
  annotate_sources(report, frame_line, &sources);
  // Without --vmlinux, --lines needs the vmlinux found by build-id: say once if it was not.
  if (auto stext = target_->symbol_address("_stext"); vmlinux_lines_ && stext)
    if (auto line = target_->source_line(*stext); !line && line.error().kind() != ErrorKind::Fault)
      if (line.error().message().find("DWARF") != std::string::npos)
        report.problems.push_back("--lines: " + line.error().describe());
  for (auto& p : source_line_problems()) report.problems.push_back(std::move(p));
}

void DumpSession::add_source_lines(ReportStack& stack) {
  if (!vmlinux_lines_ && !module_lines_) return;
  LineSources sources{*target_, model_->modules(), vmlinux_lines_, module_lines_.get()};
  annotate_sources(stack, frame_line, &sources);
}

std::vector<std::string> DumpSession::source_line_problems() {
  return module_lines_ ? module_lines_->problems() : std::vector<std::string>{};
}

void add_dump_options(po::options_description& opts) {
  opts.add_options()("vmlinux", po::value<std::string>(),
                     "the dumped kernel's vmlinux with DWARF (optional: without it, symbols and types come from the dump's kallsyms and BTF)")(
      "module-dir", po::value<std::vector<std::string>>(), "directory with the dump's .ko files, searched recursively (repeatable): file:line of module frames")(
      "force", "use the vmlinux even if its build-id does not match the dump")("json", "print JSON")(
      "lines", "add file:line to vmlinux frames (reads the vmlinux's DWARF: slower)");
}

std::optional<int> parse_dump_args(const std::vector<std::string>& args, const char* command, const char* usage,
                                   const po::options_description& opts, po::variables_map& vm,
                                   const char* extra_positional) {
  po::options_description all;
  all.add(opts).add_options()("vmcore", po::value<std::string>());
  po::positional_options_description pos;
  pos.add("vmcore", 1);
  if (extra_positional) {
    all.add_options()(extra_positional, po::value<std::string>());
    pos.add(extra_positional, 1);
  }
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck " << command << ": " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || !vm.count("vmcore")) {
    std::cout << usage << opts;
    return vm.count("help") ? 0 : 2;
  }
  return std::nullopt;
}

namespace {
bool stderr_is_tty() {
  static const bool tty = isatty(STDERR_FILENO) == 1;
  return tty;
}
void task_progress(size_t done, void* ctx) { progress_bar("tasks", done, 0, ctx); }
}  // namespace

std::unique_ptr<KdumpTarget> open_dump(const po::variables_map& vm, const char* command) {
  KdumpOptions options;
  if (vm.count("vmlinux")) options.vmlinux = vm["vmlinux"].as<std::string>();
  options.force = vm.count("force") > 0;
  auto opened = KdumpTarget::open(vm["vmcore"].as<std::string>(), options);
  if (!opened) {
    std::cerr << "kstuck " << command << ": " << sanitize_text(opened.error().describe()) << "\n";
    return nullptr;
  }
  // A debuginfod download of a vmlinux (for --lines without --vmlinux) is 300-600 MB.
  (*opened)->set_debuginfo_lookup("", [](long done, long total) {
    if (!stderr_is_tty()) return;
    if (total > 0)
      std::fprintf(stderr, "\r\033[Kdebuginfod: vmlinux %ld/%ld MB", done >> 20, total >> 20);
    else
      std::fprintf(stderr, "\r\033[Kdebuginfod: vmlinux %ld MB", done >> 20);
    std::fflush(stderr);
  });
  return std::move(*opened);
}


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
  if (vm.count("module-dir")) s->module_dirs_ = vm["module-dir"].as<std::vector<std::string>>();
  progress_bar("open", 0, 0, nullptr);
  if (stderr_is_tty()) std::fputs("\r\033[K", stderr);
  s->target_ = open_dump(vm, command);
  if (!s->target_) return nullptr;
  ModelOptions mo;
  mo.progress = task_progress;
  auto model = KernelModel::load(*s->target_, mo);
  if (!model) {
    if (stderr_is_tty()) std::fputs("\r\033[K", stderr);
    std::cerr << "kstuck " << command << ": "
              << sanitize_text(failure_with_causes(*s->target_, model.error().describe())) << "\n";
    return nullptr;
  }
  s->model_ = std::move(*model);
  s->vmlinux_lines_ = vm.count("lines") > 0;
  if (!s->module_dirs_.empty())
    s->module_lines_ = std::make_unique<ModuleSourceLines>(*s->target_, s->model_->modules(), s->module_dirs_);
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
  // Where symbols and types came from; a comparison of both modes leaves these two out.
  r.system.source["build-id"] = info.symbols_from == "dump" ? "not checked (no --vmlinux)"
                                : info.build_id_matches      ? "matches"
                                                             : "MISMATCH (--force)";
  r.system.source["symbols"] = info.symbols_from == "dump" ? "dump (kallsyms, BTF)" : "vmlinux";
  // A note the analysis already reported in its own words (a malformed CRASHTIME) once.
  for (const auto& n : info.notes)
    if (std::find(r.problems.begin(), r.problems.end(), n) == r.problems.end()) r.problems.push_back("dump: " + n);
  return r;
}

DumpSession::~DumpSession() = default;

}  // namespace kstuck::cli
