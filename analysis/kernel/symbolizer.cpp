// SPDX-License-Identifier: GPL-2.0
// Symbolization over vmlinux symbols and each module's kallsyms copy in the dump.
#include "analysis/kernel/symbolizer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "analysis/fields.h"

namespace kstuck {
namespace {
constexpr uint64_t kMaxModuleSymbols = 1 << 20;
constexpr size_t kElfSymSize = 24;  // Elf64_Sym
constexpr uint16_t kShnUndef = 0;
}  // namespace

Symbolizer::ModSyms& Symbolizer::module_syms(const ModuleInfo& m) {
  auto it = cache_.find(m.address);
  if (it != cache_.end()) return it->second;
  ModSyms& out = cache_[m.address];
  if (!m.symtab || !m.num_symtab) {
    out.error = "no kallsyms";
    return out;
  }
  if (m.num_symtab > kMaxModuleSymbols) {
    out.error = "implausible num_symtab " + std::to_string(m.num_symtab);
    return out;
  }
  std::vector<std::byte> raw(m.num_symtab * kElfSymSize);
  if (auto r = target_.read(m.symtab, raw); !r) {
    out.error = r.error().describe();
    return out;
  }
  for (uint64_t i = 0; i < m.num_symtab; ++i) {
    const std::byte* s = raw.data() + i * kElfSymSize;
    uint32_t name;
    uint16_t shndx;
    uint64_t value, size;
    std::memcpy(&name, s, 4);
    std::memcpy(&shndx, s + 6, 2);
    std::memcpy(&value, s + 8, 8);
    std::memcpy(&size, s + 16, 8);
    uint8_t type = uint8_t(s[4]) & 0xf;
    // STT_FUNC 2, STT_OBJECT 1, STT_NOTYPE 0 (asm labels); skip sections/files.
    if (shndx == kShnUndef || type > 2 || !name || !m.contains(value)) continue;
    out.syms.push_back({value, size, name});
  }
  std::sort(out.syms.begin(), out.syms.end(), [](const ModSym& a, const ModSym& b) { return a.address < b.address; });
  return out;
}

std::string Symbolizer::sym_name(const ModuleInfo& m, uint32_t off) {
  auto key = std::make_pair(m.address, off);
  auto it = names_.find(key);
  if (it != names_.end()) return it->second;
  auto s = read_c_string(target_, m.strtab + off, 256);
  std::string name = s ? *s : "?";
  names_[key] = name;
  return name;
}

std::optional<Symbol> Symbolizer::lookup(uint64_t addr) {
  if (const ModuleInfo* m = modules_.containing(addr)) {
    ModSyms& ms = module_syms(*m);
    auto it = std::upper_bound(ms.syms.begin(), ms.syms.end(), addr,
                               [](uint64_t a, const ModSym& s) { return a < s.address; });
    if (it == ms.syms.begin()) return std::nullopt;
    --it;
    uint64_t size = it->size;
    if (!size) size = (it + 1 != ms.syms.end() ? (it + 1)->address : m->base + m->size) - it->address;
    if (addr - it->address >= size) return std::nullopt;
    return Symbol{sym_name(*m, it->name), it->address, size, m->name};
  }
  auto s = target_.symbol_at(addr);
  if (!s) return std::nullopt;
  return *s;
}

std::string Symbolizer::format(uint64_t addr, bool return_address) {
  auto s = lookup(return_address && addr ? addr - 1 : addr);
  char buf[64];
  if (!s) {
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(addr));
    return buf;
  }
  std::string out = s->name;
  if (s->size)
    std::snprintf(buf, sizeof(buf), "+0x%llx/0x%llx", static_cast<unsigned long long>(addr - s->address),
                  static_cast<unsigned long long>(s->size));
  else
    std::snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(addr - s->address));
  out += buf;
  if (!s->module.empty()) out += " [" + s->module + "]";
  return out;
}

std::optional<uint64_t> Symbolizer::module_symbol(std::string_view module, std::string_view name) {
  const ModuleInfo* m = modules_.by_name(module);
  if (!m) return std::nullopt;
  ModSyms& ms = module_syms(*m);
  for (const auto& s : ms.syms)
    if (sym_name(*m, s.name) == name) return s.address;
  return std::nullopt;
}

}  // namespace kstuck
