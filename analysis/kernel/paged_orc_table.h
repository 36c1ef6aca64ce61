// SPDX-License-Identifier: GPL-2.0
// The vmlinux's ORC table read in place, a page at a time, as lookups need it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "analysis/kernel/orc.h"
#include "analysis/target.h"

namespace kstuck {

// The vmlinux has about 370,000 entries (3.7 MB of ip offsets and entries); a stack needs
// a few dozen of them. Reading the whole table from a compressed dump cost a fifth of a
// no-vmlinux `analyze`: this one reads the pages a binary search visits and keeps them.
// Lookups mirror __orc_find() over the kernel's own sorted table (sorted at build time by
// scripts/sorttable); an unreadable page fails that lookup only, and says why.
class PagedOrcTable {
 public:
  PagedOrcTable() = default;
  PagedOrcTable(Target& target, uint64_t ip_table, uint64_t entry_table, uint64_t entries, OrcFormat format);

  size_t size() const { return size_; }
  // The absolute ip of slot i, or nullopt when its page is unreadable.
  std::optional<uint64_t> ip(size_t i);
  // The rightmost entry whose ip <= ip; nullopt when there is none, or when a page the
  // search needed is unreadable (then last_error() says which and why).
  std::optional<OrcEntry> find(uint64_t ip);
  const std::string& last_error() const { return last_error_; }
  // How many lookups failed on an unreadable page, and the first such reason.
  size_t failed_lookups() const { return failed_lookups_; }
  const std::string& first_error() const { return first_error_; }

 private:
  static constexpr uint64_t kPage = 4096;
  // Copies size bytes at addr out of cached pages; false (and last_error_) on a fault.
  bool copy(uint64_t addr, void* out, size_t size);
  // The whole page, or nullptr when it is not readable whole.
  const std::vector<std::byte>* page(uint64_t page_addr);

  Target* target_ = nullptr;
  uint64_t ip_table_ = 0, entry_table_ = 0;
  size_t size_ = 0;
  OrcFormat format_ = OrcFormat::Unknown;
  // Page address -> its bytes; an empty vector: not readable whole (not tried again).
  std::unordered_map<uint64_t, std::vector<std::byte>> pages_;
  std::string last_error_, first_error_;
  size_t failed_lookups_ = 0;
};

}  // namespace kstuck
