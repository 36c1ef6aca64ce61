// SPDX-License-Identifier: GPL-2.0
// KernelModel: one place that loads CPUs, modules and tasks of a Target and unwinds their stacks.
#pragma once

#include <memory>

#include "analysis/fields.h"
#include "analysis/kernel/cpus.h"
#include "analysis/kernel/modules.h"
#include "analysis/kernel/orc.h"
#include "analysis/kernel/symbolizer.h"
#include "analysis/kernel/tasks.h"
#include "analysis/kernel/unwind.h"

namespace kstuck {

struct ModelOptions {
  TaskLimits task_limits;
  UnwindLimits unwind_limits;
  // Called while tasks load (done so far); nullptr for none.
  void (*progress)(size_t done, void* ctx) = nullptr;
  void* progress_ctx = nullptr;
};

class KernelModel {
 public:
  // Fails only when not even the CPUs can be found; everything else degrades into
  // problems lists on the parts that could not be read.
  static Result<std::unique_ptr<KernelModel>> load(Target& target, const ModelOptions& options = {});

  Target& target() { return target_; }
  Fields& fields() { return fields_; }
  const CpuSet& cpus() const { return cpus_; }
  const ModuleSet& modules() const { return modules_; }
  const TaskSet& tasks() const { return tasks_; }
  Symbolizer& symbolizer() { return symbolizer_; }
  OrcTables& orc() { return orc_; }

  // A CPU's stack from the dump's registers (the CPU's own IRQ/exception stacks and its
  // current task's stack are known ranges).
  Stack cpu_stack(int cpu);
  // A task's stack: from its CPU's registers when it is that CPU's current task, else
  // from thread.sp.
  Stack task_stack(const TaskInfo& task);
  // The stack a CPU's saved registers run on when its task's task->stack is unreadable
  // (its task_struct page left out of the dump, as makedumpfile does to live slab pages
  // of 7.x): an RSP on none of the CPU's own stacks is on its task's, and task stacks
  // are THREAD_SIZE aligned. 0 when the RSP is on an IRQ or exception stack, or is no
  // kernel address. Without it the unwinder cannot bound its search for a direct
  // call's return slot (__crash_kexec has no ORC) and no csd or lock is attributed.
  uint64_t stack_from_registers(int cpu, const CpuRegisters& regs);

 private:
  KernelModel(Target& target, const ModelOptions& options);
  StackRanges ranges_for(int cpu, uint64_t task_stack);
  // ranges_for, with stack_from_registers standing in for an unknown task->stack.
  StackRanges ranges_for_registers(int cpu, uint64_t task_stack, const CpuRegisters& regs);

  Target& target_;
  ModelOptions options_;
  Fields fields_;
  CpuSet cpus_;
  ModuleSet modules_;
  TaskSet tasks_;
  Symbolizer symbolizer_;
  OrcTables orc_;
  Unwinder unwinder_;
  std::map<int, StackRanges> cpu_ranges_;
};

}  // namespace kstuck
