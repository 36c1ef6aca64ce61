// SPDX-License-Identifier: GPL-2.0
// "kstuck dumpinfo": what a vmcore is and where its CPUs stood, to check a dump + vmlinux.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analysis/kdump_target/kdump_target.h"
#include "cli/command.h"

namespace po = boost::program_options;

namespace {

std::string where(kstuck::KdumpTarget& t, uint64_t addr) {
  auto s = t.symbolize(addr);
  if (!s) return "?";
  std::string out = *s;
  if (auto line = t.source_line(addr)) out += " (" + *line + ")";
  return out;
}

int run_dumpinfo(const std::vector<std::string>& args) {
  po::options_description opts("dumpinfo options");
  opts.add_options()("help,h", "show this help")("vmlinux", po::value<std::string>(), "the dumped kernel's vmlinux (required)")(
      "force", "use the vmlinux even if its build-id does not match")(
      "symbol", po::value<std::vector<std::string>>(), "also print a symbol's address (repeatable)")(
      "member", po::value<std::vector<std::string>>(), "also print STRUCT:MEMBER.PATH's offset and size (repeatable)")(
      "no-lines", "do not look up source lines (DWARF)");
  po::options_description all;
  all.add(opts).add_options()("vmcore", po::value<std::string>());
  po::positional_options_description pos;
  pos.add("vmcore", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kstuck dumpinfo: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || !vm.count("vmcore") || !vm.count("vmlinux")) {
    std::cout << "usage: kstuck dumpinfo VMCORE --vmlinux VMLINUX [--force]\n"
                 "  prints the dump's format, kernel release, KASLR offset and each CPU's saved RIP\n\n"
              << opts;
    return vm.count("help") ? 0 : 2;
  }
  kstuck::KdumpOptions options;
  options.vmlinux = vm["vmlinux"].as<std::string>();
  options.force = vm.count("force") > 0;
  auto opened = kstuck::KdumpTarget::open(vm["vmcore"].as<std::string>(), options);
  if (!opened) {
    std::cerr << "kstuck dumpinfo: " << opened.error().describe() << "\n";
    return 1;
  }
  auto& t = **opened;
  const auto& info = t.info();
  bool lines = !vm.count("no-lines");
  std::printf("dump:       %s\n", info.path.c_str());
  std::printf("format:     %s (%s)\n", info.format.c_str(), info.description.c_str());
  std::printf("release:    %s\n", info.release.empty() ? "unknown" : info.release.c_str());
  std::printf("build-id:   %s (%s)\n", info.dump_build_id.empty() ? "not in dump" : info.dump_build_id.c_str(),
              info.build_id_matches ? "matches vmlinux" : "NOT CHECKED OR MISMATCH");
  std::printf("kaslr:      0x%llx\n", static_cast<unsigned long long>(info.kaslr_offset));
  if (info.crash_time) {
    std::time_t tt = static_cast<std::time_t>(*info.crash_time);
    char buf[64];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&tt));
    std::printf("crash time: %s\n", buf);
  }
  if (info.panic_cpu) std::printf("panic cpu:  %d\n", *info.panic_cpu);
  else std::printf("panic cpu:  none (no CPU entered panic)\n");
  for (const auto& n : info.notes) std::printf("note:       %s\n", n.c_str());
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
