// SPDX-License-Identifier: GPL-2.0
#include "analysis/kdump_target/compressed_pages.h"

#include <libdeflate.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "analysis/kdump_target/input_file.h"

namespace kstuck {
namespace {

constexpr uint64_t kDescSize = 24;  // makedumpfile's page_desc_t: offset, size, flags, page_flags
constexpr uint32_t kZlib = 0x1;     // DUMP_DH_COMPRESSED_ZLIB; 0: stored as it is
// Descriptors read in one pread() when the wanted ones lie this close together.
constexpr uint64_t kDescriptorRun = 4096;

template <typename T>
T get(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

PageInflater::PageInflater() : d_(libdeflate_alloc_decompressor()) {}
PageInflater::~PageInflater() {
  if (d_) libdeflate_free_decompressor(d_);
}

bool CompressedPages::read_one(uint64_t offset, uint32_t size, uint32_t flags, std::span<std::byte> page,
                               std::vector<std::byte>& data, PageInflater& inflater) const {
  if (page.size() != page_size_ || size == 0 || offset > file_size_ || size > file_size_ - offset) return false;
  if (flags == 0) return size == page_size_ && pread_exact(fd_, page.data(), size, offset);
  if (flags != kZlib || size > page_size_ || !inflater) return false;
  data.resize(size);
  if (!pread_exact(fd_, data.data(), size, offset)) return false;
  size_t out = 0;
  // The zlib stream's own checksum (adler32) is checked: damaged data is not a page.
  return libdeflate_zlib_decompress(inflater.get(), data.data(), size, page.data(), page.size(), &out) ==
             LIBDEFLATE_SUCCESS &&
         out == page_size_;
}

void CompressedPages::read(std::span<const uint64_t> indexes, std::span<const std::span<std::byte>> pages,
                           std::span<bool> ok, PageInflater& inflater) const {
  std::vector<std::byte> descs, data;
  for (size_t i = 0; i < indexes.size();) {
    ok[i] = false;
    if (indexes[i] >= count_) {
      i++;
      continue;
    }
    // The run of wanted pages whose descriptors lie close together (a large read's pages
    // are mostly consecutive frames, so consecutive descriptors): one pread() for them.
    size_t end = i + 1;
    uint64_t lo = indexes[i], hi = indexes[i];
    while (end < indexes.size() && indexes[end] < count_) {
      uint64_t nlo = std::min(lo, indexes[end]), nhi = std::max(hi, indexes[end]);
      if (nhi - nlo >= kDescriptorRun) break;
      lo = nlo;
      hi = nhi;
      end++;
    }
    descs.resize((hi - lo + 1) * kDescSize);
    bool have = pread_exact(fd_, descs.data(), descs.size(), descriptors_ + lo * kDescSize);
    for (; i < end; i++) {
      ok[i] = false;
      if (!have) continue;
      const std::byte* d = descs.data() + (indexes[i] - lo) * kDescSize;
      ok[i] = read_one(get<uint64_t>(d), get<uint32_t>(d + 8), get<uint32_t>(d + 12), pages[i], data, inflater);
    }
  }
}

}  // namespace kstuck
