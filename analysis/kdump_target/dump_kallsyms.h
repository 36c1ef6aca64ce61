// SPDX-License-Identifier: GPL-2.0
// DumpKallsyms: the kernel's own compressed symbol table (kernel/kallsyms.c), decoded
// from a dump's memory, so that no vmlinux is needed for symbols.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/error.h"

namespace kstuck {

// Where the tables are (runtime addresses; VMCOREINFO's SYMBOL(kallsyms_*) entries,
// written by kernel/vmcore_info.c since Linux commit 5fd8fea935a1 ("vmcoreinfo:
// include kallsyms symbols") (in v6.0)).
struct KallsymsLocation {
  uint64_t names = 0;          // u8 stream: per symbol a length (1 or 2 bytes) and token ids
  uint64_t token_table = 0;    // 256 NUL-terminated strings
  uint64_t token_index = 0;    // u16[256]: offsets into token_table
  uint64_t offsets = 0;        // s32[num_syms] (KALLSYMS_BASE_RELATIVE)
  uint64_t relative_base = 0;  // address of the u64 base the offsets are relative to; 0 when
                               // the kernel has none (7.x: each offset is relative to its entry)
  uint64_t num_syms = 0;       // address of the u32 count
  uint64_t stext = 0;          // _stext's runtime address (VMCOREINFO SYMBOL(_stext)), 0 if
                               // unknown: the decoded _stext must be there
};

class DumpKallsyms {
 public:
  // 32 bytes: 100,000 of them stay small (peak RSS matters: see bench/analyze).
  struct Sym {
    std::string_view name; // into the table's own name blob
    uint64_t address = 0;  // runtime (KASLR applied); a per-CPU offset for per-CPU symbols
    uint32_t size = 0;     // distance to the next symbol, as the kernel's %pS computes it; 0 for the last
    char type = '?';       // nm letter: t T d D b B r R a A w W v V ...
    bool absolute = false; // an absolute value (per-CPU offsets before 6.15), never in address lookups
  };
  using ReadFn = std::function<Result<void>(uint64_t, std::span<std::byte>)>;
  DumpKallsyms(const DumpKallsyms&) = delete;  // names are views into names_
  DumpKallsyms& operator=(const DumpKallsyms&) = delete;

  // Decodes the whole table (about 120,000 symbols, 2-3 MB of names on 6.1), the names
  // in up to `decode_threads` threads (0: one per CPU, up to 4).
  static Result<std::unique_ptr<DumpKallsyms>> load(const KallsymsLocation& where, const ReadFn& read,
                                                    unsigned decode_threads = 0);

  // Prefers a global symbol over a local one of the same name, then the lowest address.
  const Sym* find(std::string_view name) const;
  // The symbol containing an address: the last one at or below it, within its size.
  const Sym* containing(uint64_t address) const;
  size_t count() const { return syms_.size(); }
  const std::vector<Sym>& symbols() const { return syms_; }

 private:
  DumpKallsyms() = default;
  std::vector<std::string> names_;        // every name, back to back, a blob per decoding thread (Sym::name views into them)
  std::vector<Sym> syms_;                 // in table order (by address)
  std::vector<uint32_t> by_address_;      // non-absolute symbols, sorted by address, one per address
  std::vector<uint32_t> by_name_;         // all symbols, bucketed by name hash, table order within
  std::vector<uint32_t> bucket_start_;    // bucket b is by_name_[bucket_start_[b], bucket_start_[b + 1])
  uint32_t bucket_mask_ = 0;
};

}  // namespace kstuck
