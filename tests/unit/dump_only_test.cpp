// SPDX-License-Identifier: GPL-2.0
// The dev dump opened twice, with its vmlinux and with nothing but itself (kallsyms and
// BTF from its memory): symbols, types, CPUs, tasks and every stack must agree.
#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "analysis/kdump_target/kdump_target.h"
#include "analysis/kernel/kernel_model.h"
#include "tests/unit/dev_dump.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

std::string matching_vmlinux(const fs::path& dump) {
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(dev_dump::cache() / "kernel", ec)) {
    fs::path v = d.path() / "vmlinux";
    if (fs::exists(v) && KdumpTarget::open(dump, {v.string(), false})) return v.string();
  }
  return {};
}

class BothWays : public testing::Test {
 protected:
  void SetUp() override {
    dump_ = dev_dump::foundation_dump();
    if (!fs::exists(dump_)) GTEST_SKIP() << "no dev dump " << dump_;
    vmlinux_ = matching_vmlinux(dump_);
    if (vmlinux_.empty()) GTEST_SKIP() << "no vmlinux matching " << dump_;
    auto a = KdumpTarget::open(dump_, {vmlinux_, false});
    auto b = KdumpTarget::open(dump_, {});
    ASSERT_TRUE(a) << a.error().describe();
    ASSERT_TRUE(b) << b.error().describe();
    with_ = std::move(*a);
    without_ = std::move(*b);
  }
  fs::path dump_;
  std::string vmlinux_;
  std::unique_ptr<KdumpTarget> with_, without_;
};

TEST_F(BothWays, DumpDescribesWhereSymbolsCameFrom) {
  EXPECT_EQ(with_->info().symbols_from, "vmlinux");
  EXPECT_EQ(without_->info().symbols_from, "dump");
  EXPECT_GT(without_->info().symbol_count, 50000u);
  EXPECT_EQ(with_->info().release, without_->info().release);
  EXPECT_EQ(with_->info().kaslr_offset, without_->info().kaslr_offset);
  EXPECT_EQ(with_->info().panic_cpu, without_->info().panic_cpu);
  EXPECT_FALSE(without_->info().dump_build_id.empty());
  // No DWARF without the vmlinux: the message names what supplies it.
  auto line = without_->source_line(*without_->symbol_address("schedule"));
  ASSERT_FALSE(line);
  EXPECT_NE(line.error().message().find("-dbg"), std::string::npos) << line.error().message();
}

TEST_F(BothWays, SymbolsAgree) {
  for (const char* name : {"init_task", "runqueues", "current_task", "__per_cpu_offset", "panic_cpu", "nr_cpu_ids",
                           "schedule", "smp_call_function_single", "mutex_lock", "linux_banner", "task_state_array",
                           "cpu_online_mask", "__cpu_online_mask", "modules", "init_uts_ns", "prb", "csd_data",
                           "call_single_queue", "cfd_data", "__start_orc_unwind", "__start_orc_unwind_ip"}) {
    auto a = with_->symbol_address(name);
    auto b = without_->symbol_address(name);
    if (!a) {
      EXPECT_FALSE(b) << name;
      continue;
    }
    ASSERT_TRUE(b) << name << ": " << b.error().describe();
    EXPECT_EQ(*a, *b) << name;
  }
  // Every function the vmlinux names at a set of text addresses has the same name and
  // start from kallsyms (sizes differ: kallsyms has none; the size is the distance to
  // the next symbol, an assembly label inside a function included).
  uint64_t text = *with_->symbol_address("_stext");
  uint64_t etext = *with_->symbol_address("_etext");
  int compared = 0, named_differently = 0;
  for (uint64_t a = text; a < etext; a += 2053) {
    auto x = with_->symbol_at(a);
    if (!x || x->size == 0) continue;  // padding between functions, unsized labels
    auto y = without_->symbol_at(a);
    ASSERT_TRUE(y) << std::hex << a << " " << x->name;
    compared++;
    if (x->name != y->name) named_differently++;
    else EXPECT_EQ(x->address, y->address) << x->name;
  }
  EXPECT_GT(compared, 5000);
  // Aliases (two names at one address) may be named either way; they are rare.
  EXPECT_LT(named_differently, compared / 100) << named_differently << " of " << compared;
  std::printf("%d text addresses compared, %d named differently\n", compared, named_differently);
}

TEST_F(BothWays, TypesAgree) {
  for (const char* s : {"task_struct", "rq", "mutex", "__call_single_data", "module", "pt_regs", "inactive_task_frame"}) {
    auto a = with_->struct_size(s);
    auto b = without_->struct_size(s);
    ASSERT_TRUE(a && b) << s;
    EXPECT_EQ(*a, *b) << s;
  }
  const std::pair<const char*, const char*> members[] = {
      {"task_struct", "__state"}, {"task_struct", "thread.sp"},   {"task_struct", "on_cpu"},
      {"rq", "curr"},             {"mutex", "owner.counter"},     {"module", "core_layout.base"},
      {"pid", "numbers[0].nr"},   {"__call_single_data", "node.u_flags"},
  };
  for (auto [s, m] : members) {
    auto a = with_->member(s, m);
    auto b = without_->member(s, m);
    ASSERT_TRUE(a) << s << "." << m;
    ASSERT_TRUE(b) << s << "." << m << ": " << b.error().describe();
    EXPECT_EQ(a->offset, b->offset) << s << "." << m;
    EXPECT_EQ(a->size, b->size) << s << "." << m;
    EXPECT_EQ(a->type_name, b->type_name) << s << "." << m;
  }
  for (int cpu = 0; cpu < 4; cpu++) EXPECT_EQ(*with_->per_cpu_offset(cpu), *without_->per_cpu_offset(cpu)) << cpu;
}

// Function+offset of every frame, the way a report shows it without the size.
std::string frames_of(KernelModel& m, const Stack& s) {
  std::string out;
  for (const Frame& f : s.frames) {
    uint64_t at = f.exact_ip ? f.ip : f.ip - 1;
    auto sym = m.symbolizer().lookup(at);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(sym ? f.ip - sym->address : f.ip));
    out += (sym ? sym->name : std::string("?")) + buf + (sym && !sym->module.empty() ? " [" + sym->module + "]" : "") + " ";
  }
  return out + "| " + std::to_string(static_cast<int>(s.stop));
}

TEST_F(BothWays, ModelsAgreeOnCpusTasksAndStacks) {
  auto a = KernelModel::load(*with_);
  auto b = KernelModel::load(*without_);
  ASSERT_TRUE(a && b);
  KernelModel& x = **a;
  KernelModel& y = **b;
  ASSERT_EQ(x.cpus().cpus.size(), y.cpus().cpus.size());
  for (size_t i = 0; i < x.cpus().cpus.size(); i++) {
    int cpu = x.cpus().cpus[i].cpu;
    EXPECT_EQ(frames_of(x, x.cpu_stack(cpu)), frames_of(y, y.cpu_stack(cpu))) << "cpu " << cpu;
  }
  EXPECT_EQ(x.modules().modules.size(), y.modules().modules.size());
  ASSERT_EQ(x.tasks().tasks.size(), y.tasks().tasks.size());
  EXPECT_GT(x.tasks().tasks.size(), 20u);
  for (size_t i = 0; i < x.tasks().tasks.size(); i++) {
    const TaskInfo& p = x.tasks().tasks[i];
    const TaskInfo& q = y.tasks().tasks[i];
    EXPECT_EQ(p.pid, q.pid);
    EXPECT_EQ(p.comm, q.comm);
    EXPECT_EQ(p.state.letter, q.state.letter) << p.pid;
    EXPECT_EQ(frames_of(x, x.task_stack(p)), frames_of(y, y.task_stack(q))) << "pid " << p.pid << " " << p.comm;
  }
}

}  // namespace
}  // namespace kstuck
