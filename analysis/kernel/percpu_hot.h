// SPDX-License-Identifier: GPL-2.0
// Where an x86 "hot" per-CPU value (current_task, hardirq_stack_ptr, ...) lives on this kernel.
#pragma once

#include <cstdint>
#include <string_view>

#include "analysis/fields.h"

namespace kstuck {

// x86 moved its hottest per-CPU variables into one per-CPU struct and later out again:
//  - up to 6.1 each is its own per-CPU variable (`current_task`, `hardirq_stack_ptr`, ...);
//  - Since Linux commit e57ef2ed97c1 ("x86: Put hot per CPU variables into a struct")
//    (in v6.2) they are members of the per-CPU `struct pcpu_hot pcpu_hot`;
//  - in v6.15 a series of Brian Gerst ("x86/percpu: Move current_task to percpu hot
//    section" and its siblings, ending in "x86/percpu: Remove pcpu_hot"; hashes not
//    checked here) moved them, member by member, back to per-CPU variables of their own
//    in the cache-hot per-CPU section; `struct pcpu_hot` is gone from later kernels.
// Decided per member from the type information: if `struct pcpu_hot` exists and has
// `member`, the address is &per_cpu(pcpu_hot, cpu).member; otherwise it is
// &per_cpu(member, cpu). Neither: a NotFound error naming both places looked at.
Result<uint64_t> percpu_hot_address(Fields& fields, int cpu, std::string_view member);

// Which of the two places percpu_hot_address() uses for `member` (for reports and docs).
enum class PercpuHotPlace { PcpuHotMember, PerCpuVariable, Unknown };
PercpuHotPlace percpu_hot_place(Fields& fields, std::string_view member);

}  // namespace kstuck
