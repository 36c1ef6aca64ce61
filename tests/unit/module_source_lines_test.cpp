// SPDX-License-Identifier: GPL-2.0
// Module frames to file:line: the .ko reader on bad files, and the dev dump's scenario module.
#include "analysis/kdump_target/module_source_lines.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/dev_dump.h"

#include "analysis/kdump_target/kdump_target.h"
#include "analysis/kdump_target/module_object.h"
#include "analysis/kernel/kernel_model.h"
#include "analysis/report/analyze_report.h"
#include "tests/unit/fake_target.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

// struct module's name in the fixture (tests/unit/module_object_fixture.c).
constexpr uint64_t kFixtureNameOffset = 24, kFixtureNameSize = 56;

fs::path scratch_dir(const std::string& name) {
  fs::path dir = fs::path(testing::TempDir()) / "kstuck_module_source_lines_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
}

void expect_one_line_naming(const Error& e, const fs::path& path) {
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(path.string()), std::string::npos) << e.message();
}

// --- the .ko reader, on a relocatable object built with the tests ---

TEST(ModuleObject, ReadsNameModinfoAndFunctions) {
  auto o = ModuleObject::open(KSTUCK_MODULE_FIXTURE, kFixtureNameOffset, kFixtureNameSize);
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_EQ(o->name(), "kstuck_fixture");
  EXPECT_EQ(o->modinfo_name(), "kstuck_fixture");
  auto step = o->functions_named("kstuck_fixture_step");
  ASSERT_EQ(step.size(), 1u);
  const auto& f = o->functions()[step[0]];
  ASSERT_LT(f.section, o->sections().size());
  EXPECT_EQ(o->sections()[f.section].name.rfind(".text", 0), 0u) << o->sections()[f.section].name;
  EXPECT_GT(f.size, 0u);
  EXPECT_TRUE(o->functions_named("kstuck_fixture_counter").empty());  // an object, not a function
}

TEST(ModuleObject, RefusesWhatIsNoModule) {
  fs::path dir = scratch_dir("no-module");
  write_file(dir / "text.ko", "just some text\n");
  struct Case {
    fs::path path;
    ErrorKind kind;
    const char* words;
  } cases[] = {
      {dir / "missing.ko", ErrorKind::Os, "No such file"},
      {dir / "text.ko", ErrorKind::Format, "not an ELF file"},
      {fs::read_symlink("/proc/self/exe"), ErrorKind::Format, "not a relocatable object"},
      {dir, ErrorKind::Invalid, "not a regular file"},
  };
  for (const auto& c : cases) {
    auto o = ModuleObject::open(c.path, kFixtureNameOffset, kFixtureNameSize);
    ASSERT_FALSE(o) << c.path;
    EXPECT_EQ(o.error().kind(), c.kind) << o.error().describe();
    EXPECT_NE(o.error().message().find(c.words), std::string::npos) << o.error().describe();
    expect_one_line_naming(o.error(), c.path);
  }
  // A name offset past the end of .gnu.linkonce.this_module (another struct module layout).
  auto o = ModuleObject::open(KSTUCK_MODULE_FIXTURE, 4096, kFixtureNameSize);
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message().find("too short"), std::string::npos) << o.error().describe();
}

// Every prefix of a real object is an error (the section headers sit at its end), never
// a crash or a read past the file (ASan watches).
TEST(ModuleObject, TruncatedObjectIsAnErrorAtEveryLength) {
  std::string bytes = read_file(KSTUCK_MODULE_FIXTURE);
  ASSERT_GT(bytes.size(), 1000u);
  fs::path cut = scratch_dir("truncated") / "kstuck_fixture.ko";
  size_t step = std::max<size_t>(1, bytes.size() / 400);
  for (size_t n = 0; n < bytes.size(); n += (n < 128 ? 1 : step)) {
    write_file(cut, std::string_view(bytes).substr(0, n));
    auto o = ModuleObject::open(cut, kFixtureNameOffset, kFixtureNameSize);
    ASSERT_FALSE(o) << "accepted the first " << n << " of " << bytes.size() << " bytes";
    expect_one_line_naming(o.error(), cut);
  }
}

TEST(ModuleObject, GarbageAfterAnElfHeaderIsAnError) {
  std::string bytes = read_file(KSTUCK_MODULE_FIXTURE);
  fs::path bad = scratch_dir("garbage") / "kstuck_fixture.ko";
  std::mt19937 rng(7);
  for (int round = 0; round < 200; round++) {
    std::string damaged = bytes;
    // Keep the ELF header (or the file is refused at once) and scramble some bytes after it.
    for (int i = 0; i < 16; i++) damaged[64 + rng() % (damaged.size() - 64)] = char(rng());
    write_file(bad, damaged);
    auto o = ModuleObject::open(bad, kFixtureNameOffset, kFixtureNameSize);
    if (!o) expect_one_line_naming(o.error(), bad);  // success is fine where only code bytes changed
  }
}

// --- the whole path on a synthetic dump: the fixture "loaded" at a kernel address ---

// Line numbers of a function of the fixture's source: [its first line, its last line].
std::pair<int, int> fixture_function_lines(std::string_view signature) {
  std::ifstream in(fs::path(KSTUCK_SOURCE_DIR) / "tests/unit/module_object_fixture.c");
  std::string line;
  int first = 0;
  for (int n = 1; std::getline(in, line); n++) {
    if (!first && line.find(signature) != std::string::npos) first = n;
    if (first && line == "}") return {first, n};
  }
  return {0, 0};
}

// The fixture's functions laid out the way the kernel loads a module: each section with
// functions at its own address inside [base, base+size), kallsyms copied with st_shndx.
class FakeLoadedModule : public testing::Test {
 protected:
  static constexpr uint64_t kStruct = 0xffff888000200000, kBase = 0xffffffffc0100000, kSize = 0x20000;
  static constexpr uint64_t kSymtab = 0xffff888000300000, kStrtab = 0xffff888000310000;

  void SetUp() override {
    auto o = ModuleObject::open(KSTUCK_MODULE_FIXTURE, kFixtureNameOffset, kFixtureNameSize);
    ASSERT_TRUE(o) << o.error().describe();
    object_ = std::make_unique<ModuleObject>(std::move(*o));
    target_.add_struct("module", 0x400, {{"name", kFixtureNameOffset, kFixtureNameSize}});
    dir_ = scratch_dir("fake-" + std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::copy_file(KSTUCK_MODULE_FIXTURE, dir_ / "kstuck_fixture.ko");
    uint64_t next = kBase;
    for (const auto& f : object_->functions())
      if (!placed_.count(f.section)) {
        placed_[f.section] = next;
        next += (object_->sections()[f.section].size + 0xfff) & ~0xfffull;
      }
    ASSERT_LE(next, kBase + kSize);
  }

  // Writes the module's kallsyms; shift moves one function to a wrong place.
  void load(std::string name = "kstuck_fixture", std::string_view moved = {}, uint64_t shift = 0) {
    target_.map(kSymtab, 24 * (object_->functions().size() + 1));
    target_.map(kStrtab, 0x10000);
    uint64_t sym = kSymtab + 24, str = 1;  // entry 0 and string 0 stay empty, as in the kernel
    for (const auto& f : object_->functions()) {
      target_.write_u32(sym, uint32_t(str));
      target_.write_u8(sym + 4, 0x12);  // STB_GLOBAL, STT_FUNC
      target_.write_u16(sym + 6, uint16_t(f.section));
      target_.write_u64(sym + 8, placed_[f.section] + f.offset + (f.name == moved ? shift : 0));
      target_.write_u64(sym + 16, f.size);
      target_.write_string(kStrtab + str, f.name);
      str += f.name.size() + 1;
      sym += 24;
    }
    ModuleInfo m;
    m.address = kStruct;
    m.name = std::move(name);
    m.base = kBase;
    m.size = m.text_size = kSize;
    m.symtab = kSymtab;
    m.num_symtab = object_->functions().size() + 1;
    m.strtab = kStrtab;
    modules_.modules = {m};
  }

  uint64_t address_of(std::string_view function, uint64_t offset = 0) {
    auto i = object_->functions_named(function);
    if (i.size() != 1) return 0;
    const auto& f = object_->functions()[i[0]];
    return placed_[f.section] + f.offset + offset;
  }

  test::FakeTarget target_;
  std::unique_ptr<ModuleObject> object_;
  std::map<uint32_t, uint64_t> placed_;
  ModuleSet modules_;
  fs::path dir_;
};

// Every byte of two functions maps to a line of that function in the fixture's source:
// a wrong section address would land in the other function, or nowhere.
TEST_F(FakeLoadedModule, EveryAddressOfAFunctionHasALineOfThatFunction) {
  load();
  ModuleSourceLines lines(target_, modules_, {dir_.string()});
  for (const char* name : {"kstuck_fixture_step", "kstuck_fixture_loop"}) {
    auto [first, last] = fixture_function_lines(std::string("int ") + name + "(int");
    ASSERT_GT(first, 0) << name;
    const auto& f = object_->functions()[object_->functions_named(name).at(0)];
    std::set<int> seen;
    for (uint64_t off = 0; off < f.size; off++) {
      auto at = lines.at(address_of(name, off));
      ASSERT_TRUE(at) << name << "+" << off << ": " << at.error().describe();
      auto colon = at->rfind(':');
      ASSERT_NE(colon, std::string::npos) << *at;
      EXPECT_TRUE(at->ends_with("tests/unit/module_object_fixture.c:" + at->substr(colon + 1))) << *at;
      int line = std::stoi(at->substr(colon + 1));
      EXPECT_GE(line, first) << name << "+" << off << " -> " << *at;
      EXPECT_LE(line, last) << name << "+" << off << " -> " << *at;
      seen.insert(line);
    }
    EXPECT_GE(seen.size(), 2u) << name;
  }
  EXPECT_TRUE(lines.problems().empty()) << lines.problems().front();
  EXPECT_FALSE(lines.at(kBase + kSize));  // past the module
}

TEST_F(FakeLoadedModule, AFunctionAtAnotherOffsetRefusesTheKo) {
  load("kstuck_fixture", "kstuck_fixture_loop", 0x10);
  ModuleSourceLines lines(target_, modules_, {dir_.string()});
  EXPECT_FALSE(lines.at(address_of("kstuck_fixture_step")));
  auto problems = lines.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("is not the dumped kstuck_fixture: function kstuck_fixture_loop is at .text+0x"),
            std::string::npos)
      << problems[0];
  EXPECT_TRUE(problems[0].ends_with("; not used")) << problems[0];
}

TEST_F(FakeLoadedModule, AnotherModulesKoUnderThisNameIsRefused) {
  load("kstuck_other");
  fs::copy_file(dir_ / "kstuck_fixture.ko", dir_ / "kstuck-other.ko");  // '-' reads as '_'
  ModuleSourceLines lines(target_, modules_, {dir_.string()});
  EXPECT_FALSE(lines.at(address_of("kstuck_fixture_step")));
  auto problems = lines.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "--module-dir: kstuck_other: " + (dir_ / "kstuck-other.ko").string() +
                             " is not the dumped kstuck_other: it is module kstuck_fixture; not used");
}

// --- the dev dump: kstuck_scenario loaded, CPU 3 spinning with IRQs off ---

const fs::path kSource = KSTUCK_SOURCE_DIR;
const fs::path kCache = dev_dump::cache();
const fs::path kDevDump = dev_dump::foundation_dump();
const fs::path kDevConsole = dev_dump::foundation_console();

std::map<std::string, std::string> dev_truth() { return dev_dump::truth(kDevConsole); }

// The line numbers of the spin loop in the scenario's source: found, not hard-coded,
// so an edit of the scenario cannot leave the test checking a stale number.
std::vector<int> spin_loop_lines() {
  std::ifstream in(kSource / "tests/vm/scenarios/kstuck_scenario.c");
  std::string line;
  std::vector<int> out;
  bool in_spin = false;
  for (int n = 1; std::getline(in, line); n++) {
    if (line.find("void kstuck_scenario_irqoff_spin(void)") != std::string::npos) in_spin = true;
    if (in_spin && line.find("while (ktime_get_mono_fast_ns() < end") != std::string::npos) out.push_back(n);
    if (in_spin && !out.empty() && line.find("cpu_relax();") != std::string::npos) {
      out.push_back(n);
      break;
    }
  }
  return out;
}

class DevDump : public testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDevDump) || !fs::exists(kCache / "kernel"))
      GTEST_SKIP() << "no dev dump " << kDevDump << " (tests/run writes it)";
    for (const auto& d : fs::directory_iterator(kCache / "kernel")) {
      auto t = KdumpTarget::open(kDevDump, {(d.path() / "vmlinux").string(), false});
      if (t) {
        target_ = std::move(*t);
        break;
      }
    }
    ASSERT_TRUE(target_) << "no vmlinux under " << kCache / "kernel" << " matches the dev dump";
    auto model = KernelModel::load(*target_);
    ASSERT_TRUE(model) << model.error().describe();
    model_ = std::move(*model);
    scenarios_ = kSource / "build" / "scenarios" / target_->info().release;
    ASSERT_TRUE(fs::exists(scenarios_ / "kstuck_scenario.ko")) << scenarios_;
    auto truth = dev_truth();
    ASSERT_TRUE(truth.count("irqoff_spinner.cpu")) << kDevConsole;
    int cpu = std::stoi(truth["irqoff_spinner.cpu"]);
    ReportStack stack = make_report_stack(*model_, model_->cpu_stack(cpu));
    for (const auto& f : stack.frames)
      if (f.module == "kstuck_scenario") {
        spin_ = f;
        break;
      }
    ASSERT_EQ(spin_.function, "kstuck_scenario_irqoff_spin") << "cpu " << cpu;
  }
  // The address annotate_sources looks up: the call for a return address.
  uint64_t spin_lookup() const { return spin_.exact ? spin_.ip : spin_.ip - 1; }
  ModuleSourceLines lines_in(const fs::path& dir) {
    return ModuleSourceLines(*target_, model_->modules(), {dir.string()});
  }

  std::unique_ptr<KdumpTarget> target_;
  std::unique_ptr<KernelModel> model_;
  fs::path scenarios_;
  ReportFrame spin_;
};

TEST_F(DevDump, SpinnerFrameHasTheLoopsLine) {
  auto expected = spin_loop_lines();
  ASSERT_EQ(expected.size(), 2u) << "the spin loop moved in kstuck_scenario.c";
  ModuleSourceLines lines = lines_in(scenarios_);
  auto at = lines.at(spin_lookup());
  ASSERT_TRUE(at) << at.error().describe();
  // A return address is the loop's call of ktime_get_mono_fast_ns(); a CPU stopped in the
  // function itself is on the loop's condition or its cpu_relax().
  std::string want = "kstuck_scenario.c:" + std::to_string(expected[0]);
  if (spin_.exact && *at != want) want = "kstuck_scenario.c:" + std::to_string(expected[1]);
  EXPECT_EQ(*at, want) << "frame " << spin_.symbol << (spin_.exact ? " (exact)" : "");
  EXPECT_TRUE(lines.problems().empty()) << lines.problems().front();
  // The search is recursive: the parent of the kernel's directory finds the same file.
  ModuleSourceLines from_parent = lines_in(scenarios_.parent_path());
  auto again = from_parent.at(spin_lookup());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(*again, *at);
}

TEST_F(DevDump, AnotherModuleRenamedIsRefused) {
  fs::path dir = scratch_dir("renamed");
  fs::copy_file(scenarios_ / "kstuck_scenario_abba.ko", dir / "kstuck_scenario.ko");
  ModuleSourceLines lines = lines_in(dir);
  EXPECT_FALSE(lines.at(spin_lookup()));
  auto problems = lines.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "--module-dir: kstuck_scenario: " + (dir / "kstuck_scenario.ko").string() +
                             " is not the dumped kstuck_scenario: it is module kstuck_scenario_abba; not used");
}

// Same name, other code: only the kallsyms comparison can tell. The abba module with its
// name bytes rewritten to "kstuck_scenario" (NUL-padded, same length).
TEST_F(DevDump, SameNameOtherBuildIsRefusedBySymbols) {
  std::string bytes = read_file(scenarios_ / "kstuck_scenario_abba.ko");
  const std::string from("kstuck_scenario_abba\0", 21), to("kstuck_scenario\0\0\0\0\0\0", 21);
  int renamed = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1), renamed++)
    bytes.replace(at, from.size(), to);
  ASSERT_GE(renamed, 2);  // .gnu.linkonce.this_module and modinfo name=
  fs::path dir = scratch_dir("same-name");
  write_file(dir / "kstuck_scenario.ko", bytes);
  auto name = target_->member("module", "name");
  ASSERT_TRUE(name) << name.error().describe();
  auto object = ModuleObject::open(dir / "kstuck_scenario.ko", name->offset, name->size);
  ASSERT_TRUE(object) << object.error().describe();
  ASSERT_EQ(object->name(), "kstuck_scenario");

  ModuleSourceLines lines = lines_in(dir);
  EXPECT_FALSE(lines.at(spin_lookup()));
  auto problems = lines.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find(" is not the dumped kstuck_scenario: function "), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("; not used"), std::string::npos) << problems[0];
}

TEST_F(DevDump, TruncatedKoIsAProblemNotACrash) {
  std::string bytes = read_file(scenarios_ / "kstuck_scenario.ko");
  fs::path dir = scratch_dir("truncated-ko");
  for (size_t n : {size_t(0), size_t(63), size_t(64), bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    write_file(dir / "kstuck_scenario.ko", std::string_view(bytes).substr(0, n));
    ModuleSourceLines lines = lines_in(dir);
    EXPECT_FALSE(lines.at(spin_lookup())) << n;
    auto problems = lines.problems();
    ASSERT_EQ(problems.size(), 1u) << n;
    EXPECT_EQ(problems[0].rfind("--module-dir: kstuck_scenario: " + (dir / "kstuck_scenario.ko").string() + ": ", 0),
              0u)
        << problems[0];
  }
}

TEST_F(DevDump, MissingOrCompressedKoIsAProblem) {
  fs::path dir = scratch_dir("missing");
  ModuleSourceLines none = lines_in(dir);
  EXPECT_FALSE(none.at(spin_lookup()));
  ASSERT_EQ(none.problems().size(), 1u);
  EXPECT_EQ(none.problems()[0], "--module-dir: kstuck_scenario: no kstuck_scenario.ko found");

  write_file(dir / "kstuck_scenario.ko.xz", "");
  ModuleSourceLines compressed = lines_in(dir);
  EXPECT_FALSE(compressed.at(spin_lookup()));
  ASSERT_EQ(compressed.problems().size(), 1u);
  EXPECT_NE(compressed.problems()[0].find("kstuck_scenario.ko.xz is compressed"), std::string::npos)
      << compressed.problems()[0];
}

}  // namespace
}  // namespace kstuck
