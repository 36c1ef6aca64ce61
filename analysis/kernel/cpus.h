// SPDX-License-Identifier: GPL-2.0
// The CPUs of a dumped kernel: online mask, per-CPU bases, runqueues and saved registers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/fields.h"

namespace kstuck {

struct CpuInfo {
  int cpu = -1;
  uint64_t per_cpu_offset = 0;
  uint64_t rq = 0;          // this CPU's struct rq (per-CPU runqueues)
  uint64_t curr = 0;        // rq->curr: the task running when the dump was taken
  uint64_t idle = 0;        // rq->idle: swapper/N (not on init_task.tasks)
  uint64_t clock = 0;       // rq->clock, ns of sched_clock; stale on a CPU that stopped ticking
  uint64_t clock_task = 0;  // rq->clock_task, the clock se.exec_start is kept in
  std::optional<CpuRegisters> regs;  // the dump's saved registers (crash notes), by CPU number
  std::vector<std::string> problems; // what could not be read, for the report
};

struct CpuSet {
  std::vector<CpuInfo> cpus;          // online CPUs, ascending
  std::vector<std::string> problems;  // global ones (online mask unreadable, ...)
  // The newest scheduler clock among the CPUs: "now" for ages (a wedged CPU's is stale).
  uint64_t now_clock = 0;
  uint64_t now_clock_task = 0;
  const CpuInfo* find(int cpu) const;
};

// Reads __cpu_online_mask (bounded by nr_cpu_ids and 8192 CPUs) and, for each online
// CPU, __per_cpu_offset, runqueues.{curr,idle,clock,clock_task} and the registers the
// dump saved. A CPU whose data cannot be read is kept with its problems listed.
Result<CpuSet> load_cpus(Fields& fields);

// Address of a per-CPU variable's instance on a CPU.
Result<uint64_t> per_cpu_address(Fields& fields, std::string_view symbol, int cpu);

}  // namespace kstuck
