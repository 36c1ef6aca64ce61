// SPDX-License-Identifier: GPL-2.0
// SourceLines: file:line of a vmlinux address through libdw, one compile unit at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "analysis/error.h"

struct Dwarf;

namespace kstuck {

// Opened lazily on the first question: .debug_aranges finds the CU, and only that CU's
// line table is decoded, so the 590 MB of DWARF are never indexed as a whole.
class SourceLines {
 public:
  explicit SourceLines(std::string vmlinux) : path_(std::move(vmlinux)) {}
  ~SourceLines();
  SourceLines(const SourceLines&) = delete;
  SourceLines& operator=(const SourceLines&) = delete;

  // "kernel/smp.c:612" for a link-time (unrelocated) address.
  Result<std::string> at(uint64_t link_address);

 private:
  Result<void> ensure_open();

  std::string path_;
  int fd_ = -1;
  Dwarf* dwarf_ = nullptr;
  bool tried_ = false;
  std::string open_error_;
};

}  // namespace kstuck
