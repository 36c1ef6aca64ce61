// SPDX-License-Identifier: GPL-2.0
// Loading CPUs: online mask, per-CPU runqueues and the dump's per-CPU registers.
#include "analysis/kernel/cpus.h"

#include <algorithm>

namespace kstuck {
namespace {
constexpr int kMaxCpus = 8192;  // CONFIG_NR_CPUS_RANGE_END on x86-64
}

const CpuInfo* CpuSet::find(int cpu) const {
  for (const auto& c : cpus)
    if (c.cpu == cpu) return &c;
  return nullptr;
}

Result<uint64_t> per_cpu_address(Fields& fields, std::string_view symbol, int cpu) {
  auto sym = fields.target().symbol_address(symbol);
  if (!sym) return tl::unexpected(sym.error());
  auto off = fields.target().per_cpu_offset(cpu);
  if (!off) return tl::unexpected(off.error());
  return *sym + *off;
}

Result<CpuSet> load_cpus(Fields& fields) {
  Target& t = fields.target();
  CpuSet set;
  int nr_cpu_ids = kMaxCpus;
  if (auto a = t.symbol_address("nr_cpu_ids")) {
    if (auto v = read_u32(t, *a); v && *v > 0 && *v <= kMaxCpus) nr_cpu_ids = int(*v);
  }
  auto mask_addr = t.symbol_address("__cpu_online_mask");
  if (!mask_addr) return tl::unexpected(mask_addr.error().with_context("online CPUs"));
  // Word by word: the mask is NR_CPUS bits (8192 on Debian) but nr_cpu_ids may be
  // unknown; bits past what is readable are taken as offline.
  std::vector<uint64_t> words((nr_cpu_ids + 63) / 64);
  for (size_t i = 0; i < words.size(); ++i) {
    auto w = read_u64(t, *mask_addr + 8 * i);
    if (!w) {
      if (i == 0) {
        // A truncated or filtered dump: fall back to the CPUs the dump saved registers
        // for, and say so, rather than giving up on the whole report.
        int n = 0;
        while (n < 64 && t.cpu_registers(n)) ++n;
        if (n == 0) return tl::unexpected(w.error().with_context("__cpu_online_mask"));
        set.problems.push_back("__cpu_online_mask unreadable (" + w.error().describe() + "): assuming CPUs 0-" +
                               std::to_string(n - 1) + " from the dump's register notes");
        words.assign(1, n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1);
        nr_cpu_ids = n;
        break;
      }
      words.resize(i);
      nr_cpu_ids = int(i * 64);
      break;
    }
    words[i] = *w;
  }
  auto rq_sym = t.symbol_address("runqueues");
  for (int cpu = 0; cpu < nr_cpu_ids; ++cpu) {
    if (!(words[cpu / 64] >> (cpu % 64) & 1)) continue;
    CpuInfo c;
    c.cpu = cpu;
    auto off = t.per_cpu_offset(cpu);
    if (!off) {
      c.problems.push_back("per-CPU offset: " + off.error().describe());
    } else {
      c.per_cpu_offset = *off;
      if (rq_sym) {
        c.rq = *rq_sym + *off;
        if (auto v = fields.read_ptr(c.rq, "rq", "curr")) c.curr = *v;
        else c.problems.push_back("runqueue: " + v.error().describe());
        if (auto v = fields.read_ptr(c.rq, "rq", "idle")) c.idle = *v;
        if (auto v = fields.read_uint(c.rq, "rq", "clock")) c.clock = *v;
        if (auto v = fields.read_uint(c.rq, "rq", "clock_task")) c.clock_task = *v;
      } else {
        c.problems.push_back("runqueues: " + rq_sym.error().describe());
      }
    }
    if (auto regs = t.cpu_registers(cpu)) c.regs = *regs;
    else c.problems.push_back("registers: " + regs.error().describe());
    set.now_clock = std::max(set.now_clock, c.clock);
    set.now_clock_task = std::max(set.now_clock_task, c.clock_task);
    set.cpus.push_back(std::move(c));
  }
  if (set.cpus.empty()) set.problems.push_back("no CPU is online in __cpu_online_mask");
  return set;
}

}  // namespace kstuck
