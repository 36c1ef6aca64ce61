// SPDX-License-Identifier: GPL-2.0
// ElfSymbols: the vmlinux ELF symbol table (libelf), sorted for address lookups.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "analysis/error.h"

struct Elf;

namespace kstuck {

// Link-time addresses (no KASLR); the KdumpTarget adds the offset. Names point into the
// mmapped string table and live as long as the object.
class ElfSymbols {
 public:
  struct Sym {
    const char* name = nullptr;
    uint64_t value = 0;
    uint64_t size = 0;
    uint8_t type = 0;       // STT_*
    bool percpu = false;    // in a .data..percpu linked at 0 (before 6.15): an offset from a CPU's per-CPU base, never relocated
    bool absolute = false;  // SHN_ABS: never relocated
  };

  ~ElfSymbols();
  ElfSymbols(const ElfSymbols&) = delete;
  ElfSymbols& operator=(const ElfSymbols&) = delete;

  static Result<std::unique_ptr<ElfSymbols>> open(const std::string& path);

  const Sym* find(std::string_view name) const;
  // The function or object containing a link-time address, or nullptr.
  const Sym* containing(uint64_t address) const;
  // Copies initialized bytes of the file's allocated sections at a link-time address.
  Result<void> read_static(uint64_t address, std::span<std::byte> out) const;

  const std::string& build_id() const { return build_id_; }  // lowercase hex, may be empty
  size_t count() const { return syms_.size(); }
  const std::string& path() const { return path_; }

 private:
  ElfSymbols() = default;
  Result<void> load();

  std::string path_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
  std::vector<Sym> syms_;
  std::vector<uint32_t> by_address_;  // indexes into syms_, sorted by value
  std::unordered_map<std::string_view, uint32_t> by_name_;
  uint64_t text_end_ = 0;  // _end: nothing above is in the image
  std::string build_id_;
};

}  // namespace kstuck
