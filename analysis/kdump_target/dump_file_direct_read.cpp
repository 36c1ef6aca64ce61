// SPDX-License-Identifier: GPL-2.0
// DumpFile's large reads of a kdump-compressed file: the pages read straight from the
// file and inflated with libdeflate (compressed_pages.h), in as many threads as there
// are CPUs (up to 4). Only pages the guard found readable are read this way; a page
// that does not come out is read again by libkdumpfile (read_page()), which reports
// damage the one way. The first page read so is also read by libkdumpfile and compared:
// a dump this reading does not understand gets libkdumpfile's reads only.
#include <libkdumpfile/kdumpfile.h>

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>

#include "analysis/kdump_target/bit_count.h"
#include "analysis/kdump_target/dump_file.h"

namespace kstuck {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kRankBlock = 4096;  // page frames counted at a time (512 bytes of bitmap)
constexpr unsigned kMaxThreads = 4;
// Pages read one at a time (task structs, stacks, ORC) are read again and again: 2 MB of
// them are kept (slot = pfn modulo the count), as libkdumpfile keeps its own.
constexpr size_t kDirectCachePages = 512;

// Set bits among bits [first, first + n) of the bitmap, n a multiple of 8 and first too:
// whole bytes, whatever order the library packs bits in.
std::optional<uint64_t> count_set(_kdump_bmp* bmp, uint64_t first, uint64_t n) {
  unsigned char raw[kRankBlock / 8];
  uint64_t count = 0;
  for (uint64_t done = 0; done < n;) {
    uint64_t bits = std::min<uint64_t>(n - done, kRankBlock);
    if (kdump_bmp_get_bits(bmp, first + done, first + done + bits - 1, raw) != KDUMP_OK) return std::nullopt;
    count += count_set_bits(raw, bits / 8);
    done += bits;
  }
  return count;
}

}  // namespace

std::optional<uint64_t> DumpFile::dumped_index(uint64_t pfn) {
  if (!pagemap_ || pfn >= max_pfn_) return std::nullopt;
  uint64_t block = pfn / kRankBlock;
  if (rank_.empty()) rank_.push_back(0);
  while (rank_.size() <= block) {
    auto n = count_set(pagemap_, (rank_.size() - 1) * kRankBlock, kRankBlock);
    if (!n) return std::nullopt;
    rank_.push_back(rank_.back() + *n);
  }
  uint64_t start = block * kRankBlock, whole = (pfn - start) / 8 * 8;
  auto n = count_set(pagemap_, start, whole);
  if (!n) return std::nullopt;
  uint64_t index = rank_[block] + *n;
  for (uint64_t f = start + whole; f < pfn; f++) {
    unsigned char bit = 0;
    if (kdump_bmp_get_bits(pagemap_, f, f, &bit) != KDUMP_OK) return std::nullopt;
    index += bit & 1;
  }
  return index;
}

bool DumpFile::direct_agrees(uint64_t pfn, std::span<const std::byte> page) {
  if (direct_checked_) return !direct_off_;
  direct_checked_ = true;
  std::vector<std::byte> theirs(kPageSize);
  size_t len = theirs.size();
  if (kdump_read(ctx_, KDUMP_KPHYSADDR, pfn * kPageSize, theirs.data(), &len) == KDUMP_OK &&
      std::equal(theirs.begin(), theirs.end(), page.begin(), page.end()))
    return true;
  // A failed read there is left to read_page() to report, and to reopen the context for.
  direct_off_ = true;
  notes_.push_back("the dump's pages read straight from the file differ from libkdumpfile's: left to libkdumpfile");
  return false;
}

const std::byte* DumpFile::direct_page(uint64_t pfn) {
  if (!direct_ || direct_off_) return nullptr;
  if (!page_cache_) {
    page_cache_ = std::make_unique_for_overwrite<std::byte[]>(kDirectCachePages * kPageSize);
    page_cache_pfn_.assign(kDirectCachePages, UINT64_MAX);
    inflater_ = std::make_unique<PageInflater>();
  }
  size_t slot = pfn % kDirectCachePages;
  std::span<std::byte> page(page_cache_.get() + slot * kPageSize, kPageSize);
  if (page_cache_pfn_[slot] == pfn) return page.data();
  page_cache_pfn_[slot] = UINT64_MAX;
  auto index = dumped_index(pfn);
  if (!index) return nullptr;
  bool ok = false;
  const std::span<std::byte> pages[] = {page};
  direct_->read(std::span(&*index, 1), pages, std::span(&ok, 1), *inflater_);
  if (!ok || !direct_agrees(pfn, page)) return nullptr;
  page_cache_pfn_[slot] = pfn;
  direct_pages_++;
  return page.data();
}

std::optional<Result<void>> DumpFile::read_direct(const std::vector<Piece>& pieces) {
  if (!direct_ || direct_off_ || pieces.empty()) return std::nullopt;
  // Whole pages: a piece that is part of one is inflated into a page of its own first.
  std::vector<uint64_t> indexes(pieces.size());
  std::vector<std::span<std::byte>> pages(pieces.size());
  std::vector<std::byte> partial;
  size_t partials = 0;
  for (const Piece& p : pieces) partials += p.out.size() != kPageSize;
  partial.resize(partials * kPageSize);
  for (size_t i = 0, k = 0; i < pieces.size(); i++) {
    auto index = dumped_index(pieces[i].paddr / kPageSize);
    if (!index) return std::nullopt;
    indexes[i] = *index;
    pages[i] = pieces[i].out.size() == kPageSize ? pieces[i].out : std::span(partial).subspan(kPageSize * k++, kPageSize);
  }
  std::unique_ptr<bool[]> ok(new bool[pieces.size()]());
  std::span<bool> done(ok.get(), pieces.size());
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, kMaxThreads);
  threads = static_cast<unsigned>(std::min<size_t>(threads, pieces.size()));
  auto run = [&](size_t first, size_t end) {
    PageInflater inflater;
    direct_->read(std::span(indexes).subspan(first, end - first), std::span(pages).subspan(first, end - first),
                  done.subspan(first, end - first), inflater);
  };
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < threads; t++) {
    size_t first = pieces.size() * t / threads, end = pieces.size() * (t + 1) / threads;
    try {
      helpers.emplace_back(run, first, end);
    } catch (const std::system_error&) {
      run(first, end);  // no thread to be had: read here, in turn
    }
  }
  run(0, pieces.size() / threads);
  for (auto& t : helpers) t.join();

  if (done[0] && !direct_agrees(pieces[0].paddr / kPageSize, pages[0])) return std::nullopt;
  parallel_reads_++;
  for (size_t i = 0, k = 0; i < pieces.size(); i++) {
    if (pieces[i].out.size() != kPageSize) {
      std::span<const std::byte> page = std::span(partial).subspan(kPageSize * k++, kPageSize);
      if (done[i]) {
        size_t at = pieces[i].paddr & (kPageSize - 1);
        std::memcpy(pieces[i].out.data(), page.data() + at, pieces[i].out.size());
      }
    }
    if (done[i]) {
      direct_pages_++;
      continue;
    }
    // Damaged, or stored in a way not read here: libkdumpfile's reading, and its verdict.
    if (auto r = read_page(pieces[i].paddr, pieces[i].out, pieces[i].va); !r) return r;
  }
  return Result<void>();
}

}  // namespace kstuck
