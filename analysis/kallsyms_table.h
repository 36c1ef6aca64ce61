// SPDX-License-Identifier: GPL-2.0
// KallsymsTable: the text of /proc/kallsyms as an address -> "func+0x1c/0x80 [module]" index.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/target.h"

namespace kstuck {

// Pure: the caller reads the file. Only text symbols (t/T/w/W) are kept; a symbol's
// size is the distance to the next text symbol (kallsyms has no sizes).
class KallsymsTable {
 public:
  static KallsymsTable parse(std::string_view text);

  size_t size() const { return syms_.size(); }
  // False when every address is 0 (kptr_restrict hid them).
  bool has_addresses() const { return !syms_.empty(); }

  std::optional<Symbol> lookup(uint64_t addr) const;
  std::optional<uint64_t> address_of(std::string_view name) const;
  // "func+0x1c/0x80 [module]"; a return address is looked up at addr-1 (as %pB does),
  // so a call at the very end of a function is attributed to that function.
  std::string format(uint64_t addr, bool return_address = false) const;

 private:
  struct Entry {
    uint64_t address;
    std::string name;
    std::string module;
  };
  std::vector<Entry> syms_;  // sorted by address
};

}  // namespace kstuck
