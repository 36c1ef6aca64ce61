// SPDX-License-Identifier: GPL-2.0
// The xcall scan on each cfd_data layout: call_function_data.csd (5.10, 6.12, 7.3) and .pcpu->csd (6.1).
#include "analysis/hang/xcall.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_kernel.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

constexpr uint64_t kFunc = 0xffffffff81200000ULL;

class XcallLayout : public ::testing::Test {
 protected:
  XcallLayout() : k_(t_, 4) {
    t_.map(kFunc, 0x100);
    t_.add_symbol("remote_func", kFunc, 0x100);
    k_.define_per_cpu("cfd_data", 0x18);
    for (int c = 0; c < 4; ++c) {
      CpuView v;
      v.cpu = c;
      snap_.cpus.push_back(v);
    }
  }
  // Locks sender's csd for target as smp_call_function_many_cond() does.
  void lock_slot(uint64_t slot) {
    t_.set(slot, "__call_single_data", "node.u_flags", kCsdFlagLock | kCsdTypeSync);
    t_.set(slot, "__call_single_data", "func", kFunc);
  }
  void expect_one_from_1_to_3(uint64_t slot) {
    Fields f(t_);
    XcallScan x = scan_xcalls(t_, f, snap_);
    ASSERT_EQ(x.entries.size(), 1u);
    EXPECT_EQ(x.entries[0].address, slot);
    EXPECT_EQ(x.entries[0].sender_cpu, 1);
    EXPECT_EQ(x.entries[0].target_cpu, 3);
    EXPECT_EQ(x.entries[0].source, "cfd_data");
    EXPECT_EQ(x.entries[0].func, "remote_func");
    EXPECT_FALSE(x.partial);
  }
  FakeTarget t_;
  FakeKernel k_;
  HangSnapshot snap_;
};

TEST_F(XcallLayout, CfdDataCsdIsAPerCpuArrayOfCsds) {
  // struct call_function_data { call_single_data_t __percpu *csd; cpumask_var_t cpumask, cpumask_ipi; }
  t_.add_struct("call_function_data", 0x18, {{"csd", 0x0, 8}, {"cpumask", 0x8, 8}, {"cpumask_ipi", 0x10, 8}});
  uint64_t csds_of_cpu1 = k_.define_per_cpu("csds_of_cpu1", 0x20);
  t_.set(k_.per_cpu_addr(1, "cfd_data"), "call_function_data", "csd", csds_of_cpu1);
  uint64_t slot = k_.per_cpu_addr(3, "csds_of_cpu1");
  lock_slot(slot);
  expect_one_from_1_to_3(slot);
}

TEST_F(XcallLayout, CfdDataPcpuWrapsEachCsdInCfdPercpu) {
  // 6.1: struct call_function_data { struct cfd_percpu __percpu *pcpu; ... }, csd inside.
  t_.add_struct("call_function_data", 0x18, {{"pcpu", 0x0, 8}, {"cpumask", 0x8, 8}, {"cpumask_ipi", 0x10, 8}});
  t_.add_struct("cfd_percpu", 0x40, {{"csd", 0x0, 0x20}, {"seq_queue", 0x20, 8}});
  uint64_t pcpu_of_cpu1 = k_.define_per_cpu("pcpu_of_cpu1", 0x40);
  t_.set(k_.per_cpu_addr(1, "cfd_data"), "call_function_data", "pcpu", pcpu_of_cpu1);
  uint64_t slot = k_.per_cpu_addr(3, "pcpu_of_cpu1");
  lock_slot(slot);
  expect_one_from_1_to_3(slot);
}

TEST_F(XcallLayout, NoUFlagsIsReportedNotGuessed) {
  t_.add_struct("__call_single_data", 0x20, {{"llist", 0x0, 8}, {"func", 0x10, 8}});
  Fields f(t_);
  XcallScan x = scan_xcalls(t_, f, snap_);
  EXPECT_TRUE(x.entries.empty());
  EXPECT_TRUE(x.partial);
  ASSERT_FALSE(x.warnings.empty());
  EXPECT_NE(x.warnings[0].find("node.u_flags"), std::string::npos) << x.warnings[0];
}

}  // namespace
}  // namespace kstuck
