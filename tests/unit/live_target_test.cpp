// SPDX-License-Identifier: GPL-2.0
// LiveTarget on files shaped like the running kernel's: a /proc/kcore ELF, kallsyms text, raw BTF, an NMI capture.
#include "analysis/live_target/live_target.h"

#include <bpf/btf.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nmi_dump/uapi/nmi_dump_record.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kText = 0xffffffff9a000000ULL;      // _text with a KASLR slide
constexpr uint64_t kDirect = 0xffff888000000000ULL;   // a direct-map segment
constexpr uint64_t kPage = 4096;

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A small /proc/kcore: two PT_LOADs (kernel text 2 pages, direct map 2 pages), every
// byte of them its own offset's low byte plus a per-segment tag.
std::string make_kcore(uint8_t tag = 0, const std::string& vmcoreinfo = {}) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_phoff = sizeof(eh);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 3;
  Elf64_Phdr note{}, text{}, direct{};
  note.p_type = PT_NOTE;
  std::string notes;
  if (!vmcoreinfo.empty()) {
    // Elf64_Nhdr, "VMCOREINFO\0" padded to 12, the text padded to 4 (fs/proc/kcore.c).
    Elf64_Nhdr nh{11, static_cast<Elf64_Word>(vmcoreinfo.size()), 0};
    notes.append(reinterpret_cast<const char*>(&nh), sizeof(nh));
    notes.append("VMCOREINFO\0\0", 12);
    notes.append(vmcoreinfo);
    notes.append((4 - vmcoreinfo.size() % 4) % 4, '\0');
    note.p_offset = 0x800;
    note.p_filesz = notes.size();
  }
  text.p_type = direct.p_type = PT_LOAD;
  text.p_vaddr = kText;
  text.p_offset = kPage;
  text.p_filesz = text.p_memsz = 2 * kPage;
  direct.p_vaddr = kDirect;
  direct.p_offset = 3 * kPage;
  direct.p_filesz = direct.p_memsz = 2 * kPage;
  std::string f(5 * kPage, '\0');
  std::memcpy(f.data(), &eh, sizeof(eh));
  std::memcpy(f.data() + sizeof(eh), &note, sizeof(note));
  std::memcpy(f.data() + sizeof(eh) + sizeof(note), &text, sizeof(text));
  std::memcpy(f.data() + sizeof(eh) + 2 * sizeof(note), &direct, sizeof(direct));
  for (size_t i = kPage; i < f.size(); ++i) f[i] = static_cast<char>((i & 0xff) ^ tag);
  std::memcpy(f.data() + 0x800, notes.data(), notes.size());
  return f;
}

// Raw BTF with struct rq { int cpu; unsigned long clock; } built through libbpf.
std::string make_btf() {
  struct btf* b = btf__new_empty();
  int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  int u64 = btf__add_int(b, "long unsigned int", 8, 0);
  btf__add_struct(b, "rq", 16);
  btf__add_field(b, "cpu", i32, 0, 0);
  btf__add_field(b, "clock", u64, 64, 0);
  uint32_t size = 0;
  const void* raw = btf__raw_data(b, &size);
  std::string out(static_cast<const char*>(raw), size);
  btf__free(b);
  return out;
}

class LiveFiles : public ::testing::Test {
 protected:
  LiveFiles() {
    dir_ = fs::temp_directory_path() / ("kstuck-live-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "btf");
    write_file(dir_ / "kcore", make_kcore());
    char sym[256];
    std::string kallsyms = "0000000000000000 A fixed_percpu_data\n";
    std::snprintf(sym, sizeof(sym), "%016llx T _text\n%016llx t helper\n%016llx T helper\n%016llx D init_task\n",
                  static_cast<unsigned long long>(kText), static_cast<unsigned long long>(kText + 0x100),
                  static_cast<unsigned long long>(kText + 0x200), static_cast<unsigned long long>(kText + 0x1000));
    kallsyms += sym;
    std::snprintf(sym, sizeof(sym), "%016llx D __per_cpu_offset\n%016llx B _end\n0000000000034a80 D runqueues\n",
                  static_cast<unsigned long long>(kText + 0x1800), static_cast<unsigned long long>(kText + 0x2000));
    kallsyms += sym;
    kallsyms += "ffffffffc0a00000 t scenario_fn\t[kstuck_scenario]\n";
    write_file(dir_ / "kallsyms", kallsyms);
    write_file(dir_ / "btf" / "vmlinux", make_btf());
    write_file(dir_ / "osrelease", "6.1.0-99-cloud-amd64\n");
    write_file(dir_ / "lockdown", "[none] integrity confidentiality\n");
    options_.kcore = (dir_ / "kcore").string();
    options_.kallsyms = (dir_ / "kallsyms").string();
    options_.btf_dir = (dir_ / "btf").string();
    options_.lockdown = (dir_ / "lockdown").string();
    options_.osrelease = (dir_ / "osrelease").string();
  }
  ~LiveFiles() override { fs::remove_all(dir_); }

  fs::path dir_;
  LiveOptions options_;
};

TEST_F(LiveFiles, SymbolsKaslrAndRelease) {
  auto t = LiveTarget::open(options_).value();
  EXPECT_EQ(t->info().text, kText);
  EXPECT_EQ(t->info().kaslr_offset, kText - 0xffffffff81000000ULL);
  EXPECT_EQ(t->info().kcore_segments, 2u);
  EXPECT_EQ(t->info().release, "6.1.0-99-cloud-amd64");
  EXPECT_EQ(t->vmcoreinfo("OSRELEASE"), "6.1.0-99-cloud-amd64");
  // A per-CPU variable is its offset in the per-CPU area, as in a dump's symbols.
  EXPECT_EQ(t->symbol_address("runqueues").value(), 0x34a80u);
  // The global of two same-named symbols wins; module lines are not vmlinux symbols.
  EXPECT_EQ(t->symbol_address("helper").value(), kText + 0x200);
  EXPECT_FALSE(t->symbol_address("scenario_fn"));
  auto s = t->symbol_at(kText + 0x1010).value();
  EXPECT_EQ(s.name, "init_task");
  EXPECT_EQ(s.size, 0x800u);
  EXPECT_FALSE(t->symbol_at(kText + 0x3000));  // past _end
  EXPECT_EQ(t->cpu_registers(0).error().kind(), ErrorKind::NotFound);
  EXPECT_TRUE(t->live());
}

TEST_F(LiveFiles, ReadsSpanPagesAndFaultOutsideSegments) {
  auto t = LiveTarget::open(options_).value();
  // 16 bytes across the text segment's page boundary: file offsets 0x1ff8..0x2007.
  std::byte buf[16];
  ASSERT_TRUE(t->read(kText + kPage - 8, buf));
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(std::to_integer<uint8_t>(buf[i]), (0x1ff8 + i) & 0xff) << i;
  auto v = read_u64(*t, kDirect + kPage + 8);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v & 0xff, (3 * kPage + kPage + 8) & 0xff);
  // Past the direct-map segment's end: a Fault naming the first unreadable byte.
  auto r = t->read(kDirect + 2 * kPage - 4, buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Fault);
  EXPECT_EQ(r.error().address(), kDirect + 2 * kPage);
  auto nowhere = read_u64(*t, 0xffffc90000000000ULL);
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().address(), 0xffffc90000000000ULL);
}

TEST_F(LiveFiles, APassSeesMemoryAnew) {
  auto t = LiveTarget::open(options_).value();
  uint8_t before = std::to_integer<uint8_t>(read_value<std::byte>(*t, kDirect + 5).value());
  write_file(dir_ / "kcore", make_kcore(0x5a));  // the kernel changed meanwhile
  // Within a pass the page is cached: one consistent view.
  EXPECT_EQ(std::to_integer<uint8_t>(read_value<std::byte>(*t, kDirect + 5).value()), before);
  t->begin_pass(std::nullopt, "no module");
  EXPECT_EQ(std::to_integer<uint8_t>(read_value<std::byte>(*t, kDirect + 5).value()), before ^ 0x5a);
}

TEST_F(LiveFiles, TypesFromBtf) {
  auto t = LiveTarget::open(options_).value();
  EXPECT_EQ(t->struct_size("rq").value(), 16u);
  auto m = t->member("rq", "clock").value();
  EXPECT_EQ(m.offset, 8u);
  EXPECT_EQ(m.size, 8u);
  EXPECT_EQ(t->struct_size("no_such_struct").error().kind(), ErrorKind::NotFound);
}

TEST_F(LiveFiles, RegistersFromTheCaptureByCpuNumber) {
  auto t = LiveTarget::open(options_).value();
  t->begin_pass(std::nullopt, "/dev/kstuck: No such file or directory (kstuck.ko is not loaded)");
  auto none = t->captured_registers(0);
  ASSERT_TRUE(none.has_value());
  ASSERT_FALSE(*none);
  EXPECT_NE(none->error().message().find("kstuck.ko is not loaded"), std::string::npos);

  NmiSnapshot snap;
  snap.seq = 7;
  NmiCpu c0;
  c0.cpu = 0;
  c0.status = NMI_DUMP_CPU_REQUESTED | NMI_DUMP_CPU_ANSWERED;
  c0.pid = 42;
  c0.task_kaddr = kDirect + 0x100;
  c0.regs[CpuRegisters::rip] = kText + 0x210;
  NmiCpu c1;
  c1.cpu = 1;
  c1.status = NMI_DUMP_CPU_REQUESTED | NMI_DUMP_CPU_TIMED_OUT;
  snap.cpus = {c0, c1};
  t->begin_pass(snap);
  auto r0 = t->captured_registers(0).value();
  ASSERT_TRUE(r0);
  EXPECT_EQ(r0->get(CpuRegisters::rip), kText + 0x210);
  EXPECT_EQ(r0->note_pid, 42);
  EXPECT_EQ(r0->task, kDirect + 0x100);
  auto r1 = t->captured_registers(1).value();
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message().find("NMI capture 7: the CPU did not answer"), std::string::npos)
      << r1.error().message();
  EXPECT_FALSE(t->captured_registers(5).value());
}

TEST_F(LiveFiles, VmcoreinfoNoteIsRead) {
  // /proc/kcore's VMCOREINFO note: its values answer vmcoreinfo(); without every
  // SYMBOL(kallsyms_*) of 6.0+ the symbols come from /proc/kallsyms.
  write_file(dir_ / "kcore", make_kcore(0, "OSRELEASE=6.1.0-99-cloud-amd64\nPAGESIZE=4096\nSYMBOL(kallsyms_names)=ffffffff9a001000\n"));
  auto t = LiveTarget::open(options_).value();
  EXPECT_EQ(t->vmcoreinfo("PAGESIZE"), "4096");
  EXPECT_FALSE(t->vmcoreinfo("CRASHTIME"));
  EXPECT_EQ(t->info().symbol_source, "/proc/kallsyms");
  EXPECT_EQ(t->symbol_address("init_task").value(), kText + 0x1000);
}

TEST_F(LiveFiles, RefusalsAreClear) {
  std::string locked = dir_ / "locked";
  write_file(locked, "none integrity [confidentiality]\n");
  EXPECT_NE(kcore_refusal("/proc/kcore", EPERM, locked).find("locked down (confidentiality mode)"), std::string::npos);
  EXPECT_NE(kcore_refusal("/proc/kcore", ENOENT, locked).find("CONFIG_PROC_KCORE"), std::string::npos);
  options_.kcore = (dir_ / "absent").string();
  auto t = LiveTarget::open(options_);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("CONFIG_PROC_KCORE"), std::string::npos);
  // kallsyms with every address hidden (kptr_restrict) is refused, not read as zeros.
  write_file(dir_ / "kallsyms", "0000000000000000 T _text\n0000000000000000 D init_task\n");
  options_.kcore = (dir_ / "kcore").string();
  auto hidden = LiveTarget::open(options_);
  ASSERT_FALSE(hidden);
  EXPECT_NE(hidden.error().message().find("kptr_restrict"), std::string::npos);
}

}  // namespace
}  // namespace kstuck
