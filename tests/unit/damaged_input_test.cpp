// SPDX-License-Identifier: GPL-2.0
// Damaged and hostile inputs: output sanitizing, special files, the note walker, and the crash fixtures of issue 13.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/kdump_target/dump_file.h"
#include "analysis/kdump_target/dump_notes.h"
#include "analysis/kdump_target/input_file.h"
#include "analysis/report/analyze_render.h"
#include "analysis/report/analyze_report.h"
#include "analysis/report/text_sanitize.h"
#include "analysis/text_number.h"
#include "cli/commands/dump_problems.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(KSTUCK_SOURCE_DIR) / "tests" / "fixtures" / "damaged";

fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("kstuck-damaged-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir / name;
}

// ---- output sanitizing (crash cause 4: nlohmann::json aborted on a non-UTF-8 comm) ----

TEST(TextSanitize, ValidUtf8IsKept) {
  EXPECT_EQ(sanitize_text("kworker/0:1H"), "kworker/0:1H");
  EXPECT_EQ(sanitize_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\n\tend"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\n\tend");
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9"));
}

TEST(TextSanitize, InvalidBytesAndControlsAreEscaped) {
  EXPECT_EQ(sanitize_text("a\xff" "b"), "a\\xffb");
  EXPECT_EQ(sanitize_text("\x1b[2J"), "\\x1b[2J");           // no terminal escape gets through
  EXPECT_EQ(sanitize_text("x\ry\x7f"), "x\\x0dy\\x7f");
  EXPECT_EQ(sanitize_text("\xc2\x85"), "\\xc2\\x85");        // C1 control NEL
  EXPECT_EQ(sanitize_text("\xc0\xaf"), "\\xc0\\xaf");        // overlong '/'
  EXPECT_EQ(sanitize_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(sanitize_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(sanitize_text("\xe2\x82"), "\\xe2\\x82");        // cut short
  EXPECT_EQ(sanitize_text(std::string("a\0b", 3)), "a\\x00b");
  // An escape already in the input cannot pass for one made here.
  EXPECT_EQ(sanitize_text("\\xff"), "\\\\xff");
  EXPECT_FALSE(is_valid_utf8("a\xff"));
}

TEST(TextSanitize, JsonReplacementIsValidUtf8) {
  EXPECT_EQ(replace_invalid_utf8("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_TRUE(is_valid_utf8(replace_invalid_utf8("\xc0\xaf\xed\xa0\x80\xfe")));
}

TEST(TextSanitize, AnalyzeJsonOfANonUtf8CommDoesNotThrow) {
  AnalyzeReport r;
  ReportTask t;
  t.pid = 42;
  t.comm = "evil\xff\xfe\x1b";
  t.state = 'S';
  r.tasks.push_back(t);
  r.system.release = "6.1.0\xc3";
  LogRecord rec;
  rec.text = "log line with a bad byte \x80 here";
  r.system.log_tail.push_back(rec);
  r.problems.push_back("dump: \xff");
  std::string out;
  ASSERT_NO_THROW(out = render_analyze_json(r));
  EXPECT_TRUE(is_valid_utf8(out));
  EXPECT_NE(out.find("evil\xef\xbf\xbd\xef\xbf\xbd\\u001b"), std::string::npos) << out.substr(0, 400);
  std::string text = sanitize_text(render_analyze_text(r));
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

// ---- special files (the FIFO hang) ----

TEST(InputFile, FifoIsRefusedWithoutBlocking) {
  fs::path fifo = scratch("fifo");
  fs::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto fd = open_input_file(fifo, InputKind::RegularOrBlockDevice);
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().message().find("a FIFO, not a regular file or a block device"), std::string::npos)
      << fd.error().message();
  auto dump = DumpFile::open(fifo);  // the whole open path, not only the helper
  ASSERT_FALSE(dump);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  fs::remove(fifo);
}

TEST(InputFile, DirectoriesAndCharacterDevicesAreRefused) {
  auto d = open_input_file(fs::temp_directory_path(), InputKind::RegularFile);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("a directory"), std::string::npos);
  auto z = open_input_file("/dev/zero", InputKind::RegularOrBlockDevice);
  ASSERT_FALSE(z);
  EXPECT_NE(z.error().message().find("a character device"), std::string::npos);
  auto missing = open_input_file("/nonexistent/kstuck", InputKind::RegularFile);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::Os);
}

TEST(InputFile, ARegularFileOpensBlocking) {
  fs::path p = scratch("regular");
  std::ofstream(p) << "x";
  auto fd = open_input_file(p, InputKind::RegularFile);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(fcntl(*fd, F_GETFL) & O_NONBLOCK, 0);
  auto size = input_file_size(*fd);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 1u);
  close(*fd);
}

// ---- the note walker (a damaged register note shifted every later CPU's registers) ----

std::string note(const std::string& name, uint32_t type, const std::string& desc) {
  std::string n = name + std::string(1, '\0');
  std::string out(12, '\0');
  uint32_t h[3] = {static_cast<uint32_t>(n.size()), static_cast<uint32_t>(desc.size()), type};
  std::memcpy(out.data(), h, 12);
  auto pad = [](std::string s) { return s + std::string((4 - s.size() % 4) % 4, '\0'); };
  return out + pad(n) + pad(desc);
}

std::string prstatus(int32_t pid, uint64_t rip, uint64_t rsp) {
  std::string d(336, '\0');
  std::memcpy(d.data() + 32, &pid, 4);
  std::memcpy(d.data() + 112 + 8 * CpuRegisters::rip, &rip, 8);
  std::memcpy(d.data() + 112 + 8 * CpuRegisters::rsp, &rsp, 8);
  return d;
}

NoteScan scan(const std::string& bytes) { return scan_elf_notes(std::as_bytes(std::span(bytes.data(), bytes.size()))); }

TEST(DumpNotes, EveryCpuNoteKeepsItsSlot) {
  std::string cpu0 = note("CORE", 1, prstatus(10, 0xffffffff81000010, 0xffffc90000000010));
  std::string cpu1 = note("CORE", 1, prstatus(11, 0xffffffff81000011, 0xffffc90000000011));
  std::string cpu2 = note("CORE", 1, prstatus(12, 0xffffffff81000012, 0xffffc90000000012));
  std::string vi = note("VMCOREINFO", 0, "OSRELEASE=6.1.0\nKERNELOFFSET=1000000\n");
  NoteScan ok = scan(cpu0 + cpu1 + cpu2 + vi);
  ASSERT_EQ(ok.prstatus.size(), 3u);
  EXPECT_TRUE(ok.problems.empty());
  EXPECT_EQ(ok.prstatus[2].regs->get(CpuRegisters::rip), 0xffffffff81000012u);
  ASSERT_TRUE(ok.vmcoreinfo);

  // CPU 1's note type damaged: its registers are dropped, CPU 2 stays CPU 2.
  std::string bad1 = note("CORE", 0x4242, prstatus(11, 0xffffffff81000011, 0xffffc90000000011));
  NoteScan s = scan(cpu0 + bad1 + cpu2 + vi);
  ASSERT_EQ(s.prstatus.size(), 3u);
  EXPECT_TRUE(s.prstatus[0].regs);
  EXPECT_FALSE(s.prstatus[1].regs);
  ASSERT_TRUE(s.prstatus[2].regs);
  EXPECT_EQ(s.prstatus[2].regs->get(CpuRegisters::rip), 0xffffffff81000012u);
  EXPECT_EQ(s.prstatus[2].pid, 12);
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_NE(s.problems[0].find("register note 1"), std::string::npos) << s.problems[0];
  EXPECT_TRUE(cli::essential_note(s.problems[0]));
}

TEST(DumpNotes, AGarbageRipDropsTheRegisters) {
  NoteScan s = scan(note("CORE", 1, prstatus(1, 0x4141414141414141, 0xffffc90000000010)));
  ASSERT_EQ(s.prstatus.size(), 1u);
  EXPECT_FALSE(s.prstatus[0].regs);
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_NE(s.problems[0].find("0x4141414141414141"), std::string::npos);
}

// QEMU's CPU-state note (QEMUCPUState): version 1, size, rax..r15 (rsp at 6), rip at 16, rflags.
std::string qemu_state(uint64_t rip, uint64_t rsp) {
  std::string d(440, '\0');
  uint32_t head[2] = {1, 440};
  std::memcpy(d.data(), head, 8);
  std::memcpy(d.data() + 8 + 8 * 6, &rsp, 8);
  std::memcpy(d.data() + 8 + 8 * 16, &rip, 8);
  return d;
}

TEST(DumpNotes, QemusSecondCopyOfTheRegistersIsCompared) {
  // Seen in the damaged suite: one bit of CPU 0's saved rip flipped in a QEMU dump; the
  // stack still unwound, one instruction off, and nothing said so.
  std::string cpu0 = note("CORE", 1, prstatus(1, 0xffffffff81000010, 0xffffc90000000010));
  std::string cpu1 = note("CORE", 1, prstatus(2, 0xffffffff81000011, 0xffffc90000000011));
  std::string q0 = note("QEMU", 0, qemu_state(0xffffffff81000010, 0xffffc90000000010));
  std::string q1 = note("QEMU", 0, qemu_state(0xffffffff81000011, 0xffffc90000000011));
  NoteScan ok = scan(cpu0 + cpu1 + q0 + q1);
  ASSERT_EQ(ok.prstatus.size(), 2u);
  EXPECT_TRUE(ok.prstatus[0].regs && ok.prstatus[1].regs);
  EXPECT_TRUE(ok.problems.empty()) << ok.problems.front();

  std::string flipped0 = note("CORE", 1, prstatus(1, 0xffffffff81000012, 0xffffc90000000010));
  NoteScan s = scan(flipped0 + cpu1 + q0 + q1);
  ASSERT_EQ(s.prstatus.size(), 2u);
  EXPECT_FALSE(s.prstatus[0].regs);
  EXPECT_TRUE(s.prstatus[1].regs);
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_NE(s.problems[0].find("register note 0 (byte 0) and QEMU's CPU-state note 0 disagree on rip "
                               "(0xffffffff81000012 vs 0xffffffff81000010)"),
            std::string::npos)
      << s.problems[0];
  EXPECT_TRUE(cli::essential_note(s.problems[0]));

  // The damage in QEMU's copy is found the same way: which copy is whole is not known.
  std::string q1_flipped = note("QEMU", 0, qemu_state(0xffffffff81000011, 0xffffc90000000019));
  NoteScan t = scan(cpu0 + cpu1 + q0 + q1_flipped);
  EXPECT_TRUE(t.prstatus[0].regs);
  EXPECT_FALSE(t.prstatus[1].regs);
  ASSERT_EQ(t.problems.size(), 1u);
  EXPECT_NE(t.problems[0].find("disagree on rsp"), std::string::npos) << t.problems[0];

  // A lost QEMU note: nothing to pair by index, the registers stay and that is said.
  NoteScan u = scan(cpu0 + cpu1 + q0);
  EXPECT_TRUE(u.prstatus[0].regs && u.prstatus[1].regs);
  ASSERT_EQ(u.problems.size(), 1u);
  EXPECT_NE(u.problems[0].find("2 register notes but 1 QEMU CPU-state notes"), std::string::npos) << u.problems[0];
}

TEST(DumpNotes, ASizeRunningPastTheEndStopsTheWalk) {
  std::string cpu0 = note("CORE", 1, prstatus(10, 0xffffffff81000010, 0xffffc90000000010));
  std::string cpu1 = note("CORE", 1, prstatus(11, 0xffffffff81000011, 0xffffc90000000011));
  uint32_t huge = 0x7fff0000;
  std::memcpy(cpu1.data() + 4, &huge, 4);
  NoteScan s = scan(cpu0 + cpu1);
  EXPECT_TRUE(s.cut_short);
  EXPECT_EQ(s.prstatus.size(), 1u);
  ASSERT_FALSE(s.problems.empty());
  EXPECT_TRUE(cli::essential_note(s.problems[0]));
  // Any prefix of a note area walks without reading out of bounds (ASan checks).
  std::string all = cpu0 + cpu1;
  for (size_t n = 0; n < all.size(); n += 7) scan(all.substr(0, n));
}

TEST(DumpNotes, DamagedVmcoreinfoLinesAreLeftOutAndNamed) {
  std::string text = "OSRELEASE=6.1.0\nPAGES\xffIZE=4096\nKERNELOFFSET=1c000000\n=x\n";
  text += std::string(2, '\0');  // the note's padding
  VmcoreinfoScan v = parse_vmcoreinfo(text);
  EXPECT_EQ(v.entries.size(), 2u);
  EXPECT_EQ(v.entries.at("KERNELOFFSET"), "1c000000");
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("2 damaged lines"), std::string::npos) << v.problems[0];
}

TEST(DumpNotes, DamagedVmcoreinfoLinesAreBlankedForLibkdumpfile) {
  std::string whole = "OSRELEASE=6.1.0\nPAGESIZE=4096\n";
  whole += std::string(2, '\0');
  EXPECT_FALSE(blank_damaged_vmcoreinfo_lines(std::as_bytes(std::span(whole))));
  // What the fuzzer found: a line without '=', NULs inside the text.
  static const char kText[] = "OSRELEASE=6.1.0\nPAGESIZE\0\0x86_64\0\nKERNELOFFSET=0\n";
  std::string text(kText, sizeof(kText));  // with the terminating NUL, as a note has it
  auto blanked = blank_damaged_vmcoreinfo_lines(std::as_bytes(std::span(text)));
  ASSERT_TRUE(blanked);
  ASSERT_EQ(blanked->size(), text.size());  // patched in place: nothing moves
  std::string got(blanked->begin(), blanked->end());
  EXPECT_EQ(got, std::string("OSRELEASE=6.1.0\n") + std::string(18, '\n') + "KERNELOFFSET=0\n" + std::string(1, '\0'));
  VmcoreinfoScan v = parse_vmcoreinfo(got);
  EXPECT_TRUE(v.problems.empty());
  EXPECT_EQ(v.entries.size(), 2u);
}

TEST(DumpNotes, OnlyKeysShapedLikeTheKernelsAreKept) {
  std::string text =
      "OSRELEASE=6.1.0\nBUILD-ID=ab12\nSYMBOL(init_uts_ns)=ffffffff82a12340\nOFFSET(list_head.next)=0\n"
      "NUMBER(pgtable_l5_enabled)=0\nLENGTH(mem_section)=2048\n"
      // the fuzzer's line, and other shapes no kernel writes
      ".0-kstuckOPQ[\\]^_`ab#$%&'()*+,-./0123:;<=>?@AB\nSYMBOL(a..b)=1\nSYMBOL(.a)=1\nOFFSET(a.b.c)=1\n"
      "SYMBOL(a/b)=1\nSYMBOL(a)x=1\nSYMBOL()=1\n(x)=1\nA B=1\n";
  VmcoreinfoScan v = parse_vmcoreinfo(text);
  EXPECT_EQ(v.entries.size(), 6u);
  EXPECT_EQ(v.entries.count("OFFSET(list_head.next)"), 1u);
  EXPECT_EQ(v.entries.count("BUILD-ID"), 1u);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("9 damaged lines"), std::string::npos) << v.problems[0];
  auto blanked = blank_damaged_vmcoreinfo_lines(std::as_bytes(std::span(text)));
  ASSERT_TRUE(blanked);
  EXPECT_TRUE(parse_vmcoreinfo(std::string(blanked->begin(), blanked->end())).problems.empty());
}

// ---- the regression fixtures: small kdumps that crashed kstuck before issue 13 ----

struct Fixture {
  const char* file;
  const char* what;
};

class CrashFixture : public ::testing::TestWithParam<Fixture> {};

TEST_P(CrashFixture, OpensOrFailsWithAMessageAndReadsSafely) {
  fs::path p = kFixtures / GetParam().file;
  ASSERT_TRUE(fs::exists(p)) << p;
  auto dump = DumpFile::open(p);
  if (!dump) {
    EXPECT_FALSE(dump.error().message().empty());
    return;
  }
  std::byte page[4096];
  size_t failed = 0;
  for (uint64_t pfn = 0; pfn < 20; pfn++) failed += !(*dump)->read_phys(pfn << 12, page);
  for (int cpu = 0; cpu < (*dump)->cpu_count(); cpu++) (void)(*dump)->cpu_registers(cpu);
  // A fixture that opens is damaged in its pages: that shows in its notes or its reads.
  EXPECT_TRUE(!(*dump)->notes().empty() || !(*dump)->read_problems().empty() || failed > 0) << GetParam().what;
}

INSTANTIATE_TEST_SUITE_P(
    Issue13, CrashFixture,
    ::testing::Values(Fixture{"header-version-ffffffff.kdump", "cause 1: SIGSEGV in kdump_free after a failed open"},
                      Fixture{"max-mapnr-ffffffff.kdump", "cause 1: SIGSEGV in kdump_free after a failed open"},
                      Fixture{"compressed-size-above-block.kdump", "cause 2: compressed size > block size"},
                      Fixture{"descriptor-past-eof.kdump", "cause 3: a descriptor into the unmapped tail"},
                      Fixture{"truncated-in-data.kdump", "cause 3: SIGBUS on a truncated file"},
                      Fixture{"register-note-type.kdump", "a damaged note shifted the registers"},
                      Fixture{"fuzz-vmcoreinfo-alloc-2e63.kdump", "libkdumpfile asked malloc for 2^63 bytes"},
                      Fixture{"fuzz-vmcoreinfo-segv.kdump", "libkdumpfile read wild memory after that malloc"},
                      Fixture{"fuzz-vmcoreinfo-key.kdump", "libkdumpfile made attributes of a key no kernel writes"},
                      Fixture{"fuzz-note-size-15g.kdump", "a version-5 sub-header made libkdumpfile malloc 15 GB"},
                      Fixture{"fuzz-notes-after-empty.kdump", "libkdumpfile walked past an empty note into an unchecked one"}),
    [](const auto& info) {
      std::string n = info.param.file;
      n = n.substr(0, n.find('.'));
      for (auto& c : n)
        if (c == '-') c = '_';
      return n;
    });

TEST(CrashFixtures, ADamagedNoteKeepsTheOtherCpusRegisters) {
  auto dump = DumpFile::open(kFixtures / "register-note-type.kdump");
  ASSERT_TRUE(dump) << dump.error().message();
  ASSERT_EQ((*dump)->cpu_count(), 2);
  EXPECT_FALSE((*dump)->cpu_registers(0));
  auto cpu1 = (*dump)->cpu_registers(1);
  ASSERT_TRUE(cpu1) << cpu1.error().message();
  EXPECT_EQ(cpu1->get(CpuRegisters::rip), 0xffffffff81000200u);
}

TEST(CrashFixtures, TheSeedDumpIsWhole) {
  auto dump = DumpFile::open(kFixtures / "seed.kdump");
  ASSERT_TRUE(dump) << dump.error().message();
  std::byte page[4096];
  for (uint64_t pfn = 0; pfn < 16; pfn++) EXPECT_TRUE((*dump)->read_phys(pfn << 12, page)) << pfn;
  EXPECT_TRUE((*dump)->read_problems().empty());
  EXPECT_EQ((*dump)->cpu_count(), 2);
  EXPECT_EQ((*dump)->vmcoreinfo("OSRELEASE").value_or(""), "6.1.0-kstuck-fuzz");
}

TEST(CrashFixtures, ACorruptPageIsAReadProblem) {
  auto dump = DumpFile::open(kFixtures / "compressed-size-above-block.kdump");
  ASSERT_TRUE(dump) << dump.error().message();
  std::byte page[4096];
  EXPECT_FALSE((*dump)->read_phys(0, page));  // pfn 0's descriptor is the damaged one
  auto problems = (*dump)->read_problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("corrupt"), std::string::npos) << problems[0];
  bool said = false;
  for (const auto& n : (*dump)->notes()) said = said || n.find("page descriptor is damaged") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace kstuck

namespace kstuck {
namespace {

// A bit flip in VMCOREINFO's text: "CRASHTIME=1796695416" became "179669541&" (a kdump of
// the damaged-dump suite), read as 179669541 until numbers had to be whole.
TEST(DamagedVmcoreinfo, NumbersAreTheWholeTextOrNothing) {
  EXPECT_EQ(parse_decimal_i64("1796695416"), 1796695416);
  EXPECT_EQ(parse_decimal_i64("-3"), -3);
  EXPECT_FALSE(parse_decimal_i64("179669541&"));
  EXPECT_FALSE(parse_decimal_i64(""));
  EXPECT_FALSE(parse_decimal_i64(" 1"));
  EXPECT_FALSE(parse_decimal_i64("99999999999999999999"));
  EXPECT_EQ(parse_hex_u64("0xffffffff81000000"), 0xffffffff81000000ULL);
  EXPECT_EQ(parse_hex_u64("5000000"), 0x5000000ULL);
  EXPECT_FALSE(parse_hex_u64("0x"));
  EXPECT_FALSE(parse_hex_u64("50000g0"));
}

TEST(DamagedVmcoreinfo, CrashTimeMustAgreeWithTheTimekeeper) {
  struct Case {
    const char* why;
    std::optional<std::string> crashtime;
    std::optional<int64_t> wall;
    std::optional<int64_t> used;  // the crash time kept
    const char* problem;          // in crash_time_problem ("" for none)
  };
  const std::vector<Case> cases = {
      {"agree", "1796695416", 1796695416, 1796695416, ""},
      {"another CPU's tick crossed a second", "1796695416", 1796695417, 1796695416, ""},
      {"no timekeeper: the dump's word", "1796695416", std::nullopt, 1796695416, ""},
      {"a digit flipped higher", "1796795416", 1796695416, std::nullopt, "only moves forward"},
      {"one second later", "1796695417", 1796695416, std::nullopt, "only moves forward"},
      {"a digit flipped lower", "1796695016", 1796695416, std::nullopt, "400 s before"},
      {"not a number", "179669541&", 1796695416, std::nullopt, "not a number"},
      {"a QMP dump of a live guest has none", std::nullopt, 1796695416, std::nullopt, ""},
  };
  for (const auto& c : cases) {
    SystemInfo sys;
    decide_crash_time(c.crashtime, c.wall, sys);
    EXPECT_EQ(sys.crash_time, c.used) << c.why;
    if (*c.problem)
      EXPECT_NE(sys.crash_time_problem.find(c.problem), std::string::npos) << c.why << ": " << sys.crash_time_problem;
    else
      EXPECT_TRUE(sys.crash_time_problem.empty()) << c.why << ": " << sys.crash_time_problem;
  }
}

}  // namespace
}  // namespace kstuck
