// SPDX-License-Identifier: GPL-2.0
// "kstuck target": what the Target over crash sees, in the line format of the CLI's
// "kstuck dumpinfo", so the two Targets can be compared on the same dump.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crash_ext/crash_target.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

std::string printf_string(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

std::string symbolize(CrashTarget& t, uint64_t addr) {
  auto s = t.symbol_at(addr);
  if (!s) return "?";
  auto off = static_cast<unsigned long long>(addr - s->address);
  if (s->size) return s->name + printf_string("+0x%llx/0x%llx", off, static_cast<unsigned long long>(s->size));
  return s->name + printf_string("+0x%llx", off);
}

std::string cpus(CrashTarget& t) {
  std::string out;
  out += "release:    " + t.vmcoreinfo("OSRELEASE").value_or("unknown") + "\n";
  out += "symbols:    " + t.symbol_source() + "\n";
  out += "cpus:       " + std::to_string(t.cpu_count()) + "\n";
  for (int cpu = 0; cpu < t.cpu_count(); ++cpu) {
    auto regs = t.cpu_registers(cpu);
    if (!regs) {
      out += "cpu " + std::to_string(cpu) + ": " + regs.error().describe() + "\n";
      continue;
    }
    uint64_t rip = regs->get(CpuRegisters::rip);
    out += printf_string("cpu %d: note pid %lld rip 0x%016llx rsp 0x%016llx ", cpu,
                         static_cast<long long>(regs->note_pid), static_cast<unsigned long long>(rip),
                         static_cast<unsigned long long>(regs->get(CpuRegisters::rsp)));
    auto pco = t.per_cpu_offset(cpu);
    out += symbolize(t, rip) + "\n";
    out += "cpu " + std::to_string(cpu) + ": per_cpu_offset " +
           (pco ? printf_string("0x%llx", static_cast<unsigned long long>(*pco)) : pco.error().describe()) + "\n";
  }
  return out;
}

std::string member(CrashTarget& t, const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos) {
    auto size = t.struct_size(spec);
    if (size) return printf_string("sizeof(%s) = %llu\n", spec.c_str(), static_cast<unsigned long long>(*size));
    return "sizeof(" + spec + "): " + size.error().describe() + "\n";
  }
  auto m = t.member(spec.substr(0, colon), spec.substr(colon + 1));
  if (!m) return "member " + spec + ": " + m.error().describe() + "\n";
  std::string out = printf_string("member %s: offset %llu size %llu type '%s'", spec.c_str(),
                                  static_cast<unsigned long long>(m->offset), static_cast<unsigned long long>(m->size),
                                  m->type_name.c_str());
  if (m->bit_size) out += printf_string(" bits %u:%u", m->bit_offset, m->bit_size);
  return out + "\n";
}

Result<std::string> run_target(CrashTarget& t, const Options& o) {
  const auto& p = o.positional;
  if (p.empty()) return cpus(t);
  std::string out;
  if (p[0] == "symbol") {
    for (size_t i = 1; i < p.size(); ++i) {
      auto a = t.symbol_address(p[i]);
      out += a ? printf_string("symbol %s = 0x%llx\n", p[i].c_str(), static_cast<unsigned long long>(*a))
               : "symbol " + p[i] + ": " + a.error().describe() + "\n";
    }
    return out;
  }
  if (p[0] == "member") {
    for (size_t i = 1; i < p.size(); ++i) out += member(t, p[i]);
    return out;
  }
  if (p[0] == "read" && p.size() == 2) {
    // A raw 8-byte read: the smallest thing that can fault.
    uint64_t addr = std::strtoull(p[1].c_str(), nullptr, 16);
    auto v = read_u64(t, addr);
    if (!v) return tl::unexpected(v.error());
    return printf_string("0x%llx: 0x%llx\n", static_cast<unsigned long long>(addr), static_cast<unsigned long long>(*v));
  }
  return fail(ErrorKind::Invalid, "usage: kstuck target [symbol NAME... | member STRUCT[:PATH]... | read ADDR]");
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"target", "target [symbol NAME... | member STRUCT[:PATH]... | read ADDR]", "", true, run_target});

}  // namespace kstuck::crash
