// SPDX-License-Identifier: GPL-2.0
// HangSnapshot: lookups over the CPUs and tasks, and frame naming.
#include "analysis/hang/hang_snapshot.h"

namespace kstuck {

const TaskView* HangSnapshot::task_at(uint64_t task) const {
  for (const auto& t : tasks)
    if (t.task == task) return &t;
  return nullptr;
}

const TaskView* HangSnapshot::task_with_stack(uint64_t address) const {
  for (const auto& t : tasks)
    if (t.stack_base && address >= t.stack_base && address < t.stack_base + kThreadSize) return &t;
  return nullptr;
}

const CpuView* HangSnapshot::cpu(int n) const {
  for (const auto& c : cpus)
    if (c.cpu == n) return &c;
  return nullptr;
}

std::string function_name(Target& target, uint64_t address, std::string* module) {
  auto sym = target.symbol_at(address);
  if (!sym) return {};
  if (module) *module = sym->module;
  std::string name = sym->name;
  // "__mutex_lock.constprop.0" and "foo.isra.0" are the same function for a reader.
  if (auto dot = name.find('.'); dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

bool frames_have(const std::vector<StackFrame>& frames, std::initializer_list<std::string_view> prefixes) {
  for (const auto& f : frames)
    for (auto p : prefixes)
      if (f.function.starts_with(p)) return true;
  return false;
}

}  // namespace kstuck
