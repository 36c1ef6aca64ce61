// SPDX-License-Identifier: GPL-2.0
// percpu_hot_address(): pcpu_hot.<member> on 6.2-6.14, the per-CPU variable <member> otherwise.
#include "analysis/kernel/percpu_hot.h"

#include <string>

#include "analysis/kernel/cpus.h"

namespace kstuck {

PercpuHotPlace percpu_hot_place(Fields& fields, std::string_view member) {
  if (fields.has("pcpu_hot", member)) return PercpuHotPlace::PcpuHotMember;
  if (fields.target().symbol_address(member)) return PercpuHotPlace::PerCpuVariable;
  return PercpuHotPlace::Unknown;
}

Result<uint64_t> percpu_hot_address(Fields& fields, int cpu, std::string_view member) {
  switch (percpu_hot_place(fields, member)) {
    case PercpuHotPlace::PcpuHotMember: {
      auto off = fields.offset("pcpu_hot", member);
      if (!off) return tl::unexpected(off.error());
      auto base = per_cpu_address(fields, "pcpu_hot", cpu);
      if (!base) return tl::unexpected(base.error().with_context("per-CPU pcpu_hot"));
      return *base + *off;
    }
    case PercpuHotPlace::PerCpuVariable: {
      auto a = per_cpu_address(fields, member, cpu);
      if (!a) return tl::unexpected(a.error().with_context("per-CPU " + std::string(member)));
      return *a;
    }
    case PercpuHotPlace::Unknown: break;
  }
  return fail(ErrorKind::NotFound, "neither struct pcpu_hot has a member " + std::string(member) +
                                       " nor is there a per-CPU variable " + std::string(member));
}

}  // namespace kstuck
