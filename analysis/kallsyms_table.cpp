// SPDX-License-Identifier: GPL-2.0
// KallsymsTable: parsing /proc/kallsyms text and looking addresses up in it.
#include "analysis/kallsyms_table.h"

#include <algorithm>
#include <cstdio>

#include "analysis/text_number.h"

namespace kstuck {

namespace {
// Beyond this distance from the previous symbol an address is not attributed to it.
constexpr uint64_t kMaxSymbolSize = 1u << 20;

std::string_view next_field(std::string_view& line) {
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  size_t end = line.find_first_of(" \t");
  std::string_view field = line.substr(0, end);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return field;
}
}  // namespace

KallsymsTable KallsymsTable::parse(std::string_view text) {
  KallsymsTable table;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    auto addr_s = next_field(line);
    auto type = next_field(line);
    auto name = next_field(line);
    auto module = next_field(line);
    if (name.empty() || type.size() != 1 || std::string_view("tTwW").find(type[0]) == std::string_view::npos) continue;
    auto parsed = parse_hex_u64(addr_s);
    if (!parsed || *parsed == 0) continue;
    uint64_t addr = *parsed;
    if (module.size() >= 2 && module.front() == '[' && module.back() == ']') module = module.substr(1, module.size() - 2);
    table.syms_.push_back({addr, std::string(name), std::string(module)});
  }
  std::stable_sort(table.syms_.begin(), table.syms_.end(),
                   [](const Entry& a, const Entry& b) { return a.address < b.address; });
  return table;
}

std::optional<Symbol> KallsymsTable::lookup(uint64_t addr) const {
  auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                             [](uint64_t a, const Entry& e) { return a < e.address; });
  if (it == syms_.begin()) return std::nullopt;
  auto sym = std::prev(it);
  uint64_t size = it != syms_.end() ? it->address - sym->address : 0;
  if (size == 0 ? addr - sym->address > kMaxSymbolSize : addr - sym->address >= size) return std::nullopt;
  if (size > kMaxSymbolSize) size = 0;
  return Symbol{sym->name, sym->address, size, sym->module};
}

std::optional<uint64_t> KallsymsTable::address_of(std::string_view name) const {
  for (const auto& e : syms_)
    if (e.name == name) return e.address;
  return std::nullopt;
}

std::string KallsymsTable::format(uint64_t addr, bool return_address) const {
  char buf[64];
  auto sym = lookup(return_address && addr ? addr - 1 : addr);
  if (!sym) {
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(addr));
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "+0x%llx/0x%llx", static_cast<unsigned long long>(addr - sym->address),
                static_cast<unsigned long long>(sym->size));
  std::string out = sym->name + buf;
  if (!sym->module.empty()) out += " [" + sym->module + "]";
  return out;
}

}  // namespace kstuck
