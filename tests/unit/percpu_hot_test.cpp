// SPDX-License-Identifier: GPL-2.0
// percpu_hot_address(): pcpu_hot member (6.2-6.14), per-CPU variable (<=6.1, 6.15+), absent.
#include "analysis/kernel/percpu_hot.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_kernel.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

TEST(PercpuHot, PerCpuVariableWhenThereIsNoPcpuHot) {
  // Up to 6.1, and again from 6.15: hardirq_stack_ptr is a per-CPU variable of its own.
  FakeTarget t;
  FakeKernel k{t};
  Fields f{t};
  k.define_per_cpu("hardirq_stack_ptr", 8);
  EXPECT_EQ(percpu_hot_place(f, "hardirq_stack_ptr"), PercpuHotPlace::PerCpuVariable);
  for (int cpu = 0; cpu < 4; ++cpu) {
    auto a = percpu_hot_address(f, cpu, "hardirq_stack_ptr");
    ASSERT_TRUE(a) << a.error().describe();
    EXPECT_EQ(*a, k.per_cpu_addr(cpu, "hardirq_stack_ptr"));
  }
}

TEST(PercpuHot, PcpuHotMemberWins) {
  // 6.2-6.14: struct pcpu_hot { current_task; ...; hardirq_stack_ptr at 0x20 }. A stale
  // symbol of the old name must not be taken when the struct has the member.
  FakeTarget t;
  FakeKernel k{t};
  t.add_struct("pcpu_hot", 64, {{"current_task", 0}, {"top_of_stack", 0x18}, {"hardirq_stack_ptr", 0x20}});
  k.define_per_cpu("pcpu_hot", 64);
  k.define_per_cpu("hardirq_stack_ptr", 8);
  Fields f{t};
  EXPECT_EQ(percpu_hot_place(f, "hardirq_stack_ptr"), PercpuHotPlace::PcpuHotMember);
  auto a = percpu_hot_address(f, 2, "hardirq_stack_ptr");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(*a, k.per_cpu_addr(2, "pcpu_hot") + 0x20);
}

TEST(PercpuHot, MemberMovedOutOfAShrunkPcpuHot) {
  // The 6.15 series moved members out one by one: a pcpu_hot without cpu_number while a
  // per-CPU cpu_number exists.
  FakeTarget t;
  FakeKernel k{t};
  t.add_struct("pcpu_hot", 32, {{"current_task", 0}, {"hardirq_stack_ptr", 0x10}});
  k.define_per_cpu("pcpu_hot", 32);
  k.define_per_cpu("cpu_number", 4);
  Fields f{t};
  auto a = percpu_hot_address(f, 1, "cpu_number");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(*a, k.per_cpu_addr(1, "cpu_number"));
  auto b = percpu_hot_address(f, 1, "current_task");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(*b, k.per_cpu_addr(1, "pcpu_hot"));
}

TEST(PercpuHot, AbsentIsReportedWithBothPlaces) {
  FakeTarget t;
  FakeKernel k{t};
  Fields f{t};
  EXPECT_EQ(percpu_hot_place(f, "hardirq_stack_ptr"), PercpuHotPlace::Unknown);
  auto a = percpu_hot_address(f, 0, "hardirq_stack_ptr");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().kind(), ErrorKind::NotFound);
  EXPECT_NE(a.error().message().find("pcpu_hot"), std::string::npos);
  EXPECT_NE(a.error().message().find("hardirq_stack_ptr"), std::string::npos);
}

TEST(PercpuHot, PcpuHotMemberButNoPerCpuInstanceIsAnError) {
  // The type says pcpu_hot, but the dump has no pcpu_hot symbol: an error, not a guess.
  FakeTarget t;
  FakeKernel k{t};
  t.add_struct("pcpu_hot", 64, {{"hardirq_stack_ptr", 0x20}});
  Fields f{t};
  auto a = percpu_hot_address(f, 0, "hardirq_stack_ptr");
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().describe().find("pcpu_hot"), std::string::npos);
}

}  // namespace
}  // namespace kstuck
