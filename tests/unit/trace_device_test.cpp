// SPDX-License-Identifier: GPL-2.0
// Unit tests of the CLI's tracing helpers: probe spec parsing and kallsyms naming.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cli/trace/trace_device.h"

namespace kstuck::cli {
namespace {

TEST(ProbeSpecs, SplitsCommasAndDefaultsToFbt) {
  auto s = parse_probe_specs({"fbt:[a-m]*,syscall:openat", "vfs_read"});
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->items.size(), 3u);
  EXPECT_EQ(s->items[0], "fbt:[a-m]*");
  EXPECT_EQ(s->items[1], "syscall:openat");
  EXPECT_EQ(s->items[2], "fbt:vfs_read");
  const char want[] = "fbt:[a-m]*\0syscall:openat\0fbt:vfs_read\0";
  EXPECT_EQ(s->joined(), std::string(want, sizeof(want) - 1));
}

TEST(ProbeSpecs, RejectsUnknownProviderEmptyAndTooLong) {
  EXPECT_FALSE(parse_probe_specs({"kprobe:foo"}));
  EXPECT_FALSE(parse_probe_specs({"fbt:"}));
  EXPECT_FALSE(parse_probe_specs({",,"}));
  EXPECT_FALSE(parse_probe_specs({}));
  EXPECT_FALSE(parse_probe_specs({"fbt:" + std::string(KSTUCK_TRACE_GLOB_MAX, 'a')}));
  EXPECT_TRUE(parse_probe_specs({"fbt:" + std::string(KSTUCK_TRACE_GLOB_MAX - 1, 'a')}));
}

class Kallsyms : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "kstuck_kallsyms_test";
    std::ofstream out(path_);
    out << "ffffffff81000000 T _stext\n"
           "ffffffff81001000 T vfs_read\n"
           "ffffffff81001200 t ksys_read\n"
           "ffffffff81002000 D some_data\n"
           "ffffffffc0000000 t kstuck_fn\t[kstuck]\n"
           "0000000000000000 T hidden\n"
           "garbage line\n";
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(Kallsyms, NamesFunctionsCallersAndModules) {
  auto idx = KallsymsIndex::load(path_);
  ASSERT_TRUE(idx) << idx.error().message();
  EXPECT_EQ(idx->name(0xffffffff81001000), "vfs_read");
  EXPECT_EQ(idx->name(0xffffffff81001004), "vfs_read");  // fentry after endbr64
  EXPECT_EQ(idx->name(0xffffffff8100126b, true), "ksys_read+0x6b");
  EXPECT_EQ(idx->name(0xffffffffc0000010, true), "kstuck_fn+0x10 [kstuck]");
  EXPECT_EQ(idx->name(0xffffffffc0000000), "kstuck_fn [kstuck]");
  // Data symbols are not functions: an address in them names the text before.
  EXPECT_EQ(idx->name(0xffffffff81002000, true), "ksys_read+0xe00");
  EXPECT_EQ(idx->name(0x1000), "0x1000");
}

TEST(KallsymsMissing, IsAnError) { EXPECT_FALSE(KallsymsIndex::load("/nonexistent/kallsyms")); }

}  // namespace
}  // namespace kstuck::cli
