// SPDX-License-Identifier: GPL-2.0
// "kstuck trace PROBE...": function and syscall probes, printed live or counted per probe.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "cli/command.h"
#include "cli/trace/trace_device.h"

namespace po = boost::program_options;

namespace kstuck::cli {
namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

// Without SA_RESTART, so a blocked poll() returns at once on Ctrl-C.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct Options {
  std::vector<std::string> probes;
  bool count = false;
  bool quiet = false;
  bool syscall_exit = false;
  double duration = 0;
  int32_t pid = 0;
  std::string comm;
  uint32_t ring = 0;
};

// Names events: function names from kallsyms, syscall names from the module.
class Namer {
 public:
  Namer(std::optional<KallsymsIndex> syms, std::map<uint64_t, std::string> sys)
      : syms_(std::move(syms)), sys_(std::move(sys)) {}

  std::string probe(const kstuck_trace_event& ev) const {
    switch (ev.kind) {
      case KSTUCK_PROBE_FBT:
        return "fbt:" + function(ev.addr);
      case KSTUCK_PROBE_SYSCALL_ENTER:
        return "syscall:" + syscall(ev.addr);
      case KSTUCK_PROBE_SYSCALL_EXIT:
        return "syscall:" + syscall(ev.addr) + ":return";
      default:
        return "kind" + std::to_string(ev.kind);
    }
  }

  std::string function(uint64_t addr, bool with_offset = false) const {
    if (syms_) return syms_->name(addr, with_offset);
    char hex[32];
    std::snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(addr));
    return hex;
  }

 private:
  std::string syscall(uint64_t nr) const {
    auto it = sys_.find(nr);
    return it != sys_.end() ? it->second : "nr" + std::to_string(nr);
  }

  std::optional<KallsymsIndex> syms_;
  std::map<uint64_t, std::string> sys_;
};

std::string comm_of(const kstuck_trace_event& ev) {
  return std::string(ev.comm, strnlen(ev.comm, sizeof(ev.comm)));
}

void print_event(const kstuck_trace_event& ev, const Namer& namer) {
  const char* ctx = (ev.context & KSTUCK_CTX_NMI)       ? " [nmi]"
                    : (ev.context & KSTUCK_CTX_HARDIRQ) ? " [irq]"
                    : (ev.context & KSTUCK_CTX_SOFTIRQ) ? " [softirq]"
                                                        : "";
  std::string detail;
  if (ev.kind == KSTUCK_PROBE_FBT)
    detail = "from " + namer.function(ev.arg, true);
  else if (ev.kind == KSTUCK_PROBE_SYSCALL_EXIT)
    detail = "= " + std::to_string(static_cast<int64_t>(ev.arg));
  else
    detail = "arg0=0x" + [&] {
      char b[24];
      std::snprintf(b, sizeof(b), "%llx", static_cast<unsigned long long>(ev.arg));
      return std::string(b);
    }();
  std::printf("%llu.%06llu %3u %-16s %7u %s %s%s\n", static_cast<unsigned long long>(ev.timestamp_ns / 1000000000ULL),
              static_cast<unsigned long long>(ev.timestamp_ns % 1000000000ULL / 1000), ev.cpu, comm_of(ev).c_str(),
              ev.pid, namer.probe(ev).c_str(), detail.c_str(), ctx);
}

int usage(const po::options_description& desc) {
  std::cout << "usage: kstuck trace PROBE... [options]\n"
               "  PROBE: 'fbt:GLOB' (function entry), 'syscall:GLOB' (syscall entry), several\n"
               "  separated by commas or as separate arguments; a bare name means fbt.\n"
               "  Stops on Ctrl-C or after --duration and tears every probe down.\n\n"
            << desc;
  return 0;
}

int run_trace(const std::vector<std::string>& args) {
  Options o;
  po::options_description desc("trace options");
  desc.add_options()("help,h", "show this help")("count,c", po::bool_switch(&o.count),
                                                   "count events per probe (like funccount) instead of printing them")(
      "duration,d", po::value<double>(&o.duration), "stop after this many seconds")(
      "pid,p", po::value<int32_t>(&o.pid), "only this process (filtered in the kernel)")(
      "comm", po::value<std::string>(&o.comm), "only tasks with this comm (filtered here)")(
      "exit", po::bool_switch(&o.syscall_exit), "also record syscall returns (syscall:NAME:return)")(
      "ring", po::value<uint32_t>(&o.ring), "events per CPU ring (power of two, default 4096)")(
      "quiet,q", po::bool_switch(&o.quiet), "no summary on stderr");
  po::options_description all;
  all.add(desc).add_options()("probe", po::value<std::vector<std::string>>(&o.probes));
  po::positional_options_description pos;
  pos.add("probe", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck trace: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) return usage(desc);
  if (o.duration < 0 || o.pid < 0) {
    std::cerr << "kstuck trace: --duration and --pid must not be negative\n";
    return 2;
  }
  auto specs = parse_probe_specs(o.probes);
  if (!specs) {
    std::cerr << "kstuck trace: " << specs.error().message() << "\n";
    return 2;
  }
  auto dev = open_kstuck_device();
  if (!dev) {
    std::cerr << "kstuck trace: " << dev.error().message() << "\n";
    return 1;
  }
  // Names are read before enabling: nothing of ours then competes with the probes.
  std::map<uint64_t, std::string> sysnames;
  if (auto names = syscall_names(*dev)) sysnames = std::move(*names);
  std::optional<KallsymsIndex> syms;
  bool want_fbt = std::any_of(specs->items.begin(), specs->items.end(),
                              [](const std::string& i) { return i.rfind("fbt:", 0) == 0; });
  if (want_fbt) {
    if (auto s = KallsymsIndex::load()) syms = std::move(*s);
  }
  Namer namer(std::move(syms), std::move(sysnames));
  // The module counts the functions a glob covers from its function list: publish it.
  if (want_fbt) (void)list_probes(*dev, KSTUCK_PROBE_FBT, "kstuck_presence_check");

  install_stop_handlers();
  SessionOptions so;
  so.flags = o.syscall_exit ? KSTUCK_TRACE_F_SYSCALL_EXIT : 0;
  so.ring_events = o.ring;
  so.tgid_filter = o.pid;
  auto session = start_session(*dev, *specs, so);
  if (!session) {
    std::cerr << "kstuck trace: " << session.error().message() << "\n";
    return 1;
  }
  const auto& info = session->info;
  if (!o.quiet) {
    std::fprintf(stderr, "kstuck trace: session %u: %u function item(s)", info.session_id, info.fbt_items);
    if (info.fbt_functions) std::fprintf(stderr, " (%u functions)", info.fbt_functions);
    if (info.fbt_skipped) std::fprintf(stderr, ", %u skipped (not traceable)", info.fbt_skipped);
    std::fprintf(stderr, ", %u syscall(s); enabled in %.3f ms. %s\n", info.syscalls, info.enable_ns / 1e6,
                 o.duration > 0 ? "" : "Ctrl-C to stop.");
  }

  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  // Counted by (kind, address): naming waits until the end, off the hot path.
  std::map<std::pair<uint16_t, uint64_t>, uint64_t> counts;
  uint64_t seen = 0, shown = 0;
  std::vector<kstuck_trace_event> buf(1024);
  auto consume = [&](ssize_t bytes) {
    size_t n = static_cast<size_t>(bytes) / sizeof(kstuck_trace_event);
    // A read returns each CPU's ring in turn: put the batch back in time order.
    if (!o.count)
      std::stable_sort(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n),
                       [](const auto& a, const auto& b) { return a.timestamp_ns < b.timestamp_ns; });
    for (size_t i = 0; i < n; i++) {
      const auto& ev = buf[i];
      seen++;
      if (!o.comm.empty() && comm_of(ev) != o.comm) continue;
      shown++;
      if (o.count)
        counts[{ev.kind, ev.addr}]++;
      else
        print_event(ev, namer);
    }
    if (!o.count) std::fflush(stdout);
  };

  std::optional<kstuck_trace_stats> stats;
  while (!stats) {
    int timeout_ms = 200;
    if (o.duration > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 200));
    }
    if (g_stop || (o.duration > 0 && Clock::now() >= deadline)) {
      auto st = stop_session(*session);
      if (!st) {
        std::cerr << "kstuck trace: " << st.error().message() << "\n";
        return 1;
      }
      stats = *st;
      break;
    }
    pollfd pfd{session->fd.get(), POLLIN, 0};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr < 0 && errno != EINTR) {
      std::perror("kstuck trace: poll");
      return 1;
    }
    if (pr > 0 && (pfd.revents & POLLIN)) {
      ssize_t n = read(session->fd.get(), buf.data(), buf.size() * sizeof(buf[0]));
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        std::perror("kstuck trace: read");
        return 1;
      }
      if (n > 0) consume(n);
    }
  }
  // Stopped: every event still in the rings is complete; read them to EOF.
  for (;;) {
    ssize_t n = read(session->fd.get(), buf.data(), buf.size() * sizeof(buf[0]));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("kstuck trace: read");
      return 1;
    }
    if (n == 0) break;
    consume(n);
  }
  session->fd.reset();

  if (o.count) {
    std::map<std::string, uint64_t> named;
    for (const auto& [key, n] : counts) {
      kstuck_trace_event ev{};
      ev.kind = key.first;
      ev.addr = key.second;
      named[namer.probe(ev)] += n;
    }
    std::vector<std::pair<std::string, uint64_t>> rows(named.begin(), named.end());
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::printf("%-48s %12s\n", "PROBE", "COUNT");
    for (const auto& [probe, n] : rows) std::printf("%-48s %12llu\n", probe.c_str(), static_cast<unsigned long long>(n));
  }
  if (!o.quiet)
    std::fprintf(stderr,
                 "kstuck trace: %llu events (%llu shown), %llu lost (rings full); enable %.3f ms, teardown %.3f ms\n",
                 static_cast<unsigned long long>(seen), static_cast<unsigned long long>(shown),
                 static_cast<unsigned long long>(stats->lost), stats->enable_ns / 1e6, stats->teardown_ns / 1e6);
  return 0;
}

}  // namespace
}  // namespace kstuck::cli

KSTUCK_REGISTER_COMMAND({"trace", "trace function and syscall probes (live or --count)", kstuck::cli::run_trace});
