// SPDX-License-Identifier: GPL-2.0
// Tests of how the dump's own problems reach the hang, xcall and mutex reports (warnings, partial, exit codes).
#include "cli/commands/dump_problems.h"

#include <gtest/gtest.h>

namespace kstuck::cli {
namespace {

TEST(DumpProblems, ATruncatedDumpMakesTheReportPartial) {
  DumpInfo info;
  info.build_id_matches = true;
  info.notes = {"dump truncated: the file ends at byte 4096 but its pages extend to 8192"};
  DumpProblems p = dump_problems(info);
  EXPECT_TRUE(p.degraded);
  ASSERT_EQ(p.lines.size(), 1u);
  EXPECT_EQ(p.lines[0], "dump: dump truncated: the file ends at byte 4096 but its pages extend to 8192");
  std::string text = partial_text(p.lines, p.degraded);
  EXPECT_NE(text.find("warning: dump: dump truncated"), std::string::npos) << text;
  EXPECT_NE(text.find("note: partial result"), std::string::npos) << text;
}

TEST(DumpProblems, AForcedBuildIdMismatchMakesTheReportPartial) {
  DumpInfo info;
  info.build_id_matches = false;
  info.notes = {"vmlinux/dump mismatch ignored (--force)"};
  DumpProblems p = dump_problems(info);
  EXPECT_TRUE(p.degraded);
  EXPECT_EQ(p.lines.size(), 1u);  // said once
  info.notes.clear();
  p = dump_problems(info);
  EXPECT_TRUE(p.degraded);
  ASSERT_EQ(p.lines.size(), 1u);
  EXPECT_NE(p.lines[0].find("does not match"), std::string::npos);
}

TEST(DumpProblems, QemusEmptyUtsnameIsAQuirkNotADegradation) {
  DumpInfo info;
  info.build_id_matches = true;
  info.notes = {"dump header has an empty utsname (QEMU dump-guest-memory): architecture set to x86_64"};
  DumpProblems p = dump_problems(info);
  EXPECT_FALSE(p.degraded);
  EXPECT_TRUE(p.lines.empty());
  EXPECT_EQ(partial_text({}, false), "");
}

TEST(DumpProblems, ExitCodesAreDistinct) {
  EXPECT_EQ(kExitComplete, 0);
  EXPECT_EQ(kExitUnusable, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitPartial, 3);
}

}  // namespace
}  // namespace kstuck::cli
