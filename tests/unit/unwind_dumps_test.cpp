// SPDX-License-Identifier: GPL-2.0
// The unwinder on every real dump in the kernel cache (dev/idle-KVER.vmcore and
// dev/foundation-KVER.vmcore, from the test rig's guests): the ORC format each kernel is
// read with, every task's and CPU's stack unwound to its first frame, and each CPU's IRQ
// stack found where this kernel keeps hardirq_stack_ptr. Skips when no dump is cached.
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/kdump_target/kdump_target.h"
#include "analysis/kernel/kernel_model.h"
#include "analysis/kernel/percpu_hot.h"
#include "tests/unit/dev_dump.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

// What each Debian kernel is known to be (measured on its headers and BTF, see orc.h and
// percpu_hot.h): the test data the unwinder's own decisions are checked against.
struct Known {
  const char* release_prefix;  // of the dump's kernel release
  OrcFormat orc;
  PercpuHotPlace irq_stack;
};
constexpr Known kKnown[] = {
    {"5.10.", OrcFormat::V1, PercpuHotPlace::PerCpuVariable},
    {"6.1.", OrcFormat::V1, PercpuHotPlace::PerCpuVariable},
    {"6.12.", OrcFormat::V3, PercpuHotPlace::PcpuHotMember},
    {"7.2.", OrcFormat::V4, PercpuHotPlace::PerCpuVariable},
    {"7.3.", OrcFormat::V4, PercpuHotPlace::PerCpuVariable},
};

struct CachedDump {
  fs::path dump, vmlinux;
  std::string name() const { return dump.stem().string(); }
};

// dev/<what>-<kver>.vmcore with kernel/<kver>/vmlinux; "foundation-6.1" names only the
// series: the first kernel/6.1.*-cloud-amd64 whose build-id matches.
std::vector<CachedDump> cached_dumps() {
  std::vector<CachedDump> out;
  fs::path dev = dev_dump::cache() / "dev", kernels = dev_dump::cache() / "kernel";
  if (!fs::exists(dev) || !fs::exists(kernels)) return out;
  for (const auto& e : fs::directory_iterator(dev)) {
    if (e.path().extension() != ".vmcore") continue;
    std::string stem = e.path().stem().string();
    auto dash = stem.find('-');
    if (dash == std::string::npos) continue;
    std::string kver = stem.substr(dash + 1);
    fs::path v = kernels / kver / "vmlinux";
    if (!fs::exists(v)) {
      v.clear();
      for (const auto& k : fs::directory_iterator(kernels)) {
        std::string n = k.path().filename().string();
        if (n.rfind(kver + ".", 0) == 0 && n.find("-cloud-amd64") != std::string::npos &&
            fs::exists(k.path() / "vmlinux")) {
          v = k.path() / "vmlinux";
          break;
        }
      }
    }
    if (!v.empty()) out.push_back({e.path(), v});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.dump < b.dump; });
  return out;
}

TEST(UnwindDumps, EveryStackOfEveryCachedDumpReachesItsFirstFrame) {
  auto dumps = cached_dumps();
  if (dumps.empty()) GTEST_SKIP() << "no dev/*.vmcore with its vmlinux in " << dev_dump::cache();
  for (const auto& d : dumps) {
    SCOPED_TRACE(d.name());
    auto target = KdumpTarget::open(d.dump.string(), {d.vmlinux.string(), false});
    ASSERT_TRUE(target) << target.error().describe();
    auto model = KernelModel::load(**target);
    ASSERT_TRUE(model) << model.error().describe();
    KernelModel& m = **model;
    std::string release = (*target)->vmcoreinfo("OSRELEASE").value_or("");
    const Known* known = nullptr;
    for (const auto& k : kKnown)
      if (release.rfind(k.release_prefix, 0) == 0) known = &k;

    const OrcFormatDecision& fmt = m.orc().format();
    EXPECT_NE(fmt.format, OrcFormat::Unknown) << fmt.error;
    EXPECT_TRUE(m.orc().vmlinux_error().empty()) << m.orc().vmlinux_error();
    if (known) {
      EXPECT_EQ(fmt.format, known->orc) << release << ": " << fmt.how;
    }
    std::printf("%s (%s): ORC %s: %s\n", d.name().c_str(), release.c_str(), orc_format_name(fmt.format), fmt.how.c_str());

    // The fallback for an unknown .orc_header hash, checked against the hash's answer on
    // this real table: the CALL entries' CFA register must give the same numbering.
    if (fmt.format == OrcFormat::V3 || fmt.format == OrcFormat::V4) {
      Target& t = **target;
      auto ips = t.symbol_address("__start_orc_unwind_ip"), ips_end = t.symbol_address("__stop_orc_unwind_ip");
      auto orcs = t.symbol_address("__start_orc_unwind");
      ASSERT_TRUE(ips && ips_end && orcs);
      std::vector<std::byte> raw((*ips_end - *ips) / 4 * 6);
      ASSERT_TRUE(t.read(*orcs, raw));
      std::string why;
      EXPECT_EQ(infer_orc_numbering(raw, why), fmt.format) << why;
      std::printf("  inferred without the hash: %s\n", why.c_str());
    }
    size_t tasks = 0;
    for (const auto& task : m.tasks().tasks) {
      Stack s = m.task_stack(task);
      ++tasks;
      EXPECT_TRUE(s.complete()) << "pid " << task.pid << " " << task.comm << ": " << stop_reason_name(s.stop) << " "
                                << s.detail << " after " << s.frames.size() << " frames";
      EXPECT_NE(s.stop, StopReason::BadOrc) << "pid " << task.pid << ": " << s.detail;
    }
    EXPECT_GT(tasks, 10u);
    std::set<uint64_t> irq_tops;
    for (const auto& cpu : m.cpus().cpus) {
      Stack s = m.cpu_stack(cpu.cpu);
      EXPECT_TRUE(s.complete()) << "cpu " << cpu.cpu << ": " << stop_reason_name(s.stop) << " " << s.detail;
      StackRanges r = cpu_stack_ranges(m.fields(), cpu.cpu);
      bool irq = false;
      for (const auto& range : r.ranges) {
        if (range.kind != StackKind::Irq) continue;
        irq = true;
        irq_tops.insert(range.end);
        // Each CPU's own stack, mapped in the dump.
        EXPECT_TRUE(read_u64(**target, range.end - 8)) << "cpu " << cpu.cpu << ": IRQ stack top unreadable";
      }
      EXPECT_TRUE(irq) << "cpu " << cpu.cpu << ": no IRQ stack";
    }
    EXPECT_EQ(irq_tops.size(), m.cpus().cpus.size()) << "IRQ stacks shared between CPUs";
    if (known) {
      EXPECT_EQ(percpu_hot_place(m.fields(), "hardirq_stack_ptr"), known->irq_stack) << release;
    }
  }
}

}  // namespace
}  // namespace kstuck
