// SPDX-License-Identifier: GPL-2.0
// PagedOrcTable: binary search over the in-memory ORC arrays through a page cache.
#include "analysis/kernel/paged_orc_table.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "analysis/hex_text.h"

namespace kstuck {
namespace {
constexpr size_t kOrcEntrySize = 6;
}  // namespace

PagedOrcTable::PagedOrcTable(Target& target, uint64_t ip_table, uint64_t entry_table, uint64_t entries,
                             OrcFormat format)
    : target_(&target), ip_table_(ip_table), entry_table_(entry_table), size_(entries), format_(format) {}

const std::vector<std::byte>* PagedOrcTable::page(uint64_t page_addr) {
  auto [it, inserted] = pages_.try_emplace(page_addr);
  if (inserted) {
    it->second.resize(kPage);
    if (!target_->read(page_addr, it->second)) it->second.clear();
  }
  return it->second.empty() ? nullptr : &it->second;
}

bool PagedOrcTable::copy(uint64_t addr, void* out, size_t size) {
  auto* dst = static_cast<std::byte*>(out);
  while (size) {
    uint64_t base = addr & ~(kPage - 1);
    size_t in_page = std::min<size_t>(size, kPage - (addr - base));
    if (const std::vector<std::byte>* p = page(base)) {
      std::memcpy(dst, p->data() + (addr - base), in_page);
    } else if (auto r = target_->read(addr, std::span(dst, in_page)); !r) {
      // Only part of the page may be readable (a target that holds the table alone):
      // then the bytes themselves are read, uncached.
      last_error_ = "ORC table at " + hex_text(addr) + " unreadable: " + r.error().describe();
      return false;
    }
    dst += in_page;
    addr += in_page;
    size -= in_page;
  }
  return true;
}

std::optional<uint64_t> PagedOrcTable::ip(size_t i) {
  int32_t rel;
  uint64_t slot_addr = ip_table_ + 4 * uint64_t(i);
  if (i >= size_ || !copy(slot_addr, &rel, sizeof(rel))) return std::nullopt;
  return slot_addr + int64_t(rel);
}

std::optional<OrcEntry> PagedOrcTable::find(uint64_t ip) {
  last_error_.clear();
  auto failed = [this]() -> std::optional<OrcEntry> {
    if (failed_lookups_++ == 0) first_error_ = last_error_;
    return std::nullopt;
  };
  // The first slot whose ip is above ip, then the entry before it.
  size_t lo = 0, hi = size_;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    auto at = this->ip(mid);
    if (!at) return failed();
    if (*at <= ip) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return std::nullopt;
  std::array<std::byte, kOrcEntrySize> raw;
  if (!copy(entry_table_ + kOrcEntrySize * uint64_t(lo - 1), raw.data(), raw.size())) return failed();
  return decode_orc(std::span<const std::byte, 6>(raw), format_);
}

}  // namespace kstuck
