// SPDX-License-Identifier: GPL-2.0
// KdumpTarget on bad input (generated files) and on the dev dump against its ground truth.
#include "analysis/kdump_target/kdump_target.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/kdump_target/flattened.h"
#include "analysis/kernel/kernel_model.h"
#include "analysis/kernel/unwind.h"
#include "tests/unit/dev_dump.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

const fs::path kCache = dev_dump::cache();
const fs::path kDevDump = dev_dump::foundation_dump();
const fs::path kDevConsole = dev_dump::foundation_console();
// A real in-guest kdump (makedumpfile -c -d 31 after echo c > /proc/sysrq-trigger), kept
// by the target helper from the kdump rig; optional like the dev dump.
const fs::path kD31Dump = kCache / "dev" / "kdump-d31-6.1.vmcore";
const fs::path kD31Console = kCache / "dev" / "kdump-d31-6.1.console.log";

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(testing::TempDir()) / "kstuck_kdump_target_test";
  fs::create_directories(dir);
  return dir / name;
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

std::string read_file(const fs::path& p, size_t max = SIZE_MAX) {
  std::ifstream in(p, std::ios::binary);
  std::string s;
  s.resize(std::min<uint64_t>(max, fs::file_size(p)));
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  return s;
}

// Any vmlinux in the cache that matches the dev dump (the build-id check picks it).
std::string dev_vmlinux() {
  if (!fs::exists(kDevDump) || !fs::exists(kCache / "kernel")) return {};
  for (const auto& d : fs::directory_iterator(kCache / "kernel")) {
    fs::path v = d.path() / "vmlinux";
    if (fs::exists(v) && KdumpTarget::open(kDevDump, {v.string(), false})) return v.string();
  }
  return {};
}

// A vmlinux that is an ELF but not a vmlinux: this test program.
std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

std::map<std::string, std::string> dev_truth(const fs::path& console = kDevConsole) {
  return dev_dump::truth(console);
}

uint64_t hex(const std::string& s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v, 16);
  return v;
}

void expect_one_line(const Error& e) {
  EXPECT_FALSE(e.message().empty());
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
}

// --- bad input that needs no dev files ---

TEST(KdumpTargetInput, MissingDumpFile) {
  std::string v = self_exe();  // checked after the vmlinux, which must be an x86-64 vmlinux
  auto t = KdumpTarget::open("/nonexistent/vmcore", {"/nonexistent/vmlinux", false});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind(), ErrorKind::Os);
  EXPECT_NE(t.error().message().find("/nonexistent/vmlinux: No such file"), std::string::npos) << t.error().message();
}

TEST(KdumpTargetInput, VmlinuxMustBeAnX86Vmlinux) {
  write_file(scratch("text.txt"), "just some text\n");
  auto t = KdumpTarget::open(scratch("text.txt"), {scratch("text.txt").string(), false});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind(), ErrorKind::Format);
  EXPECT_NE(t.error().message().find("not an ELF file"), std::string::npos) << t.error().message();
  t = KdumpTarget::open(scratch("text.txt"), {self_exe(), false});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("not an x86-64 vmlinux"), std::string::npos) << t.error().message();
  // No vmlinux is no error by itself (symbols and types then come from the dump): the
  // text file is refused as a dump.
  t = KdumpTarget::open(scratch("text.txt"), {"", false});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind(), ErrorKind::Format) << t.error().message();
}

class WithVmlinux : public testing::Test {
 protected:
  void SetUp() override {
    vmlinux_ = dev_vmlinux();
    if (vmlinux_.empty()) GTEST_SKIP() << "no dev dump + matching vmlinux under " << kCache;
  }
  Result<std::unique_ptr<KdumpTarget>> open(const fs::path& dump, bool force = false) {
    return KdumpTarget::open(dump.string(), {vmlinux_, force});
  }
  std::string vmlinux_;
};

TEST_F(WithVmlinux, NonDumpFilesAreRefusedInOneLine) {
  write_file(scratch("empty"), "");
  write_file(scratch("text"), std::string(10000, 'a'));
  struct Case { fs::path path; ErrorKind kind; const char* words; } cases[] = {
      {"/nonexistent/vmcore", ErrorKind::Os, "No such file"},
      {scratch("empty"), ErrorKind::Format, "not a vmcore"},
      {scratch("text"), ErrorKind::Format, "not a vmcore"},
      {"/", ErrorKind::Invalid, "not a regular file"},
      {self_exe(), ErrorKind::Format, "not a core dump"},  // an ELF file, but no core dump
  };
  for (const auto& c : cases) {
    auto t = open(c.path);
    ASSERT_FALSE(t) << c.path;
    EXPECT_EQ(t.error().kind(), c.kind) << c.path << ": " << t.error().message();
    EXPECT_NE(t.error().message().find(c.words), std::string::npos) << t.error().message();
    EXPECT_NE(t.error().message().find(c.path.string()), std::string::npos) << t.error().message();
    expect_one_line(t.error());
  }
}

// --- the dev dump against its own ground truth ---

TEST_F(WithVmlinux, DevDumpDescribesItself) {
  auto t = open(kDevDump);
  ASSERT_TRUE(t) << t.error().message();
  const DumpInfo& info = (*t)->info();
  EXPECT_EQ(info.format, "flattened diskdump");
  EXPECT_TRUE(info.build_id_matches);
  EXPECT_EQ(info.release, *(*t)->vmcoreinfo("OSRELEASE"));
  EXPECT_FALSE(info.panic_cpu);  // a live QEMU dump: nobody panicked
  // The release as the kernel's memory holds it (init_uts_ns) equals VMCOREINFO's.
  auto uts = (*t)->symbol_address("init_uts_ns");
  auto rel = (*t)->member("uts_namespace", "name.release");
  ASSERT_TRUE(uts && rel);
  char buf[65] = {};
  ASSERT_TRUE((*t)->read(*uts + rel->offset, std::as_writable_bytes(std::span(buf, 64))));
  EXPECT_EQ(std::string(buf), info.release);
  // KASLR: the dump's _stext is the vmlinux's plus the offset.
  auto stext = (*t)->vmcoreinfo("SYMBOL(_stext)");
  ASSERT_TRUE(stext);
  EXPECT_EQ(hex(*stext), *(*t)->symbol_address("_stext"));
  EXPECT_EQ(info.kaslr_offset, hex(*(*t)->vmcoreinfo("KERNELOFFSET")));
  EXPECT_NE(info.kaslr_offset, 0u);
  // QEMU's notes: one per vCPU, pid = vCPU + 1.
  ASSERT_EQ(info.cpu_notes, 4);
  for (int cpu = 0; cpu < 4; cpu++) {
    auto regs = (*t)->cpu_registers(cpu);
    ASSERT_TRUE(regs);
    EXPECT_EQ(regs->note_pid, cpu + 1);
  }
  EXPECT_FALSE((*t)->cpu_registers(4));
}

// Every OFFSET()/SIZE() the kernel wrote into VMCOREINFO equals what BTF says.
TEST_F(WithVmlinux, BtfAgreesWithVmcoreinfo) {
  auto t = open(kDevDump);
  ASSERT_TRUE(t) << t.error().message();
  std::istringstream lines((*t)->vmcoreinfo_raw());
  std::string line;
  int offsets = 0, sizes = 0;
  // "OFFSET(struct.member.path)=N" and "SIZE(struct)=N".
  auto inside = [](const std::string& l, const char* prefix, std::string& name, uint64_t& value) {
    size_t n = std::strlen(prefix), close = l.find(")=");
    if (l.compare(0, n, prefix) != 0 || close == std::string::npos) return false;
    name = l.substr(n, close - n);
    value = std::stoull(l.substr(close + 2));
    return true;
  };
  while (std::getline(lines, line)) {
    std::string name;
    uint64_t value = 0;
    if (inside(line, "OFFSET(", name, value)) {
      auto dot = name.find('.');
      ASSERT_NE(dot, std::string::npos) << line;
      auto mem = (*t)->member(name.substr(0, dot), name.substr(dot + 1));
      ASSERT_TRUE(mem) << line << ": " << mem.error().message();
      EXPECT_EQ(mem->offset, value) << line;
      offsets++;
    } else if (inside(line, "SIZE(", name, value)) {
      auto size = (*t)->struct_size(name);
      ASSERT_TRUE(size) << line << ": " << size.error().message();
      EXPECT_EQ(*size, value) << line;
      sizes++;
    }
  }
  EXPECT_GT(offsets, 30);
  EXPECT_GT(sizes, 10);
}

TEST_F(WithVmlinux, MemberPathsArraysAndBitfields) {
  auto t = open(kDevDump);
  ASSERT_TRUE(t) << t.error().message();
  auto& k = **t;
  auto thread = k.member("task_struct", "thread");
  auto sp = k.member("task_struct", "thread.sp");
  auto thread_sp = k.member("thread_struct", "sp");
  ASSERT_TRUE(thread && sp && thread_sp);
  EXPECT_EQ(sp->offset, thread->offset + thread_sp->offset);
  EXPECT_EQ(sp->size, 8u);
  EXPECT_EQ(k.member("struct task_struct", "thread.sp")->offset, sp->offset);
  // numbers[1] is one struct upid after numbers[0].
  auto n0 = k.member("pid", "numbers[0].nr"), n1 = k.member("pid", "numbers[1].nr");
  ASSERT_TRUE(n0 && n1);
  EXPECT_EQ(n1->offset - n0->offset, *k.struct_size("upid"));
  EXPECT_EQ(n0->type_name, "int");
  auto c0 = k.member("task_struct", "comm"), c15 = k.member("task_struct", "comm[15]");
  ASSERT_TRUE(c0 && c15);
  EXPECT_EQ(c15->offset, c0->offset + 15);
  EXPECT_EQ(c0->type_name, "char[16]");
  auto beyond = k.member("task_struct", "comm[16]");  // beyond the declared array: refused
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().kind(), ErrorKind::Invalid);
  // Consecutive one-bit fields of task_struct sit in consecutive bits.
  auto a = k.member("task_struct", "sched_reset_on_fork"), b = k.member("task_struct", "sched_contributes_to_load");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->bit_size, 1u);
  EXPECT_EQ(b->bit_size, 1u);
  EXPECT_EQ(b->offset * 8 + b->bit_offset, a->offset * 8 + a->bit_offset + 1);
  EXPECT_EQ(k.member("task_struct", "tasks")->type_name, "struct list_head");
  EXPECT_EQ(k.member("task_struct", "stack")->type_name, "void *");
  auto missing = k.member("task_struct", "no_such_member");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::NotFound);
  EXPECT_FALSE(k.struct_size("no_such_struct_anywhere"));
}

// The task on each wedged CPU is the one the scenario says (comm and pid), found through
// per-CPU offsets, a per-CPU symbol and BTF offsets; the xcall CPU's RIP is in
// smp_call_function_single.
TEST_F(WithVmlinux, RunningTasksMatchTheScenarioTruth) {
  auto truth = dev_truth();
  if (!truth.count("irqoff_spinner.pid")) GTEST_SKIP() << "no KSTUCK-TRUTH in " << kDevConsole;
  auto t = open(kDevDump);
  ASSERT_TRUE(t) << t.error().message();
  auto& k = **t;
  auto current = k.symbol_address("current_task");  // a per-CPU variable: an offset
  auto comm = k.member("task_struct", "comm"), pid = k.member("task_struct", "pid");
  ASSERT_TRUE(current && comm && pid);
  for (std::string role : {"irqoff_spinner", "xcall_waiter"}) {
    int cpu = std::stoi(truth[role + ".cpu"]);
    auto base = k.per_cpu_offset(cpu);
    ASSERT_TRUE(base);
    auto task = read_u64(k, *base + *current);
    ASSERT_TRUE(task) << task.error().message();
    char name[16] = {};
    ASSERT_TRUE(k.read(*task + comm->offset, std::as_writable_bytes(std::span(name, 15))));
    EXPECT_EQ(std::string(name), truth[role + ".comm"]);
    EXPECT_EQ(std::to_string(*read_u32(k, *task + pid->offset)), truth[role + ".pid"]);
  }
  // The waiter spins with interrupts on, so the dump may catch it inside an interrupt:
  // smp_call_function_single is the first frame, or one below an IRQ/exception entry.
  int waiter = std::stoi(truth["xcall_waiter.cpu"]);
  ASSERT_TRUE(k.cpu_registers(waiter));
  auto model = KernelModel::load(k);
  ASSERT_TRUE(model) << model.error().message();
  Stack stack = (*model)->cpu_stack(waiter);
  const Frame* in_call = nullptr;
  for (const Frame& f : stack.frames) {
    auto s = k.symbol_at(f.exact_ip ? f.ip : f.ip - 1);
    if (s && s->name == "smp_call_function_single") {
      in_call = &f;
      break;
    }
  }
  ASSERT_NE(in_call, nullptr) << "smp_call_function_single not on CPU " << waiter << "'s stack";
  uint64_t ip = in_call->exact_ip ? in_call->ip : in_call->ip - 1;
  auto sym = k.symbol_at(ip);
  EXPECT_LE(sym->address, ip);
  EXPECT_GT(sym->address + sym->size, ip);
  EXPECT_EQ(*k.symbol_address("smp_call_function_single"), sym->address);
  auto line = k.source_line(ip);
  ASSERT_TRUE(line) << line.error().message();
  EXPECT_EQ(line->rfind("kernel/smp.c:", 0), 0u) << *line;
  EXPECT_EQ(k.symbolize(ip)->rfind("smp_call_function_single+0x", 0), 0u);
  // The spinner runs module code, which no vmlinux symbol covers (its RIP may be in the
  // vmlinux's clock read the loop calls, so look along the stack).
  int spinner = std::stoi(truth["irqoff_spinner.cpu"]);
  ASSERT_TRUE(k.cpu_registers(spinner));
  Stack spin = (*model)->cpu_stack(spinner);
  EXPECT_TRUE(std::any_of(spin.frames.begin(), spin.frames.end(),
                          [&](const Frame& f) { return !k.symbol_at(f.exact_ip ? f.ip : f.ip - 1); }))
      << "no module frame on CPU " << spinner << "'s stack";
  EXPECT_FALSE(k.per_cpu_offset(-1));
  EXPECT_FALSE(k.per_cpu_offset(1 << 20));
}

// Each CPU's entry (trampoline) stack: one page of its cpu_entry_area below the TSS's
// sp0, mapped in the dump, and different for every CPU.
TEST_F(WithVmlinux, EveryCpuHasItsEntryStackInItsCpuEntryArea) {
  auto t = open(kDevDump);
  ASSERT_TRUE(t) << t.error().message();
  Fields fields(**t);
  std::set<uint64_t> tops;
  for (int cpu = 0; cpu < 4; ++cpu) {
    StackRanges r = cpu_stack_ranges(fields, cpu);
    auto entry = std::find_if(r.ranges.begin(), r.ranges.end(),
                              [](const StackRange& x) { return x.kind == StackKind::Entry; });
    ASSERT_NE(entry, r.ranges.end()) << "CPU " << cpu;
    EXPECT_EQ(entry->end - entry->begin, 4096u);
    EXPECT_GE(entry->begin, 0xfffffe0000000000ULL) << std::hex << entry->begin;  // CPU_ENTRY_AREA_BASE
    uint64_t word = 0;
    EXPECT_TRUE((*t)->read(entry->end - 8, std::as_writable_bytes(std::span(&word, 1))));
    tops.insert(entry->end);
  }
  EXPECT_EQ(tops.size(), 4u);
}

TEST_F(WithVmlinux, UnmappedReadIsAFaultWithTheAddress) {
  auto t = open(kDevDump);
  ASSERT_TRUE(t) << t.error().message();
  uint64_t v = 0;
  auto r = (*t)->read(0x1000, std::as_writable_bytes(std::span(&v, 1)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Fault);
  EXPECT_EQ(r.error().address(), 0x1000u);
  expect_one_line(r.error());
}

// A plain (non-flattened) copy of the dev dump, made with our reassembler.
fs::path plain_dev_dump() {
  fs::path p = scratch("plain.vmcore");
  if (fs::exists(p)) return p;
  int in = ::open(kDevDump.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto st = reassemble_flattened(in, out);
  ::close(in);
  ::close(out);
  EXPECT_TRUE(st);
  return p;
}

TEST_F(WithVmlinux, PlainDiskdumpOpensToo) {
  auto t = open(plain_dev_dump());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ((*t)->info().format, "diskdump");
  EXPECT_EQ((*t)->info().cpu_notes, 4);
}

TEST_F(WithVmlinux, WrongBuildIdIsRefusedUnlessForced) {
  std::string bytes = read_file(kDevDump);
  auto at = bytes.find("BUILD-ID=");
  ASSERT_NE(at, std::string::npos);
  char& digit = bytes[at + 9];
  digit = digit == '0' ? '1' : '0';
  fs::path p = scratch("wrong-build-id.vmcore");
  write_file(p, bytes);
  auto t = open(p);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind(), ErrorKind::Invalid);
  EXPECT_NE(t.error().message().find("does not match the dump"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find("--force"), std::string::npos);
  expect_one_line(t.error());
  auto forced = open(p, true);
  ASSERT_TRUE(forced) << forced.error().message();
  EXPECT_FALSE((*forced)->info().build_id_matches);
  fs::remove(p);
}

TEST_F(WithVmlinux, TruncatedDumpsFailCleanlyOrDegrade) {
  std::string bytes = read_file(kDevDump);
  fs::path p = scratch("truncated.vmcore");
  // Too short for any header: refused.
  for (size_t size : {size_t{0}, size_t{100}, kFlattenedHeaderSize, kFlattenedHeaderSize + 10}) {
    write_file(p, bytes.substr(0, size));
    auto t = open(p);
    ASSERT_FALSE(t) << size;
    EXPECT_EQ(t.error().kind(), ErrorKind::Format) << size << ": " << t.error().message();
    expect_one_line(t.error());
  }
  // Cut in the page data: it opens, says so, and reads past the cut fault.
  write_file(p, bytes.substr(0, bytes.size() / 2));
  auto t = open(p);
  ASSERT_TRUE(t) << t.error().message();
  bool noted = false;
  for (const auto& n : (*t)->info().notes) noted |= n.find("truncated") != std::string::npos;
  EXPECT_TRUE(noted);
  int faults = 0, ok = 0;
  std::vector<std::byte> page(4096);
  // 1 GiB guest: sample a page every 4 MiB of physical memory.
  for (uint64_t pa = 0; pa < (uint64_t{1} << 30); pa += 4 << 20) {
    auto r = (*t)->read_phys(pa, page);
    if (r) { ok++; continue; }
    faults++;
    EXPECT_EQ(r.error().kind(), ErrorKind::Fault);
    EXPECT_EQ(r.error().address(), pa);
    expect_one_line(r.error());
  }
  EXPECT_GT(faults, 10);
  EXPECT_GT(ok, 10);
  fs::remove(p);
}

// Random byte flips in the header, bitmaps and page descriptors of a plain copy: every
// outcome is a clean error or a working target, never a crash, hang or huge allocation.
TEST_F(WithVmlinux, CorruptHeadersNeverCrash) {
  std::string base = read_file(plain_dev_dump());
  fs::path p = scratch("corrupt.vmcore");
  std::mt19937_64 rng(42);
  int refused = 0, opened = 0;
  // Targeted: signature, block_size (428), nr_cpus (460), max_mapnr (440), sub_hdr_size (432).
  std::vector<std::pair<size_t, std::string>> targeted = {
      {0, "XDUMP"}, {428, std::string("\xff\xff\xff\x7f", 4)}, {428, std::string("\0\0\0\0", 4)},
      {460, std::string("\xff\xff\xff\x7f", 4)}, {440, std::string("\xff\xff\xff\xff", 4)},
      {432, std::string("\xff\xff\xff\x7f", 4)}, {436, std::string("\xff\xff\xff\x7f", 4)}};
  for (int i = 0; i < 40 + int(targeted.size()); i++) {
    std::string bytes = base;
    if (i < int(targeted.size())) {
      bytes.replace(targeted[i].first, targeted[i].second.size(), targeted[i].second);
    } else {
      for (int f = 0; f < 8; f++) bytes[rng() % (64 * 1024)] ^= static_cast<char>(1 + rng() % 255);
    }
    write_file(p, bytes);
    auto t = open(p, true);
    if (!t) {
      refused++;
      expect_one_line(t.error());
      continue;
    }
    opened++;
    std::vector<std::byte> page(4096);
    for (int cpu = 0; cpu < (*t)->info().cpu_notes && cpu < 8; cpu++) (void)(*t)->cpu_registers(cpu);
    for (uint64_t pa = 0; pa < (uint64_t{1} << 30); pa += 64 << 20) (void)(*t)->read_phys(pa, page);
  }
  EXPECT_GT(refused, 0);  // the targeted signature flip at least
  EXPECT_EQ(refused + opened, 40 + int(targeted.size()));
  fs::remove(p);
}

// The real kdump: the panic CPU, crash time and filtered pages, against the console.
TEST_F(WithVmlinux, RealKdumpWithFilteredPages) {
  if (!fs::exists(kD31Dump) || !fs::exists(kD31Console)) GTEST_SKIP() << "no " << kD31Dump;
  // "Kernel panic - not syncing: ..." is followed by "CPU: 0 PID: 111 Comm: sh ...".
  std::ifstream in(kD31Console);
  std::string line;
  int panic_cpu = -1, panic_pid = -1;
  bool after_panic = false;
  while (std::getline(in, line)) {
    if (line.find("Kernel panic - not syncing") != std::string::npos) after_panic = true;
    auto at = line.find("CPU: ");
    if (after_panic && at != std::string::npos && panic_cpu < 0)
      std::sscanf(line.c_str() + at, "CPU: %d PID: %d", &panic_cpu, &panic_pid);
  }
  ASSERT_GE(panic_cpu, 0);
  auto t = open(kD31Dump);
  ASSERT_TRUE(t) << t.error().message();
  auto& k = **t;
  EXPECT_EQ(k.info().format, "diskdump");
  ASSERT_TRUE(k.info().panic_cpu);
  EXPECT_EQ(*k.info().panic_cpu, panic_cpu);
  EXPECT_TRUE(k.info().crash_time);
  auto regs = k.cpu_registers(panic_cpu);
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->note_pid, panic_pid);  // a real kdump names the task, unlike QEMU
  EXPECT_EQ(k.symbol_at(regs->get(CpuRegisters::rip))->name, "__crash_kexec");
  // The scenario's tasks are where the truth says.
  auto truth = dev_truth(kD31Console);
  auto current = k.symbol_address("current_task");
  auto comm = k.member("task_struct", "comm");
  ASSERT_TRUE(current && comm);
  int cpu = std::stoi(truth["irqoff_spinner.cpu"]);
  auto task = read_u64(k, *k.per_cpu_offset(cpu) + *current);
  ASSERT_TRUE(task);
  char name[16] = {};
  ASSERT_TRUE(k.read(*task + comm->offset, std::as_writable_bytes(std::span(name, 15))));
  EXPECT_EQ(std::string(name), truth["irqoff_spinner.comm"]);
  // -d 31 drops free, cache and user pages: find one and check the error names it.
  std::vector<std::byte> page(4096);
  int excluded = 0, present = 0;
  for (uint64_t pa = 1 << 20; pa < (uint64_t{1} << 30) && excluded < 5; pa += 4096 * 97) {
    auto r = k.read_phys(pa, page);
    if (r) { present++; continue; }
    excluded++;
    EXPECT_EQ(r.error().kind(), ErrorKind::Fault);
    EXPECT_EQ(r.error().address(), pa);
    EXPECT_NE(r.error().message().find("page excluded from dump"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(excluded, 5);
  EXPECT_GT(present, 0);

  // Cut the plain file in its page data: it opens, says it is truncated, and the
  // kernel text pages near the end of the image are gone.
  std::string bytes = read_file(kD31Dump);
  fs::path cut = scratch("cut-d31.vmcore");
  write_file(cut, bytes.substr(0, bytes.size() / 2));
  auto c = open(cut);
  ASSERT_TRUE(c) << c.error().message();
  bool noted = false;
  for (const auto& n : (*c)->info().notes) noted |= n.find("dump truncated") != std::string::npos;
  EXPECT_TRUE(noted);
  // Pages the whole dump has but the cut one lost fail as Faults at their address.
  int lost = 0, kept = 0;
  for (uint64_t pa = 0; pa < (uint64_t{1} << 30); pa += 1 << 20) {
    if (!k.read_phys(pa, page)) continue;
    auto r = (*c)->read_phys(pa, page);
    if (r) { kept++; continue; }
    lost++;
    EXPECT_EQ(r.error().kind(), ErrorKind::Fault);
    EXPECT_EQ(r.error().address(), pa);
  }
  EXPECT_GT(lost, 0);
  EXPECT_GT(kept, 0);
  fs::remove(cut);
}

// LZO compression, and makedumpfile's own flattened stream, re-filtered from the real
// kdump by the host's makedumpfile: same registers and the same bytes as the zlib dump.
TEST_F(WithVmlinux, LzoAndMakedumpfileFlattenedReadLikeZlib) {
  if (!fs::exists(kD31Dump) || std::system("makedumpfile -v >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no " << kD31Dump << " or no makedumpfile";
  fs::path lzo = scratch("lzo.vmcore"), flat = scratch("flat-lzo.vmcore");
  fs::remove(lzo);
  std::string cmd = "makedumpfile -l -d 31 '" + kD31Dump.string() + "' '" + lzo.string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  cmd = "makedumpfile -F -l -d 31 '" + kD31Dump.string() + "' > '" + flat.string() + "' 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto ref = open(kD31Dump);
  ASSERT_TRUE(ref) << ref.error().message();
  auto uts = (*ref)->symbol_address("init_uts_ns");
  ASSERT_TRUE(uts);
  std::vector<std::byte> want(4096), got(4096);
  ASSERT_TRUE((*ref)->read(*uts & ~uint64_t{4095}, want));
  for (const auto& p : {lzo, flat}) {
    auto t = open(p);
    ASSERT_TRUE(t) << p << ": " << t.error().message();
    EXPECT_EQ((*t)->info().format, p == flat ? "flattened diskdump" : "diskdump");
    ASSERT_EQ((*t)->info().cpu_notes, (*ref)->info().cpu_notes);
    for (int cpu = 0; cpu < (*ref)->info().cpu_notes; cpu++)
      EXPECT_EQ((*t)->cpu_registers(cpu)->regs, (*ref)->cpu_registers(cpu)->regs) << p << " cpu " << cpu;
    ASSERT_TRUE((*t)->read(*uts & ~uint64_t{4095}, got)) << p;
    EXPECT_EQ(got, want) << p;
  }
  fs::remove(lzo);
  fs::remove(flat);
}

}  // namespace
}  // namespace kstuck
