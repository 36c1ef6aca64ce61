// SPDX-License-Identifier: GPL-2.0
// The --live form of hang, analyze, tasks, bt, xcall and mutex: the running kernel instead of a vmcore.
#include "cli/live_command.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "analysis/hang/hang_render.h"
#include "analysis/hang/model_snapshot.h"
#include "analysis/hang/scan_views.h"
#include "analysis/live_target/live_hang.h"
#include "analysis/live_target/live_session.h"
#include "analysis/report/analyze_render.h"
#include "analysis/report/analyze_report.h"

namespace po = boost::program_options;

namespace kstuck::cli {
namespace {

constexpr int kComplete = 0, kUnusable = 1, kUsage = 2, kPartial = 3;

struct Parsed {
  po::variables_map vm;
  std::optional<int> stop;
};

Parsed parse(const std::vector<std::string>& args, const std::string& command, const std::string& usage,
             po::options_description& opts, const char* positional = nullptr) {
  opts.add_options()("help,h", "show this help")("live", "analyze the running kernel (root; kstuck.ko for running CPUs)")(
      "json", "print JSON (the dump command's schema, plus \"source\": \"live\" and \"capture_seq\")")(
      "capture-timeout", po::value<uint32_t>()->default_value(1000), "ms the NMI capture waits for the CPUs (max 10000)");
  Parsed p;
  po::options_description all;
  all.add(opts);
  po::positional_options_description pos;
  if (positional) {
    all.add_options()(positional, po::value<std::string>());
    pos.add(positional, 1);
  }
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), p.vm);
    po::notify(p.vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck " << command << " --live: " << e.what() << "\n";
    p.stop = kUsage;
    return p;
  }
  if (p.vm.count("help")) {
    std::cout << usage << "\n" << opts;
    p.stop = kComplete;
  } else if (p.vm["capture-timeout"].as<uint32_t>() > 10000) {
    std::cerr << "kstuck " << command << " --live: --capture-timeout is at most 10000 ms\n";
    p.stop = kUsage;
  }
  return p;
}

std::unique_ptr<LiveSession> open_session(const po::variables_map& vm, const std::string& command) {
  LiveSessionOptions o;
  o.capture_timeout_ms = vm["capture-timeout"].as<uint32_t>();
  auto s = LiveSession::open(o);
  if (!s) {
    std::cerr << "kstuck " << command << " --live: " << s.error().describe() << "\n";
    return nullptr;
  }
  if (auto r = (*s)->next_pass(); !r) {
    std::cerr << "kstuck " << command << " --live: " << r.error().describe() << "\n";
    return nullptr;
  }
  return std::move(*s);
}

// `"source": "live"` and the capture's sequence number, right after the schema name.
std::string with_live_source(const std::string& json, const LiveSession& s) {
  auto base = nlohmann::ordered_json::parse(json, nullptr, false);
  if (base.is_discarded() || !base.is_object()) return json;
  nlohmann::ordered_json j;
  bool placed = false;
  auto place = [&] {
    j["source"] = "live";
    j["capture_seq"] = s.pass().seq ? nlohmann::ordered_json(*s.pass().seq) : nlohmann::ordered_json(nullptr);
    placed = true;
  };
  for (auto it = base.begin(); it != base.end(); ++it) {
    j[it.key()] = it.value();
    if (it.key() == "schema") place();
  }
  if (!placed) place();
  return j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string source_line(const LiveSession& s) {
  const LivePass& p = s.pass();
  std::string line = "source: live, " + s.target().info().release;
  if (p.seq)
    line += ", NMI capture " + std::to_string(*p.seq) + " (" + std::to_string(p.answered) + "/" +
            std::to_string(p.requested) + " CPUs)";
  else
    line += ", no NMI capture: " + p.capture_problem;
  return line + "\n";
}

void print(const std::string& out) { std::fwrite(out.data(), 1, out.size(), stdout); }

std::string partial_lines(const std::vector<std::string>& warnings, bool partial) {
  if (!partial && warnings.empty()) return {};
  std::string o = partial ? "\npartial: some data could not be read\n" : "\n";
  for (const auto& w : warnings) o += "  " + w + "\n";
  return o;
}

int live_hang(const std::vector<std::string>& args) {
  po::options_description opts("hang --live options");
  opts.add_options()("dot", "print the wait-for graph as Graphviz DOT")(
      "starved-after", po::value<double>()->default_value(20),
      "seconds a runnable task may wait on a busy CPU's runqueue before that CPU counts as stuck");
  auto p = parse(args, "hang",
                 "usage: kstuck hang --live [--json|--dot] [--starved-after S] [--capture-timeout MS]\n"
                 "  who waits on whom in the running kernel, without crashing it: two passes, each an NMI\n"
                 "  capture of every CPU (kstuck.ko) and a read of /proc/kcore; a wait seen in one pass only\n"
                 "  is transient and makes no verdict. exit: 0 complete, 1 unusable, 2 usage, 3 partial or UNKNOWN\n",
                 opts);
  if (p.stop) return *p.stop;
  auto& vm = p.vm;
  if (vm.count("json") && vm.count("dot")) {
    std::cerr << "kstuck hang --live: --json and --dot exclude each other\n";
    return kUsage;
  }
  double starved_after = vm["starved-after"].as<double>();
  if (!(starved_after > 0 && starved_after <= 86400)) {
    std::cerr << "kstuck hang --live: --starved-after wants seconds in (0, 86400]\n";
    return kUsage;
  }
  HangOptions options;
  options.starved_after_ns = static_cast<uint64_t>(starved_after * 1e9);
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [](std::chrono::steady_clock::time_point a) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
  };
  auto session = open_session(vm, "hang");
  if (!session) return kUnusable;
  auto t1 = std::chrono::steady_clock::now();
  auto first = analyse_hang_with_model(session->model(), options);
  double analyse1 = ms(t1);
  if (!first) {
    std::cerr << "kstuck hang --live: " << first.error().describe() << "\n";
    return kUnusable;
  }
  // The second pass: a new capture, memory read anew. Waits that are real are still there.
  if (auto r = session->next_pass(); !r) {
    std::cerr << "kstuck hang --live: second pass: " << r.error().describe() << "\n";
    return kUnusable;
  }
  t1 = std::chrono::steady_clock::now();
  auto second = analyse_hang_with_model(session->model(), options);
  double analyse2 = ms(t1);
  if (!second) {
    std::cerr << "kstuck hang --live: second pass: " << second.error().describe() << "\n";
    return kUnusable;
  }
  LiveHangReport live = confirm_edges(*first, *second);
  auto problems = session->problems();
  live.report.warnings.insert(live.report.warnings.begin(), problems.begin(), problems.end());
  live.captured = true;
  for (const auto& pass : session->passes()) {
    if (pass.seq) live.captures.push_back(*pass.seq);
    else live.captured = false;
    live.capture_ms.push_back(pass.capture_ms);
    live.read_ms.push_back(pass.load_ms + (live.read_ms.empty() ? analyse1 : analyse2));
  }
  live.symbols_ms = session->target().info().symbols_ms;
  live.types_ms = session->target().info().types_ms;
  live.symbol_source = session->target().info().symbol_source;
  live.total_ms = ms(t0);
  print(vm.count("json")  ? render_live_hang_json(live)
        : vm.count("dot") ? render_live_hang_dot(live)
                          : render_live_hang_text(live));
  return live.report.partial || live.report.verdict.verdict == Verdict::Unknown ? kPartial : kComplete;
}

int live_analyze(const std::vector<std::string>& args, bool tasks_only) {
  const char* name = tasks_only ? "tasks" : "analyze";
  po::options_description opts(std::string(name) + " --live options");
  if (tasks_only)
    opts.add_options()("state", po::value<std::string>(), "only tasks in these states, e.g. D or RD");
  else
    opts.add_options()("log-lines", po::value<size_t>()->default_value(40), "kernel log lines to show");
  auto p = parse(args, name,
                 tasks_only ? "usage: kstuck tasks --live [--state LETTERS] [--json]\n"
                            : "usage: kstuck analyze --live [--json] [--log-lines N]\n"
                              "  every CPU's stack (from an NMI capture), all tasks grouped by stack, D-state waits\n",
                 opts);
  if (p.stop) return *p.stop;
  auto session = open_session(p.vm, name);
  if (!session) return kUnusable;
  AnalyzeOptions ao;
  ao.log_lines = tasks_only ? 0 : p.vm["log-lines"].as<size_t>();
  AnalyzeReport r = build_analyze_report(session->model(), ao);
  r.system.source["source"] = "live";
  if (session->pass().seq) r.system.source["capture_seq"] = std::to_string(*session->pass().seq);
  r.system.source["kaslr"] = [&] {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(session->target().info().kaslr_offset));
    return std::string(buf);
  }();
  for (const auto& w : session->problems()) r.problems.push_back(w);
  if (tasks_only && p.vm.count("state")) {
    std::string keep = p.vm["state"].as<std::string>();
    std::vector<ReportTask> kept;
    for (auto& t : r.tasks)
      if (keep.find(t.state) != std::string::npos) kept.push_back(std::move(t));
    r.tasks = std::move(kept);
  }
  if (p.vm.count("json"))
    print(with_live_source(tasks_only ? render_tasks_json(r) : render_analyze_json(r), *session));
  else
    print(source_line(*session) + (tasks_only ? render_tasks_text(r) : render_analyze_text(r)));
  return kComplete;
}

int live_bt(const std::vector<std::string>& args) {
  po::options_description opts("bt --live options");
  opts.add_options()("cpu", po::value<int>(), "the stack of this CPU (from the NMI capture)");
  auto p = parse(args, "bt", "usage: kstuck bt --live (PID | --cpu N) [--json]\n", opts, "pid");
  if (p.stop) return *p.stop;
  auto& vm = p.vm;
  if (vm.count("pid") == vm.count("cpu")) {
    std::cerr << "kstuck bt --live: give a PID or --cpu N\n";
    return kUsage;
  }
  std::optional<int> pid;
  if (vm.count("pid")) {
    const std::string& s = vm["pid"].as<std::string>();
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || v < 0 || v > 4194304) {
      std::cerr << "kstuck bt --live: not a pid: '" << s << "'\n";
      return kUsage;
    }
    pid = static_cast<int>(v);
  }
  auto session = open_session(vm, "bt");
  if (!session) return kUnusable;
  auto& model = session->model();
  ReportStack stack;
  std::string heading, kind;
  int id;
  if (!pid) {
    id = vm["cpu"].as<int>();
    kind = "cpu";
    const auto* c = model.cpus().find(id);
    if (!c) {
      std::cerr << "kstuck bt --live: CPU " << id << " is not online\n";
      return kUnusable;
    }
    stack = make_report_stack(model, model.cpu_stack(id));
    const auto* t = model.tasks().by_address(c->running_task());
    bool irqs_off = c->regs && !(c->regs->get(CpuRegisters::eflags) & 0x200);
    heading = "CPU " + std::to_string(id) + ": pid " + (t ? std::to_string(t->pid) + " (" + t->comm + ")" : "?") +
              (c->regs ? irqs_off ? "  IRQs OFF" : "  IRQs on"
                       : "  registers unknown (" + (c->problems.empty() ? std::string("no capture") : c->problems.back()) + ")");
  } else {
    id = *pid;
    kind = "pid";
    const auto* t = model.tasks().by_pid(id);
    if (!t) {
      std::cerr << "kstuck bt --live: no task with pid " << id << "\n";
      return kUnusable;
    }
    stack = make_report_stack(model, model.task_stack(*t));
    heading = "pid " + std::to_string(t->pid) + " (" + t->comm + ") state " + t->state.letter +
              (t->current_on >= 0 ? " running on CPU " + std::to_string(t->current_on) : "");
  }
  if (vm.count("json")) print(with_live_source(render_stack_json(stack, kind, id), *session));
  else print(source_line(*session) + render_stack_text(stack, heading));
  return kComplete;
}

int live_scan(const std::vector<std::string>& args, bool xcall) {
  const char* name = xcall ? "xcall" : "mutex";
  po::options_description opts(std::string(name) + " --live options");
  if (xcall) opts.add_options()("cpu", po::value<int>(), "only xcalls this CPU must run or sent");
  auto p = parse(args, name,
                 xcall ? "usage: kstuck xcall --live [--cpu N] [--json]\n"
                       : "usage: kstuck mutex --live [ADDRESS] [--json]\n",
                 opts, xcall ? nullptr : "address");
  if (p.stop) return *p.stop;
  auto& vm = p.vm;
  std::optional<uint64_t> address;
  if (!xcall && vm.count("address")) {
    const std::string& a = vm["address"].as<std::string>();
    char* end = nullptr;
    address = std::strtoull(a.c_str(), &end, 16);
    if (a.empty() || *end) {
      std::cerr << "kstuck mutex --live: not a hex address: '" << a << "'\n";
      return kUsage;
    }
  }
  auto session = open_session(vm, name);
  if (!session) return kUnusable;
  auto scans = scan_hang_with_model(session->model());
  auto problems = session->problems();
  scans.snap.warnings.insert(scans.snap.warnings.begin(), problems.begin(), problems.end());
  const bool partial = scans.snap.partial || (xcall ? scans.xcalls.partial : scans.locks.partial);
  std::string out;
  if (xcall) {
    std::optional<int> cpu;
    if (vm.count("cpu")) cpu = vm["cpu"].as<int>();
    out = vm.count("json") ? render_xcalls_json(scans, cpu) : render_xcalls_text(scans, cpu);
  } else {
    auto r = vm.count("json") ? render_mutexes_json(session->model(), scans, address)
                              : render_mutexes_text(session->model(), scans, address);
    if (!r) {
      std::cerr << "kstuck mutex --live: " << r.error().describe() << "\n";
      return kUnusable;
    }
    out = std::move(*r);
  }
  if (vm.count("json")) print(with_live_source(out, *session));
  else print(source_line(*session) + out + partial_lines(scans.snap.warnings, partial));
  return partial ? kPartial : kComplete;
}

}  // namespace

bool has_live_form(const std::string& command) {
  for (const char* c : {"hang", "analyze", "tasks", "bt", "xcall", "mutex"})
    if (command == c) return true;
  return false;
}

bool wants_live(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "--live") return true;
  return false;
}

int run_live(const std::string& command, const std::vector<std::string>& args) {
  if (command == "hang") return live_hang(args);
  if (command == "analyze") return live_analyze(args, false);
  if (command == "tasks") return live_analyze(args, true);
  if (command == "bt") return live_bt(args);
  if (command == "xcall") return live_scan(args, true);
  if (command == "mutex") return live_scan(args, false);
  std::cerr << "kstuck " << command << ": --live is not supported\n";
  return kUsage;
}

}  // namespace kstuck::cli
