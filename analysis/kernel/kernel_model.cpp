// SPDX-License-Identifier: GPL-2.0
// KernelModel: loading order (CPUs, modules, tasks) and the choice of where each stack starts.
#include "analysis/kernel/kernel_model.h"

namespace kstuck {

KernelModel::KernelModel(Target& target, const ModelOptions& options)
    : target_(target),
      options_(options),
      fields_(target),
      symbolizer_(target, modules_),
      orc_(fields_, modules_),
      unwinder_(fields_, orc_, options.unwind_limits) {}

Result<std::unique_ptr<KernelModel>> KernelModel::load(Target& target, const ModelOptions& options) {
  std::unique_ptr<KernelModel> m(new KernelModel(target, options));
  auto cpus = load_cpus(m->fields_);
  if (!cpus) return tl::unexpected(cpus.error());
  m->cpus_ = std::move(*cpus);
  m->modules_ = load_modules(m->fields_);
  m->tasks_ = load_tasks(m->fields_, m->cpus_, options.task_limits, options.progress, options.progress_ctx);
  return m;
}

StackRanges KernelModel::ranges_for(int cpu, uint64_t task_stack) {
  StackRanges r;
  if (cpu >= 0) {
    auto it = cpu_ranges_.find(cpu);
    if (it == cpu_ranges_.end()) it = cpu_ranges_.emplace(cpu, cpu_stack_ranges(fields_, cpu)).first;
    r = it->second;
  }
  if (task_stack && is_kernel_pointer(task_stack))
    r.ranges.push_back({StackKind::Task, task_stack, task_stack + kThreadSize});
  return r;
}

uint64_t KernelModel::stack_from_registers(int cpu, const CpuRegisters& regs) {
  uint64_t sp = regs.get(CpuRegisters::rsp);
  if (!is_kernel_pointer(sp) || ranges_for(cpu, 0).classify(sp).kind != StackKind::Unknown) return 0;
  return sp & ~(kThreadSize - 1);
}

StackRanges KernelModel::ranges_for_registers(int cpu, uint64_t task_stack, const CpuRegisters& regs) {
  return ranges_for(cpu, task_stack ? task_stack : stack_from_registers(cpu, regs));
}

Stack KernelModel::cpu_stack(int cpu) {
  const CpuInfo* c = cpus_.find(cpu);
  if (!c || !c->regs) {
    Stack s;
    s.stop = StopReason::NoStart;
    s.detail = "no registers saved for this CPU";
    return s;
  }
  uint64_t task_stack = 0;
  if (const TaskInfo* t = tasks_.by_address(c->running_task())) task_stack = t->stack;
  return unwinder_.from_registers(*c->regs, ranges_for_registers(cpu, task_stack, *c->regs));
}

Stack KernelModel::task_stack(const TaskInfo& task) {
  int cpu = task.running_on(cpus_);
  if (cpu >= 0) {
    const CpuInfo* c = cpus_.find(cpu);
    if (!c) c = cpus_.find_offline(cpu);
    // Only the CPU's current task runs on its registers (not one whose on_cpu alone says so).
    if (c && c->regs && (task.current_on >= 0 || task.offline_on >= 0))
      return unwinder_.from_registers(*c->regs, ranges_for_registers(cpu, task.stack, *c->regs));
    // A running task's thread.sp is where it last switched out, long overwritten: an
    // unwind from it would print someone else's past as this task's present.
    Stack s;
    s.stop = StopReason::NoStart;
    s.detail = "running on CPU " + std::to_string(cpu) +
               " when the dump was taken; no saved registers (not unwound from its stale thread.sp)";
    return s;
  }
  return unwinder_.from_thread_sp(task.thread_sp, ranges_for(-1, task.stack));
}

}  // namespace kstuck
