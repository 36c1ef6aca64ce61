// SPDX-License-Identifier: GPL-2.0
// The HangSnapshot from the kernel model: its CPUs, tasks, ORC-unwound stacks and module symbols.
#pragma once

#include "analysis/hang/hang_analysis.h"
#include "analysis/hang/hang_snapshot.h"
#include "analysis/kernel/kernel_model.h"

namespace kstuck {

// A Target that answers symbol_at() through the model's Symbolizer (vmlinux and module
// kallsyms) and forwards everything else: module functions and static locks then get
// their names in every scan without the scans knowing about modules.
class ModelSymbolTarget : public Target {
 public:
  explicit ModelSymbolTarget(KernelModel& model) : model_(model), base_(model.target()) {}

  Result<void> read(uint64_t kvaddr, std::span<std::byte> out) override { return base_.read(kvaddr, out); }
  Result<uint64_t> symbol_address(std::string_view name) override { return base_.symbol_address(name); }
  Result<Symbol> symbol_at(uint64_t address) override;
  Result<uint64_t> struct_size(std::string_view s) override { return base_.struct_size(s); }
  Result<TypeMember> member(std::string_view s, std::string_view m) override { return base_.member(s, m); }
  Result<uint64_t> per_cpu_offset(int cpu) override { return base_.per_cpu_offset(cpu); }
  Result<CpuRegisters> cpu_registers(int cpu) override { return base_.cpu_registers(cpu); }
  std::optional<std::string> vmcoreinfo(std::string_view key) override { return base_.vmcoreinfo(key); }

 private:
  KernelModel& model_;
  Target& base_;
};

// CPUs and tasks of the model, with stacks unwound by its ORC unwinder. Tasks that are
// neither blocked (D) nor sleeping (S) keep no frames unless they are on a CPU: the
// hang analysis only asks blocked and running contexts where they wait.
HangSnapshot snapshot_from_model(KernelModel& model, Target& symbols);

// The whole analysis over a dump through the kernel model.
Result<HangReport> analyse_hang_with_model(KernelModel& model, const HangOptions& options = {});

}  // namespace kstuck
