// SPDX-License-Identifier: GPL-2.0
// PagedOrcTable: lookups equal the whole table's over many pages, and an unreadable page
// fails only the lookups that need it, with the page named.
#include "analysis/kernel/paged_orc_table.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/fake_target.h"
#include "tests/unit/orc_fixture.h"

namespace kstuck {
namespace {

constexpr uint64_t kIps = 0xffffffff82c00000ULL;      // page-aligned, as the test needs
constexpr uint64_t kEntries = 0xffffffff82e00000ULL;
constexpr uint64_t kText = 0xffffffff81000000ULL;
constexpr size_t kCount = 5000;  // 5 pages of ips, 8 of entries

// Slot i covers kText + 16 * i; its entry's sp_offset is 8 * (i % 1000 + 1).
struct Table {
  test::FakeTarget t;
  std::vector<std::byte> ip_bytes, entry_bytes;
  Table() {
    ip_bytes.resize(4 * kCount);
    for (size_t i = 0; i < kCount; ++i) {
      int32_t rel = int32_t(int64_t((kText + 16 * i) - (kIps + 4 * i)));
      std::memcpy(ip_bytes.data() + 4 * i, &rel, 4);
      auto e = test::encode_orc(
          test::OrcSpec2{int16_t(8 * (i % 1000 + 1)), kOrcRegSp, kOrcRegUndefined, OrcType::Call, false, 0},
          OrcFormat::V1);
      entry_bytes.insert(entry_bytes.end(), e.begin(), e.end());
    }
    // Each page its own region, so one can be taken away.
    for (uint64_t off = 0; off < ip_bytes.size(); off += 4096) {
      size_t n = std::min<size_t>(4096, ip_bytes.size() - off);
      t.map(kIps + off, 4096);
      t.write(kIps + off, ip_bytes.data() + off, n);
    }
    for (uint64_t off = 0; off < entry_bytes.size(); off += 4096) {
      size_t n = std::min<size_t>(4096, entry_bytes.size() - off);
      t.map(kEntries + off, 4096);
      t.write(kEntries + off, entry_bytes.data() + off, n);
    }
  }
};

TEST(PagedOrcTable, EveryLookupEqualsTheWholeTable) {
  Table x;
  PagedOrcTable paged(x.t, kIps, kEntries, kCount, OrcFormat::V1);
  OrcTable whole(x.ip_bytes, kIps, x.entry_bytes, OrcFormat::V1);
  ASSERT_EQ(paged.size(), whole.size());
  EXPECT_FALSE(paged.find(kText - 1));
  for (uint64_t ip = kText - 8; ip < kText + 16 * kCount + 64; ip += 7) {
    auto a = paged.find(ip), b = whole.find(ip);
    ASSERT_EQ(a.has_value(), b.has_value()) << std::hex << ip;
    if (a) {
      ASSERT_EQ(a->sp_offset, b->sp_offset) << std::hex << ip;
    }
  }
  EXPECT_EQ(paged.failed_lookups(), 0u);
  EXPECT_EQ(*paged.ip(kCount - 1), kText + 16 * (kCount - 1));
  EXPECT_FALSE(paged.ip(kCount));
}

TEST(PagedOrcTable, AnUnreadablePageFailsOnlyTheLookupsThatNeedIt) {
  Table x;
  // Entries of slots 2048..2730 live in the entry table's fourth page.
  x.t.unmap(kEntries + 3 * 4096);
  PagedOrcTable paged(x.t, kIps, kEntries, kCount, OrcFormat::V1);
  EXPECT_EQ(paged.find(kText + 16 * 10)->sp_offset, 8 * 11);
  EXPECT_FALSE(paged.find(kText + 16 * 2100));
  EXPECT_NE(paged.last_error().find("unreadable"), std::string::npos) << paged.last_error();
  EXPECT_EQ(paged.find(kText + 16 * 4000)->sp_offset, 8 * 1);
  EXPECT_TRUE(paged.last_error().empty());
  EXPECT_EQ(paged.failed_lookups(), 1u);
  EXPECT_NE(paged.first_error().find("0xffffffff82e03"), std::string::npos) << paged.first_error();
}

TEST(PagedOrcTable, ATableEndingInsideAPartlyMappedPageIsReadByTheByte) {
  test::FakeTarget t;
  // Three slots, mapped exactly: no whole page is readable.
  t.map(kIps, 12);
  t.map(kEntries, 18);
  for (int i = 0; i < 3; ++i) {
    t.write_u32(kIps + 4 * i, uint32_t(int32_t(int64_t((kText + 32 * i) - (kIps + 4 * i)))));
    auto e = test::encode_orc(test::OrcSpec2{int16_t(8 * (i + 1)), kOrcRegSp, kOrcRegUndefined, OrcType::Call, false, 0},
                              OrcFormat::V1);
    t.write(kEntries + 6 * i, e.data(), e.size());
  }
  PagedOrcTable paged(t, kIps, kEntries, 3, OrcFormat::V1);
  EXPECT_EQ(paged.find(kText + 40)->sp_offset, 16);
  EXPECT_EQ(paged.failed_lookups(), 0u);
}

}  // namespace
}  // namespace kstuck
