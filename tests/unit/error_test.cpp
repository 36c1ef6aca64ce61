// SPDX-License-Identifier: GPL-2.0
// Error keeps its kind and address while context is added.
#include "analysis/error.h"

#include <gtest/gtest.h>

namespace kstuck {
namespace {

Result<int> read_something() { return fail(ErrorKind::Fault, "page excluded from dump", 0xffff888000001000ULL); }

TEST(Error, ContextIsPrefixedAndAddressKept) {
  auto r = read_something();
  ASSERT_FALSE(r);
  Error e = r.error().with_context("cpu 3").with_context("call_single_queue");
  EXPECT_EQ(e.kind(), ErrorKind::Fault);
  EXPECT_EQ(e.message(), "call_single_queue: cpu 3: page excluded from dump");
  EXPECT_EQ(e.describe(), "call_single_queue: cpu 3: page excluded from dump (address 0xffff888000001000)");
}

TEST(Error, KindNames) {
  EXPECT_STREQ(error_kind_name(ErrorKind::NotFound), "not found");
  EXPECT_STREQ(error_kind_name(ErrorKind::Format), "format");
}

}  // namespace
}  // namespace kstuck
