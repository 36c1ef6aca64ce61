// SPDX-License-Identifier: GPL-2.0
// "kstuck dumpinfo": what a vmcore is and where its CPUs stood, to check a dump + vmlinux.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analysis/kdump_target/kdump_target.h"
#include "analysis/report/text_sanitize.h"
#include "cli/command.h"
#include "cli/dump_session.h"

namespace po = boost::program_options;

namespace {

std::string where(kstuck::KdumpTarget& t, uint64_t addr) {
  auto s = t.symbolize(addr);
  if (!s) return "?";
  std::string out = *s;
  if (auto line = t.source_line(addr)) out += " (" + *line + ")";
  return out;
}

// The task on a CPU: per-CPU current_task, read through BTF offsets.
struct RunningTask {
  uint64_t address = 0;
  int pid = -1;
  std::string comm;
  uint64_t stack = 0;
};

kstuck::Result<RunningTask> running_task(kstuck::KdumpTarget& t, int cpu) {
  auto base = t.per_cpu_offset(cpu);
  if (!base) return tl::unexpected(base.error());
  // 6.2 moved current_task into struct pcpu_hot (commit 7bb6c4bf "x86/percpu: Move
  // current_task to pcpu_hot").
  auto current = t.symbol_address("current_task");
  if (!current) {
    auto hot = t.symbol_address("pcpu_hot");
    auto member = t.member("pcpu_hot", "current_task");
    if (!hot || !member) return tl::unexpected(current.error());
    current = *hot + member->offset;
  }
  auto task = kstuck::read_u64(t, *base + *current);
  if (!task) return tl::unexpected(task.error().with_context("current_task"));
  RunningTask rt;
  rt.address = *task;
  auto pid = t.member("task_struct", "pid");
  auto comm = t.member("task_struct", "comm");
  auto stack = t.member("task_struct", "stack");
  if (!pid || !comm || !stack) return kstuck::fail(kstuck::ErrorKind::NotFound, "task_struct layout unknown");
  if (auto v = kstuck::read_u32(t, *task + pid->offset)) rt.pid = static_cast<int>(*v);
  char name[16] = {};
  if (t.read(*task + comm->offset, std::as_writable_bytes(std::span(name, 15)))) rt.comm = name;
  if (auto v = kstuck::read_u64(t, *task + stack->offset)) rt.stack = *v;
  return rt;
}

// A debugging aid, not an unwinder (that is the kernel model's): every word of the task's
// stack that points into kernel text, outermost last. Module addresses stay raw.
void print_stack_scan(kstuck::KdumpTarget& t, int cpu, const RunningTask& rt) {
  constexpr size_t kThreadSize = 16384;  // x86-64 THREAD_SIZE without KASAN
  constexpr uint64_t kModulesStart = 0xffffffffc0000000ULL;
  std::vector<uint64_t> words(kThreadSize / 8);
  auto r = t.read(rt.stack, std::as_writable_bytes(std::span(words)));
  if (!r) {
    std::printf("cpu %d stack: %s\n", cpu, r.error().describe().c_str());
    return;
  }
  std::printf("cpu %d stack:", cpu);
  for (size_t i = words.size(); i-- > 0;) {
    uint64_t w = words[i];
    if (w >= kModulesStart && w < 0xffffffffff000000ULL) {
      std::printf(" 0x%llx", static_cast<unsigned long long>(w));
    } else if (auto s = t.symbol_at(w); s && s->size && w > s->address) {
      std::printf(" %s+0x%llx", s->name.c_str(), static_cast<unsigned long long>(w - s->address));
    }
  }
  std::printf("\n");
}

int run_dumpinfo(const std::vector<std::string>& args) {
  po::options_description opts("dumpinfo options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(), "the dumped kernel's vmlinux (optional: the dump's own kallsyms and BTF otherwise)")(
      "force", "use the vmlinux even if its build-id does not match")(
      "symbol", po::value<std::vector<std::string>>(), "also print a symbol's address (repeatable)")(
      "member", po::value<std::vector<std::string>>(), "also print STRUCT:MEMBER.PATH's offset and size (repeatable)")(
      "no-lines", "do not look up source lines (DWARF)")(
      "stack-scan", "also list the kernel text addresses on each CPU's current task stack");
  po::variables_map vm;
  if (auto stop = kstuck::cli::parse_dump_args(args, "dumpinfo",
                                               "usage: kstuck dumpinfo VMCORE [--vmlinux VMLINUX] [--force]\n"
                 "  prints the dump's format, kernel release, KASLR offset and each CPU's saved RIP\n\n",
                                               opts, vm))
    return *stop;
  auto opened = kstuck::cli::open_dump(vm, "dumpinfo");
  if (!opened) return 1;
  auto& t = *opened;
  const auto& info = t.info();
  bool lines = !vm.count("no-lines");
  std::printf("dump:       %s\n", info.path.c_str());
  std::printf("format:     %s (%s)\n", info.format.c_str(), info.description.c_str());
  std::printf("release:    %s\n", info.release.empty() ? "unknown" : kstuck::sanitize_text(info.release).c_str());
  std::printf("build-id:   %s (%s)\n", info.dump_build_id.empty() ? "not in dump" : info.dump_build_id.c_str(),
              info.symbols_from == "dump" ? "no --vmlinux"
              : info.build_id_matches     ? "matches vmlinux"
                                          : "NOT CHECKED OR MISMATCH");
  std::printf("symbols:    %zu from the %s\n", info.symbol_count,
              info.symbols_from == "dump" ? "dump's kallsyms" : "vmlinux");
  if (!info.kallsyms_found_by.empty()) std::printf("kallsyms:   found by %s\n", info.kallsyms_found_by.c_str());
  std::printf("types:      %s\n", kstuck::sanitize_text(t.types_source()).c_str());
  std::printf("kaslr:      0x%llx\n", static_cast<unsigned long long>(info.kaslr_offset));
  if (info.crash_time) {
    std::time_t tt = static_cast<std::time_t>(*info.crash_time);
    char buf[64];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&tt));
    std::printf("crash time: %s\n", buf);
  }
  if (info.panic_cpu) std::printf("panic cpu:  %d\n", *info.panic_cpu);
  else std::printf("panic cpu:  none (no CPU entered panic)\n");
  for (const auto& n : info.notes) std::printf("note:       %s\n", kstuck::sanitize_text(n).c_str());
  std::printf("cpus:       %d register notes\n", info.cpu_notes);
  for (int cpu = 0; cpu < info.cpu_notes; cpu++) {
    auto regs = t.cpu_registers(cpu);
    if (!regs) {
      std::printf("cpu %d: %s\n", cpu, regs.error().describe().c_str());
      continue;
    }
    uint64_t rip = regs->get(kstuck::CpuRegisters::rip);
    std::string at = lines ? where(t, rip) : t.symbolize(rip).value_or("?");
    std::printf("cpu %d: note pid %lld rip 0x%016llx rsp 0x%016llx %s\n", cpu, static_cast<long long>(regs->note_pid),
                static_cast<unsigned long long>(rip),
                static_cast<unsigned long long>(regs->get(kstuck::CpuRegisters::rsp)), at.c_str());
    auto rt = running_task(t, cpu);
    if (!rt) {
      std::printf("cpu %d task: %s\n", cpu, rt.error().describe().c_str());
      continue;
    }
    std::printf("cpu %d task: pid %d comm %s task_struct 0x%llx\n", cpu, rt->pid, kstuck::sanitize_text(rt->comm).c_str(),
                static_cast<unsigned long long>(rt->address));
    if (vm.count("stack-scan")) print_stack_scan(t, cpu, *rt);
  }
  if (vm.count("symbol"))
    for (const auto& name : vm["symbol"].as<std::vector<std::string>>()) {
      auto a = t.symbol_address(name);
      if (a) std::printf("symbol %s = 0x%llx\n", name.c_str(), static_cast<unsigned long long>(*a));
      else std::printf("symbol %s: %s\n", name.c_str(), a.error().describe().c_str());
    }
  if (vm.count("member"))
    for (const auto& spec : vm["member"].as<std::vector<std::string>>()) {
      auto colon = spec.find(':');
      if (colon == std::string::npos) {
        auto size = t.struct_size(spec);
        if (size) std::printf("sizeof(%s) = %llu\n", spec.c_str(), static_cast<unsigned long long>(*size));
        else std::printf("sizeof(%s): %s\n", spec.c_str(), size.error().describe().c_str());
        continue;
      }
      auto m = t.member(spec.substr(0, colon), spec.substr(colon + 1));
      if (!m) {
        std::printf("member %s: %s\n", spec.c_str(), m.error().describe().c_str());
        continue;
      }
      std::printf("member %s: offset %llu size %llu type '%s'", spec.c_str(), static_cast<unsigned long long>(m->offset),
                  static_cast<unsigned long long>(m->size), m->type_name.c_str());
      if (m->bit_size) std::printf(" bits %u:%u", m->bit_offset, m->bit_size);
      std::printf("\n");
    }
  return 0;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"dumpinfo", "describe a vmcore: format, release, KASLR, each CPU's RIP", run_dumpinfo});
