// SPDX-License-Identifier: GPL-2.0
// DumpFile's reads on the real makedumpfile -d 31 dump, in the order that broke
// libkdumpfile 0.5.1's page cache: present and excluded pages mixed at random
// (dump_file_read.cpp). Every present page must read the same bytes every time.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/kdump_target/compressed_pages.h"
#include "analysis/kdump_target/dump_file.h"
#include "tests/unit/dev_dump.h"

namespace kstuck {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kPage = 4096;

const fs::path kD31Dump = dev_dump::cache() / "dev" / "kdump-d31-6.1.vmcore";

struct PageCensus {
  std::vector<uint64_t> present;  // pfns, ascending
  std::vector<uint64_t> excluded;
  std::vector<size_t> digest;     // of each present page
};

size_t digest(std::span<const std::byte> page) {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(page.data()), page.size()));
}

// One pass in pfn order, the order libkdumpfile's cache never broke in, by libkdumpfile
// alone: the reference the other readings are held to.
PageCensus census(DumpFile& dump, uint64_t pfns) {
  dump.disable_direct_reads();
  PageCensus c;
  std::vector<std::byte> page(kPage);
  for (uint64_t pfn = 0; pfn < pfns; pfn++) {
    if (dump.read_phys(pfn * kPage, page)) {
      c.present.push_back(pfn);
      c.digest.push_back(digest(page));
    } else {
      c.excluded.push_back(pfn);
    }
  }
  return c;
}

// Where the page descriptors of a kdump-compressed file start: disk_dump_header has
// block_size at 428 (after signature, version, utsname, timestamp, status), sub_hdr_size
// at 432, bitmap_blocks at 436; the descriptors follow the header block, the sub-header
// and the two bitmaps: {offset u64, size u32, flags u32, page_flags u64}.
uint64_t descriptor_table(int fd) {
  unsigned char hdr[512];
  if (::pread(fd, hdr, sizeof(hdr), 0) != static_cast<ssize_t>(sizeof(hdr))) return 0;
  int32_t block_size, sub_hdr_size, bitmap_blocks;
  std::memcpy(&block_size, hdr + 428, 4);
  std::memcpy(&sub_hdr_size, hdr + 432, 4);
  std::memcpy(&bitmap_blocks, hdr + 436, 4);
  if (block_size != 4096) return 0;
  return static_cast<uint64_t>(1 + sub_hdr_size + bitmap_blocks) * block_size;
}

struct PageDescriptor {
  uint64_t data_off = 0;
  uint32_t data_size = 0, flags = 0;
};

// The index-th dumped page's descriptor.
PageDescriptor descriptor(int fd, uint64_t table, uint64_t index) {
  unsigned char desc[24];
  PageDescriptor d;
  if (::pread(fd, desc, sizeof(desc), static_cast<off_t>(table + index * 24)) != 24) return d;
  std::memcpy(&d.data_off, desc, 8);
  std::memcpy(&d.data_size, desc + 8, 4);
  std::memcpy(&d.flags, desc + 12, 4);
  return d;
}

// A copy of the -d 31 dump with size bytes at offset overwritten by garbage (0xa5);
// empty on failure.
fs::path garbled_copy(const char* name, uint64_t offset, uint32_t size) {
  fs::path copy = fs::path(::testing::TempDir()) / name;
  fs::copy_file(kD31Dump, copy, fs::copy_options::overwrite_existing);
  int out = ::open(copy.c_str(), O_WRONLY);
  if (out < 0) return {};
  std::vector<unsigned char> garbage(size, 0xa5);
  bool ok = ::pwrite(out, garbage.data(), garbage.size(), static_cast<off_t>(offset)) ==
            static_cast<ssize_t>(garbage.size());
  ::close(out);
  return ok ? copy : fs::path();
}

class PageGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kD31Dump)) GTEST_SKIP() << "no " << kD31Dump;
  }
};

TEST_F(PageGuard, MixedPresentAndExcludedReadsKeepEveryPageIntact) {
  auto reference = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(reference) << reference.error().message();
  // The guest had 1 GiB: 262144 page frames.
  PageCensus c = census(**reference, 262144);
  ASSERT_GT(c.present.size(), 10000u);
  ASSERT_GT(c.excluded.size(), 100000u);
  // By libkdumpfile alone, then with the pages read straight from the file.
  for (bool direct : {false, true}) {
  SCOPED_TRACE(direct ? "pages straight from the file" : "libkdumpfile alone");
  auto dump = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(dump) << dump.error().message();
  if (!direct) (*dump)->disable_direct_reads();
  std::mt19937_64 rng(1);
  std::vector<std::byte> page(kPage);
  int wrong = 0;
  for (int i = 0; i < 40000 && wrong < 5; i++) {
    if (rng() % 4 == 0) {
      uint64_t pfn = c.excluded[rng() % c.excluded.size()];
      auto r = (*dump)->read_phys(pfn * kPage, page);
      if (r || r.error().message().find("excluded") == std::string::npos) {
        ADD_FAILURE() << "excluded pfn " << pfn << ": " << (r ? "read" : r.error().message());
        wrong++;
      }
    } else {
      size_t k = rng() % c.present.size();
      auto r = (*dump)->read_phys(c.present[k] * kPage, page);
      if (!r || digest(page) != c.digest[k]) {
        ADD_FAILURE() << "read " << i << ", present pfn " << c.present[k] << ": "
                      << (r ? "other bytes than the first pass" : r.error().message());
        wrong++;
      }
    }
  }
  EXPECT_EQ((*dump)->reopens(), 0);
  EXPECT_TRUE((*dump)->read_problems().empty());
  EXPECT_EQ((*dump)->direct_pages() > 0, direct);
  }
}

// A page whose compressed data is garbage fails inside libkdumpfile: the dump is opened
// again, the page reads as corrupt every time, and the pages around it stay readable.
TEST_F(PageGuard, CorruptPageDataIsReportedAndTheRestStaysReadable) {
  auto clean = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(clean) << clean.error().message();
  PageCensus c = census(**clean, 262144);

  int in = ::open(kD31Dump.c_str(), O_RDONLY);
  ASSERT_GE(in, 0);
  uint64_t descs = descriptor_table(in);
  ASSERT_NE(descs, 0u);
  // The first zlib-compressed page from the 5000th dumped page on.
  size_t victim_index = 5000;
  uint64_t data_off = 0;
  uint32_t data_size = 0;
  for (; victim_index < c.present.size(); victim_index++) {
    PageDescriptor d = descriptor(in, descs, victim_index);
    data_off = d.data_off;
    data_size = d.data_size;
    if ((d.flags & 1) && d.data_size > 64) break;
  }
  ASSERT_LT(victim_index, c.present.size()) << "no zlib-compressed page";
  const size_t kVictim = victim_index;

  ::close(in);
  fs::path copy = garbled_copy("page-guard-corrupt.vmcore", data_off, data_size);
  ASSERT_FALSE(copy.empty());

  for (bool direct : {false, true}) {
  SCOPED_TRACE(direct ? "pages straight from the file" : "libkdumpfile alone");
  auto dump = DumpFile::open(copy.string());
  ASSERT_TRUE(dump) << dump.error().message();
  if (!direct) (*dump)->disable_direct_reads();
  uint64_t victim = c.present[kVictim];
  std::vector<std::byte> page(kPage);
  std::mt19937_64 rng(2);
  int wrong = 0;
  for (int i = 0; i < 20000 && wrong < 5; i++) {
    size_t k = (i % 50 == 0) ? kVictim : rng() % c.present.size();
    auto r = (*dump)->read_phys(c.present[k] * kPage, page);
    if (c.present[k] == victim) {
      if (r || r.error().message().find("corrupt") == std::string::npos) {
        ADD_FAILURE() << "the garbled page: " << (r ? "read" : r.error().message());
        wrong++;
      }
    } else if (!r || digest(page) != c.digest[k]) {
      ADD_FAILURE() << "read " << i << ", pfn " << c.present[k] << ": " << (r ? "other bytes" : r.error().message());
      wrong++;
    }
  }
  EXPECT_GT((*dump)->reopens(), 0);
  auto problems = (*dump)->read_problems();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems.front().find("corrupt page data"), std::string::npos) << problems.front();
  EXPECT_EQ((*dump)->direct_pages() > 0, direct);
  }
  fs::remove(copy);
}

// A VMCOREINFO number of the dump ("NUMBER(phys_base)" in decimal, KERNELOFFSET in hex).
uint64_t info(DumpFile& dump, const char* key, int base) {
  auto v = dump.vmcoreinfo(key);
  return v ? std::stoull(*v, nullptr, base) : 0;
}

// The kernel image's kallsyms names: 512 KB of present rodata from SYMBOL(kallsyms_names).
struct KernelRange {
  uint64_t va = 0, pa = 0;
  static constexpr size_t kSize = 512 * 1024;
};

KernelRange kallsyms_range(DumpFile& dump) {
  KernelRange r;
  r.va = info(dump, "SYMBOL(kallsyms_names)", 16) & ~(kPage - 1);
  // __pa_symbol(): the kernel image sits at phys_base in physical memory.
  r.pa = r.va - 0xffffffff80000000ULL + info(dump, "NUMBER(phys_base)", 10);
  return r;
}

// One read() of 512 KB (two contexts, two threads) equals 128 reads of a page each.
TEST_F(PageGuard, ALargeReadInTwoThreadsEqualsPageByPageReads) {
  auto dump = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(dump) << dump.error().message();
  KernelRange range = kallsyms_range(**dump);
  ASSERT_NE(range.va, 0u);
  std::vector<std::byte> whole(KernelRange::kSize), paged(KernelRange::kSize);
  ASSERT_TRUE((*dump)->read(range.va, whole));
  EXPECT_EQ((*dump)->parallel_reads(), 1);
  for (size_t off = 0; off < paged.size(); off += kPage)
    ASSERT_TRUE((*dump)->read(range.va + off, std::span(paged).subspan(off, kPage)));
  EXPECT_TRUE(whole == paged);
  // The translation the next test relies on.
  std::vector<std::byte> phys(kPage);
  ASSERT_TRUE((*dump)->read_phys(range.pa, phys));
  EXPECT_TRUE(std::equal(phys.begin(), phys.end(), whole.begin()));
}

// A corrupt page in the half the second thread reads: the read fails on that page with
// the library's reason, the damage is reported, and every other page reads as before.
TEST_F(PageGuard, ACorruptPageInTheSecondThreadsHalfIsReadAgainAndReported) {
  auto clean = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(clean) << clean.error().message();
  KernelRange range = kallsyms_range(**clean);
  std::vector<std::byte> expected(KernelRange::kSize);
  ASSERT_TRUE((*clean)->read(range.va, expected));
  PageCensus c = census(**clean, 262144);

  int in = ::open(kD31Dump.c_str(), O_RDONLY);
  ASSERT_GE(in, 0);
  uint64_t descs = descriptor_table(in);
  ASSERT_NE(descs, 0u);
  // The first zlib page of the range's last quarter (the second thread reads the back half).
  uint64_t victim_pfn = 0, data_off = 0;
  uint32_t data_size = 0;
  for (uint64_t pfn = range.pa / kPage + 96; pfn < range.pa / kPage + 128 && !victim_pfn; pfn++) {
    auto it = std::lower_bound(c.present.begin(), c.present.end(), pfn);
    ASSERT_TRUE(it != c.present.end() && *it == pfn) << "kernel image page " << pfn << " not in the dump";
    PageDescriptor d = descriptor(in, descs, it - c.present.begin());
    data_off = d.data_off;
    data_size = d.data_size;
    if ((d.flags & 1) && d.data_size > 64) victim_pfn = pfn;
  }
  ASSERT_NE(victim_pfn, 0u) << "no zlib page in the range's last quarter";
  ::close(in);
  fs::path copy = garbled_copy("parallel-read-corrupt.vmcore", data_off, data_size);
  ASSERT_FALSE(copy.empty());

  auto dump = DumpFile::open(copy.string());
  ASSERT_TRUE(dump) << dump.error().message();
  uint64_t victim_va = range.va + (victim_pfn * kPage - range.pa);
  std::vector<std::byte> got(KernelRange::kSize);
  auto r = (*dump)->read(range.va, got);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().address(), std::optional<uint64_t>(victim_va)) << r.error().message();
  EXPECT_NE(r.error().message().find("corrupt"), std::string::npos) << r.error().message();
  EXPECT_EQ((*dump)->parallel_reads(), 1);
  auto problems = (*dump)->read_problems();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems.front().find("corrupt page data"), std::string::npos) << problems.front();
  // Before the victim in one large read, after it page by page: the bytes of the clean dump.
  size_t before = victim_va - range.va;
  ASSERT_TRUE((*dump)->read(range.va, std::span(got).first(before)));
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + before, expected.begin()));
  for (size_t off = before + kPage; off < got.size(); off += kPage) {
    ASSERT_TRUE((*dump)->read(range.va + off, std::span(got).subspan(off, kPage)));
    ASSERT_TRUE(std::equal(got.begin() + off, got.begin() + off + kPage, expected.begin() + off)) << off;
  }
  fs::remove(copy);
}

// Every page the -d 31 dump holds, read straight from the file and inflated with
// libdeflate, is the page libkdumpfile reads: the n-th page present is the n-th
// descriptor's, and each comes out whole.
TEST_F(PageGuard, EveryPageReadStraightFromTheFileIsLibkdumpfilesPage) {
  auto dump = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(dump) << dump.error().message();
  PageCensus c = census(**dump, 262144);
  ASSERT_GT(c.present.size(), 1000u);
  int in = ::open(kD31Dump.c_str(), O_RDONLY);
  ASSERT_GE(in, 0);
  uint64_t descs = descriptor_table(in);
  ASSERT_NE(descs, 0u);
  CompressedPages direct(in, descs, c.present.size(), fs::file_size(kD31Dump), kPage);
  PageInflater inflater;
  std::vector<uint64_t> indexes(c.present.size());
  for (size_t i = 0; i < indexes.size(); i++) indexes[i] = i;
  std::vector<std::byte> all(indexes.size() * kPage);
  std::vector<std::span<std::byte>> pages;
  for (size_t i = 0; i < indexes.size(); i++) pages.push_back(std::span(all).subspan(i * kPage, kPage));
  std::unique_ptr<bool[]> ok(new bool[indexes.size()]());
  direct.read(indexes, pages, std::span(ok.get(), indexes.size()), inflater);
  size_t read = 0;
  for (size_t i = 0; i < indexes.size(); i++) {
    if (!ok[i]) continue;
    read++;
    ASSERT_EQ(digest(pages[i]), c.digest[i]) << "pfn " << c.present[i];
  }
  EXPECT_EQ(read, indexes.size());
  // Past the table: not read, and nothing else.
  uint64_t past = c.present.size();
  bool none = true;
  direct.read(std::span(&past, 1), std::span(pages).first(1), std::span(&none, 1), inflater);
  EXPECT_FALSE(none);
  ::close(in);
}

// A large read takes the pages straight from the file, and gives the bytes libkdumpfile's
// page-by-page reads give.
TEST_F(PageGuard, ALargeReadTakesItsPagesStraightFromTheFile) {
  auto dump = DumpFile::open(kD31Dump.string());
  ASSERT_TRUE(dump) << dump.error().message();
  ASSERT_TRUE((*dump)->direct_reads_on());
  KernelRange range = kallsyms_range(**dump);
  // Not page-aligned at either end: the partial pages are inflated whole, then cut.
  std::vector<std::byte> whole(KernelRange::kSize - 3000), paged(KernelRange::kSize - 3000);
  ASSERT_TRUE((*dump)->read(range.va + 1000, whole));
  EXPECT_EQ((*dump)->direct_pages(), 128u);
  EXPECT_TRUE((*dump)->direct_reads_on());
  (*dump)->disable_direct_reads();  // the reference: libkdumpfile's reading
  for (size_t off = 0; off < paged.size(); off += 1000)
    ASSERT_TRUE((*dump)->read(range.va + 1000 + off, std::span(paged).subspan(off, std::min<size_t>(1000, paged.size() - off))));
  EXPECT_TRUE(whole == paged);
}

}  // namespace
}  // namespace kstuck
