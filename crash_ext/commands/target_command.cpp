// SPDX-License-Identifier: GPL-2.0
// "kstuck target": what the Target over crash sees (diagnostics for the extension itself).
#include <cstdio>
#include <string>

#include "crash_ext/crash_target.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

template <typename T, typename F>
std::string show(const Result<T>& r, F&& format) {
  return r ? format(*r) : "error: " + r.error().describe();
}

// A member as "offset size type", or the error.
std::string show_member(CrashTarget& t, const char* s, const char* m) {
  return std::string(s) + "." + m + " = " + show(t.member(s, m), [](const TypeMember& tm) {
           return "offset " + std::to_string(tm.offset) + " size " + std::to_string(tm.size) + " bits " +
                  std::to_string(tm.bit_offset) + ":" + std::to_string(tm.bit_size) + " type '" + tm.type_name + "'";
         });
}

Result<std::string> run_target(CrashTarget& t, const Options& o) {
  std::string out;
  const auto& p = o.positional;
  if (p.size() == 3 && p[0] == "member") return show_member(t, p[1].c_str(), p[2].c_str()) + "\n";
  if (p.size() == 2 && p[0] == "size")
    return show(t.struct_size(p[1]), [](uint64_t v) { return std::to_string(v); }) + "\n";
  if (p.size() == 2 && p[0] == "read") {
    uint64_t addr = std::strtoull(p[1].c_str(), nullptr, 16);
    return "read " + hex(addr) + " = " + show(read_u64(t, addr), hex) + "\n";
  }
  if (!p.empty()) return fail(ErrorKind::Invalid, "usage: kstuck target [member STRUCT PATH | size STRUCT | read ADDR]");
  auto release = t.vmcoreinfo("OSRELEASE");
  out += "vmcoreinfo OSRELEASE: " + release.value_or("(none)") + "\n";
  out += "vmcoreinfo KERNELOFFSET: " + t.vmcoreinfo("KERNELOFFSET").value_or("(none)") + "\n";
  out += "cpus: " + std::to_string(t.cpu_count()) + "\n";
  out += "symbols: " + t.symbol_source() + "\n";
  for (int cpu = 0; cpu < t.cpu_count(); ++cpu) {
    out += "cpu " + std::to_string(cpu) + ": per_cpu_offset " + show(t.per_cpu_offset(cpu), hex);
    auto regs = t.cpu_registers(cpu);
    if (regs) {
      uint64_t rip = regs->get(CpuRegisters::rip);
      out += " rip " + hex(rip) + " rsp " + hex(regs->get(CpuRegisters::rsp)) + " note_pid " +
             std::to_string(regs->note_pid);
      out += " at " + show(t.symbol_at(rip), [&](const Symbol& s) { return s.name + "+" + hex(rip - s.address) + "/" + hex(s.size); });
    } else {
      out += " registers: " + regs.error().describe();
    }
    out += "\n";
  }
  for (const char* sym : {"jiffies", "init_task", "runqueues", "__per_cpu_offset", "no_such_symbol_kstuck"})
    out += std::string("symbol ") + sym + " = " + show(t.symbol_address(sym), hex) + "\n";
  out += "struct task_struct size = " + show(t.struct_size("task_struct"), [](uint64_t v) { return std::to_string(v); }) + "\n";
  out += show_member(t, "task_struct", "__state") + "\n";
  out += show_member(t, "task_struct", "thread.sp") + "\n";
  out += show_member(t, "task_struct", "tasks") + "\n";
  out += show_member(t, "mutex", "owner.counter") + "\n";
  out += show_member(t, "__call_single_data", "node.llist") + "\n";
  out += show_member(t, "__call_single_node", "u_flags") + "\n";
  out += show_member(t, "task_struct", "no_such_member") + "\n";
  if (auto jiffies = t.symbol_address("jiffies")) {
    out += "read jiffies = " + show(read_u64(t, *jiffies), hex) + "\n";
  }
  return out;
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"target", "target [member STRUCT PATH | size STRUCT | read ADDR]", "", true, run_target});

}  // namespace kstuck::crash
