// SPDX-License-Identifier: GPL-2.0
// SourceLines: file:line of a vmlinux address through libdw, one line table at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "analysis/error.h"

struct Dwarf;
struct Dwarf_Lines_s;
struct Dwarf_Files_s;
struct Elf;

namespace kstuck {

// Opened lazily on the first question. libdw's own address lookup (dwarf_getaranges,
// dwarf_addrdie) visits the header of every compile unit, which on Debian's vmlinux
// faults in ~100 MB of .debug_info. Instead we read .debug_aranges ourselves (160 KB),
// decode the one CU DIE we need for DW_AT_stmt_list, and let libdw decode only that
// CU's line table (dwarf_next_lines; DWARF 5 tables are self-contained).
class SourceLines {
 public:
  explicit SourceLines(std::string vmlinux) : path_(std::move(vmlinux)) {}
  ~SourceLines();
  SourceLines(const SourceLines&) = delete;
  SourceLines& operator=(const SourceLines&) = delete;

  // "kernel/smp.c:612" for a link-time (unrelocated) address.
  Result<std::string> at(uint64_t link_address);

 private:
  struct Range {
    uint64_t start, end, cu_offset;
  };
  struct Table {
    Dwarf_Lines_s* lines = nullptr;
    size_t count = 0;
    std::string comp_dir;
  };

  Result<void> ensure_open();
  Result<uint64_t> stmt_list(uint64_t cu_offset);
  Result<Table*> table(uint64_t stmt_list);

  std::string path_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
  bool tried_ = false;
  std::string open_error_;
  std::span<const uint8_t> info_, abbrev_;
  std::vector<Range> ranges_;  // sorted by start
  std::map<uint64_t, Table> tables_;
};

}  // namespace kstuck
