// SPDX-License-Identifier: GPL-2.0
// "kstuck nmi": capture every CPU's stack through kstuck.ko's NMI collector, show the
// snapshot history (live, from a saved buffer, or from a vmcore), drive the watchdog.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analysis/fields.h"
#include "analysis/kallsyms_table.h"
#include "analysis/kdump_target/elf_symbols.h"
#include "analysis/kdump_target/kdump_target.h"
#include "analysis/kdump_target/module_source_lines.h"
#include "analysis/kdump_target/source_lines.h"
#include "analysis/kernel/modules.h"
#include "analysis/kernel/symbolizer.h"
#include "analysis/nmi_dump_history.h"
#include "analysis/nmi_records.h"
#include "analysis/nmi_report.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/dump_session.h"
#include "nmi_dump/uapi/nmi_dump_ioctl.h"

namespace po = boost::program_options;

namespace {

using kstuck::Error;
using kstuck::ErrorKind;
using kstuck::Result;

constexpr uint64_t kMaxBufferBytes = 256ull << 20;

class Device {
 public:
  static Result<Device> open() {
    int fd = ::open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kstuck::fail(ErrorKind::Os, std::string(KSTUCK_DEVICE_PATH ": ") + std::strerror(errno) +
                                                       (errno == ENOENT ? " (is kstuck.ko loaded?)" : ""));
    return Device(fd);
  }
  Device(Device&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~Device() {
    if (fd_ >= 0) ::close(fd_);
  }
  Result<void> ioctl(unsigned long cmd, void* arg, const char* what) const {
    if (::ioctl(fd_, cmd, arg) == 0) return {};
    return kstuck::fail(ErrorKind::Os, std::string(what) + ": " + std::strerror(errno));
  }
  int fd() const { return fd_; }

 private:
  explicit Device(int fd) : fd_(fd) {}
  int fd_;
};

Result<std::vector<std::byte>> read_history(const Device& dev) {
  kstuck_nmi_read r{};
  r.size = sizeof(r);
  if (::ioctl(dev.fd(), KSTUCK_IOC_NMI_READ, &r) == 0 || errno != ENOSPC)
    return kstuck::fail(ErrorKind::Os, std::string("KSTUCK_IOC_NMI_READ (size): ") + std::strerror(errno));
  if (r.buffer_size == 0 || r.buffer_size > kMaxBufferBytes)
    return kstuck::fail(ErrorKind::Format, "module reports a history of " + std::to_string(r.buffer_size) + " bytes");
  std::vector<std::byte> buf(r.buffer_size);
  r.buf = reinterpret_cast<uintptr_t>(buf.data());
  r.len = buf.size();
  if (auto ok = dev.ioctl(KSTUCK_IOC_NMI_READ, &r, "KSTUCK_IOC_NMI_READ"); !ok) return tl::unexpected(ok.error());
  return buf;
}

Result<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return kstuck::fail(ErrorKind::Os, path + ": " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Hex addresses only: no symbols at hand.
class RawNamer : public kstuck::FrameNamer {
 public:
  std::string format(uint64_t addr, bool) override {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(addr));
    return buf;
  }
  std::string function(uint64_t, bool) override { return {}; }
  std::optional<std::string> source(uint64_t, bool) override { return std::nullopt; }
};

// The running kernel: /proc/kallsyms, plus file:line from a vmlinux when given.
class KallsymsNamer : public kstuck::FrameNamer {
 public:
  KallsymsNamer(kstuck::KallsymsTable table, const std::string& vmlinux) : table_(std::move(table)) {
    if (vmlinux.empty()) return;
    auto elf = kstuck::ElfSymbols::open(vmlinux);
    auto stext = table_.address_of("_stext");
    if (!elf || !stext) {
      std::cerr << "kstuck nmi: no source lines: "
                << (elf ? std::string("_stext not in kallsyms") : elf.error().describe()) << "\n";
      return;
    }
    const auto* link = (*elf)->find("_stext");
    if (!link) return;
    kaslr_ = *stext - link->value;
    lines_ = std::make_unique<kstuck::SourceLines>(vmlinux);
  }
  std::string format(uint64_t addr, bool ret) override { return table_.format(addr, ret); }
  std::string function(uint64_t addr, bool ret) override {
    auto s = table_.lookup(ret && addr ? addr - 1 : addr);
    return s ? s->name : std::string();
  }
  std::optional<std::string> source(uint64_t addr, bool ret) override {
    if (!lines_) return std::nullopt;
    auto s = table_.lookup(ret && addr ? addr - 1 : addr);
    if (!s || !s->module.empty()) return std::nullopt;
    auto line = lines_->at((ret ? addr - 1 : addr) - kaslr_);
    if (!line) return std::nullopt;
    return *line;
  }

 private:
  kstuck::KallsymsTable table_;
  std::unique_ptr<kstuck::SourceLines> lines_;
  uint64_t kaslr_ = 0;
};

// A vmcore: vmlinux symbols and the dumped modules' kallsyms.
class DumpNamer : public kstuck::FrameNamer {
 public:
  // module_lines: file:line of module frames (--module-dir); nullptr without.
  DumpNamer(kstuck::KdumpTarget& t, kstuck::Symbolizer& sym, const kstuck::ModuleSet& modules, bool lines,
            kstuck::ModuleSourceLines* module_lines)
      : t_(t), sym_(sym), modules_(modules), lines_(lines), module_lines_(module_lines) {}
  std::string format(uint64_t addr, bool ret) override { return sym_.format(addr, ret); }
  std::string function(uint64_t addr, bool ret) override {
    auto s = sym_.lookup(ret && addr ? addr - 1 : addr);
    return s ? s->name : std::string();
  }
  std::optional<std::string> source(uint64_t addr, bool ret) override {
    uint64_t at = ret && addr ? addr - 1 : addr;
    kstuck::Result<std::string> line = kstuck::fail(kstuck::ErrorKind::NotFound, "not asked for");
    if (modules_.containing(at)) {
      if (module_lines_) line = module_lines_->at(at);
    } else if (lines_) {
      line = t_.source_line(at);
    }
    if (!line) return std::nullopt;
    return *line;
  }

 private:
  kstuck::KdumpTarget& t_;
  kstuck::Symbolizer& sym_;
  const kstuck::ModuleSet& modules_;
  bool lines_;
  kstuck::ModuleSourceLines* module_lines_;
};

std::unique_ptr<kstuck::FrameNamer> live_namer(const po::variables_map& vm) {
  std::string path = vm.count("kallsyms") ? vm["kallsyms"].as<std::string>() : "/proc/kallsyms";
  if (path == "none") return std::make_unique<RawNamer>();
  auto text = slurp(path);
  if (!text) {
    std::cerr << "kstuck nmi: no symbols: " << text.error().describe() << "\n";
    return std::make_unique<RawNamer>();
  }
  auto table = kstuck::KallsymsTable::parse(*text);
  if (!table.has_addresses()) {
    std::cerr << "kstuck nmi: no symbols: " << path << " shows no addresses (kptr_restrict?)\n";
    return std::make_unique<RawNamer>();
  }
  return std::make_unique<KallsymsNamer>(std::move(table), vm.count("vmlinux") ? vm["vmlinux"].as<std::string>() : "");
}

std::vector<const kstuck::NmiSnapshot*> select(const kstuck::NmiHistory& h, const po::variables_map& vm) {
  std::vector<const kstuck::NmiSnapshot*> out;
  if (vm.count("seq")) {
    if (const auto* s = h.find(vm["seq"].as<uint64_t>())) out.push_back(s);
    return out;
  }
  size_t last = vm.count("all") ? h.snapshots.size() : vm["last"].as<size_t>();
  size_t first = h.snapshots.size() > last ? h.snapshots.size() - last : 0;
  for (size_t i = first; i < h.snapshots.size(); i++) out.push_back(&h.snapshots[i]);
  return out;
}

int render(const kstuck::NmiHistory& h, const std::vector<const kstuck::NmiSnapshot*>& snaps,
           kstuck::FrameNamer& namer, const po::variables_map& vm) {
  kstuck::NmiReportOptions o;
  o.stacks = !vm.count("summary-only");
  o.registers = vm.count("registers") > 0;
  if (vm.count("json"))
    std::cout << kstuck::render_nmi_json(h, snaps, namer, o);
  else if (snaps.empty())
    std::cout << "no snapshots (history of " << h.info.nr_slots << " slots, " << h.info.write_seq
              << " captures since load)\n";
  else
    std::cout << kstuck::sanitize_text(kstuck::render_nmi_text(h, snaps, namer, o));
  return 0;
}

po::options_description report_options() {
  po::options_description o("report options");
  o.add_options()("json", "JSON output (schema kstuck-nmi/1)")("summary-only", "only the identical-stack summary")(
      "registers", "print every CPU's saved registers")(
      "kallsyms", po::value<std::string>(), "symbols of the live kernel (default /proc/kallsyms; 'none' for raw)")(
      "vmlinux", po::value<std::string>(), "vmlinux with DWARF: source lines (and the symbols of a --vmcore)");
  return o;
}

bool parse_args(const std::vector<std::string>& args, const po::options_description& opts, po::variables_map& vm,
                const char* what) {
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck nmi " << what << ": " << e.what() << "\n";
    return false;
  }
  return true;
}

int cmd_capture(const std::vector<std::string>& args) {
  po::options_description opts("nmi capture options");
  opts.add_options()("help,h", "show this help")("timeout", po::value<uint32_t>()->default_value(1000),
                                                  "ms to wait for all CPUs (max 10000)")(
      "count", po::value<uint32_t>()->default_value(1), "captures to take (prints each one's latency)")(
      "quiet,q", "print only the one-line result of each capture")(
      "save", po::value<std::string>(), "also write the raw history buffer to this file");
  opts.add(report_options());
  po::variables_map vm;
  if (!parse_args(args, opts, vm, "capture")) return 2;
  if (vm.count("help")) {
    std::cout << "usage: kstuck nmi capture [--timeout MS] [--json] [--quiet] [--count N]\n"
                 "  NMIs every online CPU (even one spinning with interrupts off) and prints their stacks\n\n"
              << opts;
    return 0;
  }
  auto dev = Device::open();
  if (!dev) {
    std::cerr << "kstuck nmi capture: " << dev.error().describe() << "\n";
    return 1;
  }
  kstuck_nmi_capture c{};
  uint32_t count = std::max<uint32_t>(1, vm["count"].as<uint32_t>());
  bool all_answered = true;
  for (uint32_t i = 0; i < count; i++) {
    c = {};
    c.size = sizeof(c);
    c.timeout_ms = vm["timeout"].as<uint32_t>();
    if (auto ok = dev->ioctl(KSTUCK_IOC_NMI_CAPTURE, &c, "KSTUCK_IOC_NMI_CAPTURE"); !ok) {
      std::cerr << "kstuck nmi capture: " << ok.error().describe() << "\n";
      return 1;
    }
    all_answered = all_answered && c.nr_answered == c.nr_requested;
    if (vm.count("quiet") || count > 1)
      std::printf("snapshot %llu: %u/%u CPUs answered in %.3f ms\n", static_cast<unsigned long long>(c.seq),
                  c.nr_answered, c.nr_requested, static_cast<double>(c.duration_ns) / 1e6);
  }
  if (vm.count("quiet") && !vm.count("save")) return all_answered ? 0 : 3;
  auto bytes = read_history(*dev);
  if (!bytes) {
    std::cerr << "kstuck nmi capture: " << bytes.error().describe() << "\n";
    return 1;
  }
  if (vm.count("save")) {
    std::ofstream out(vm["save"].as<std::string>(), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    if (!out) {
      std::cerr << "kstuck nmi capture: cannot write " << vm["save"].as<std::string>() << "\n";
      return 1;
    }
  }
  if (vm.count("quiet")) return all_answered ? 0 : 3;
  auto h = kstuck::parse_nmi_history(*bytes);
  if (!h) {
    std::cerr << "kstuck nmi capture: " << h.error().describe() << "\n";
    return 1;
  }
  std::vector<const kstuck::NmiSnapshot*> snaps;
  if (const auto* s = h->find(c.seq)) snaps.push_back(s);
  auto namer = live_namer(vm);
  render(*h, snaps, *namer, vm);
  // Exit 3: the capture worked but some CPU did not answer within the bound.
  return all_answered ? 0 : 3;
}

// The history from a vmcore: kstuck.ko's nmi_dump_buffer pointer, found by module kallsyms.
int show_vmcore(const po::variables_map& vm) {
  // Without --vmlinux the dump's own kallsyms and BTF serve (no file:line then).
  auto t = kstuck::cli::open_dump(vm, "nmi show");
  if (!t) return 1;
  kstuck::Fields fields(*t);
  auto modules = kstuck::load_modules(fields);
  kstuck::Symbolizer sym(*t, modules);
  auto dumped = kstuck::read_dumped_nmi_history(*t, sym);
  if (!dumped) {
    std::cerr << "kstuck nmi show: " << dumped.error().describe() << " (" << modules.modules.size()
              << " modules found)\n";
    return 1;
  }
  for (const auto& w : dumped->warnings) std::cerr << "kstuck nmi show: warning: " << w << "\n";
  const auto* h = &dumped->history;
  std::unique_ptr<kstuck::ModuleSourceLines> module_lines;
  if (vm.count("module-dir"))
    module_lines = std::make_unique<kstuck::ModuleSourceLines>(*t, modules,
                                                               vm["module-dir"].as<std::vector<std::string>>());
  DumpNamer namer(*t, sym, modules, !vm.count("no-lines") && vm.count("vmlinux"), module_lines.get());
  int rc = render(*h, select(*h, vm), namer, vm);
  if (module_lines)
    for (const auto& p : module_lines->problems()) std::cerr << "kstuck nmi show: warning: " << p << "\n";
  return rc;
}

int cmd_show(const std::vector<std::string>& args) {
  po::options_description opts("nmi show options");
  opts.add_options()("help,h", "show this help")("input", po::value<std::string>(),
                                                  "a raw history buffer saved by 'nmi save' or 'capture --save'")(
      "vmcore", po::value<std::string>(), "read the history from a vmcore (--vmlinux optional)")(
      "no-lines", "with --vmcore: no DWARF source lines of vmlinux frames")(
      "module-dir", po::value<std::vector<std::string>>(),
      "with --vmcore: directory with the dump's .ko files, searched recursively (repeatable): file:line of module frames")("seq", po::value<uint64_t>(), "only this snapshot")(
      "last", po::value<size_t>()->default_value(1), "the newest N snapshots")("all", "every snapshot kept");
  opts.add(report_options());
  po::variables_map vm;
  if (!parse_args(args, opts, vm, "show")) return 2;
  if (vm.count("help")) {
    std::cout << "usage: kstuck nmi show [--last N|--all|--seq N] [--input FILE | --vmcore DUMP [--vmlinux V] [--module-dir DIR]...] [--json]\n"
                 "  prints snapshots of the NMI history (live from /dev/kstuck by default)\n\n"
              << opts;
    return 0;
  }
  if (vm.count("vmcore")) return show_vmcore(vm);
  std::vector<std::byte> bytes;
  if (vm.count("input")) {
    auto text = slurp(vm["input"].as<std::string>());
    if (!text) {
      std::cerr << "kstuck nmi show: " << text.error().describe() << "\n";
      return 1;
    }
    auto b = std::as_bytes(std::span(text->data(), text->size()));
    bytes.assign(b.begin(), b.end());
  } else {
    auto dev = Device::open();
    if (!dev) {
      std::cerr << "kstuck nmi show: " << dev.error().describe() << "\n";
      return 1;
    }
    auto b = read_history(*dev);
    if (!b) {
      std::cerr << "kstuck nmi show: " << b.error().describe() << "\n";
      return 1;
    }
    bytes = std::move(*b);
  }
  auto h = kstuck::parse_nmi_history(bytes);
  if (!h) {
    std::cerr << "kstuck nmi show: " << h.error().describe() << "\n";
    return 1;
  }
  auto namer = live_namer(vm);
  return render(*h, select(*h, vm), *namer, vm);
}

int cmd_save(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: kstuck nmi save FILE\n  writes the raw NMI history buffer (record format "
              << NMI_DUMP_FORMAT_MAJOR << "." << NMI_DUMP_FORMAT_MINOR << ") to FILE\n";
    return args.size() == 1 ? 0 : 2;
  }
  auto dev = Device::open();
  auto bytes = dev ? read_history(*dev) : Result<std::vector<std::byte>>(tl::unexpected(dev.error()));
  if (!bytes) {
    std::cerr << "kstuck nmi save: " << bytes.error().describe() << "\n";
    return 1;
  }
  std::ofstream out(args[0], std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
  if (!out) {
    std::cerr << "kstuck nmi save: cannot write " << args[0] << "\n";
    return 1;
  }
  std::printf("%zu bytes written to %s\n", bytes->size(), args[0].c_str());
  return 0;
}

int cmd_watchdog(const std::vector<std::string>& args) {
  po::options_description opts("nmi watchdog options");
  opts.add_options()("help,h", "show this help")("enable", po::value<uint32_t>(),
                                                  "start with this threshold (ms, 100-600000)")(
      "disable", "stop the watchdog")("panic", "with --enable: panic after the capture (kdump gets the dump)");
  po::variables_map vm;
  if (!parse_args(args, opts, vm, "watchdog")) return 2;
  if (vm.count("help")) {
    std::cout << "usage: kstuck nmi watchdog [--enable MS [--panic] | --disable]\n"
                 "  the stall watchdog: captures all CPUs once when a CPU's interrupts stay off for MS\n\n"
              << opts;
    return 0;
  }
  auto dev = Device::open();
  if (!dev) {
    std::cerr << "kstuck nmi watchdog: " << dev.error().describe() << "\n";
    return 1;
  }
  kstuck_watchdog_config c{};
  // A kstuck.ko of ABI 1.0 wants the struct without 'skipped', in its exact size.
  auto watchdog_ioctl = [&](unsigned long cmd, const char* what) -> Result<void> {
    c.size = sizeof(c);
    if (::ioctl(dev->fd(), cmd, &c) == 0) return {};
    // Its ioctl number has the 1.0 size in it too (ENOTTY from a module that checks it).
    c.size = offsetof(kstuck_watchdog_config, skipped);
    unsigned long old_cmd = (cmd & ~(static_cast<unsigned long>(_IOC_SIZEMASK) << _IOC_SIZESHIFT)) |
                            (static_cast<unsigned long>(c.size) << _IOC_SIZESHIFT);
    if ((errno == EINVAL || errno == ENOTTY) && ::ioctl(dev->fd(), old_cmd, &c) == 0) return {};
    c.size = sizeof(c);
    return dev->ioctl(cmd, &c, what);
  };
  if (vm.count("enable") || vm.count("disable")) {
    c.enabled = vm.count("enable") ? 1 : 0;
    c.threshold_ms = vm.count("enable") ? vm["enable"].as<uint32_t>() : 1000;
    c.flags = vm.count("panic") ? KSTUCK_WATCHDOG_PANIC : 0;
    if (auto ok = watchdog_ioctl(KSTUCK_IOC_WATCHDOG_SET, "KSTUCK_IOC_WATCHDOG_SET"); !ok) {
      std::cerr << "kstuck nmi watchdog: " << ok.error().describe() << "\n";
      return 1;
    }
  }
  c = {};
  if (auto ok = watchdog_ioctl(KSTUCK_IOC_WATCHDOG_GET, "KSTUCK_IOC_WATCHDOG_GET"); !ok) {
    std::cerr << "kstuck nmi watchdog: " << ok.error().describe() << "\n";
    return 1;
  }
  std::printf("watchdog %s, threshold %u ms%s, fired %llu", c.enabled ? "running" : "stopped", c.threshold_ms,
              (c.flags & KSTUCK_WATCHDOG_PANIC) ? ", panic after capture" : "",
              static_cast<unsigned long long>(c.fired));
  if (c.fired)
    std::printf(" (last: CPU %u, snapshot %llu)", c.last_cpu, static_cast<unsigned long long>(c.last_seq));
  std::printf(", skipped %llu\n", static_cast<unsigned long long>(c.skipped));
  return 0;
}

int run_nmi(const std::vector<std::string>& args) {
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  std::string sub = args.empty() ? "" : args[0];
  if (sub == "capture") return cmd_capture(rest);
  if (sub == "show") return cmd_show(rest);
  if (sub == "save") return cmd_save(rest);
  if (sub == "watchdog") return cmd_watchdog(rest);
  std::cout << "usage: kstuck nmi SUBCOMMAND [OPTIONS]\n"
               "  capture    NMI every CPU now and print all stacks (even CPUs with interrupts off)\n"
               "  show       print the snapshot history (live, --input FILE, or --vmcore DUMP [--vmlinux V])\n"
               "  save FILE  write the raw history buffer to FILE\n"
               "  watchdog   show or set the stall watchdog\n"
               "Run 'kstuck nmi SUBCOMMAND --help' for its options.\n";
  return (sub == "--help" || sub == "-h") ? 0 : 2;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"nmi", "all-CPU stacks through NMIs: capture, show, save, watchdog", run_nmi});
