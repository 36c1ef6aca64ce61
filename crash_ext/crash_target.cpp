// SPDX-License-Identifier: GPL-2.0
// CrashTarget: crash_bridge's C status codes turned into kstuck Results.
#include "crash_ext/crash_target.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>

#include "analysis/hex_text.h"
#include "analysis/kdump_target/elf_symbols.h"
#include "analysis/kdump_target/source_lines.h"
#include "crash_ext/crash_bridge.h"

namespace kstuck {
namespace {

// "struct list_head" -> "list_head"; what crash's datatype_info wants as a name.
std::string bare_type(std::string_view name) {
  for (std::string_view tag : {"struct ", "union "})
    if (name.starts_with(tag)) name.remove_prefix(tag.size());
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return std::string(name);
}

}  // namespace

Result<void> CrashTarget::read(uint64_t kvaddr, std::span<std::byte> out) {
  uint64_t fault = kvaddr;
  if (kstuck_bridge_read(kvaddr, out.data(), out.size(), &fault) != 0)
    return fail(ErrorKind::Fault, "cannot read " + std::to_string(out.size()) + " bytes at " + hex_text(kvaddr), fault);
  return {};
}

CrashTarget::ElfIndex& CrashTarget::elf_index() {
  // One per session: the vmlinux does not change under a crash session, and reading
  // its symbol table costs more than most commands.
  static ElfIndex index;
  static bool loaded = false;
  if (loaded) return index;
  loaded = true;
  const char* path = kstuck_bridge_namelist();
  if (!path) {
    index.error = "crash names no vmlinux";
    return index;
  }
  auto symbols = ElfSymbols::open(path);
  if (!symbols) {
    index.error = symbols.error().describe();
    return index;
  }
  // KASLR: where crash put _stext minus where the file links it.
  uint64_t stext = 0;
  const auto* linked = (*symbols)->find("_stext");
  if (!linked || kstuck_bridge_symbol_address("_stext", &stext) != 0) {
    index.error = "no _stext to relocate the vmlinux symbols";
    return index;
  }
  index.kaslr = stext - linked->value;
  index.symbols = std::move(*symbols);
  index.lines = std::make_unique<SourceLines>(path);
  return index;
}

Result<std::string> CrashTarget::source_line(uint64_t address) {
  auto& index = elf_index();
  if (!index.lines) return fail(ErrorKind::NotFound, "no vmlinux for source lines: " + index.error);
  if (address < index.kaslr) return fail(ErrorKind::NotFound, "not a vmlinux address", address);
  return index.lines->at(address - index.kaslr);
}

std::string CrashTarget::symbol_source() {
  auto& index = elf_index();
  if (!index.symbols) return "crash's symbol table (no sizes: " + index.error + ")";
  return index.symbols->path() + " (" + std::to_string(index.symbols->count()) + " ELF symbols, KASLR offset " +
         hex_text(index.kaslr) + ")";
}

Result<uint64_t> CrashTarget::symbol_address(std::string_view name) {
  std::string n(name);
  auto& index = elf_index();
  if (index.symbols) {
    if (const auto* s = index.symbols->find(n))
      return s->percpu || s->absolute ? s->value : s->value + index.kaslr;
  }
  uint64_t address = 0;
  if (kstuck_bridge_symbol_address(n.c_str(), &address) != 0)
    return fail(ErrorKind::NotFound, "no symbol '" + n + "' in vmlinux");
  return address;
}

Result<Symbol> CrashTarget::symbol_at(uint64_t address) {
  auto& index = elf_index();
  Symbol s;
  if (index.symbols) {
    const auto* e = address >= index.kaslr ? index.symbols->containing(address - index.kaslr) : nullptr;
    if (!e) return fail(ErrorKind::NotFound, "no vmlinux symbol at " + hex_text(address), address);
    s.name = e->name;
    s.address = e->percpu || e->absolute ? e->value : e->value + index.kaslr;
    s.size = e->size;
    return s;
  }
  char name[256];
  uint64_t start = 0;
  if (kstuck_bridge_symbol_at(address, name, sizeof(name), &start) != 0)
    return fail(ErrorKind::NotFound, "no vmlinux symbol at " + hex_text(address), address);
  s.name = name;
  s.address = start;
  return s;  // crash's own table has no sizes: size stays 0 (unknown)
}

Result<uint64_t> CrashTarget::struct_size(std::string_view struct_name) {
  std::string key = bare_type(struct_name);
  if (auto it = size_cache_.find(key); it != size_cache_.end()) return it->second;
  long size = kstuck_bridge_struct_size(key.c_str());
  Result<uint64_t> r = size < 0 ? Result<uint64_t>(fail(ErrorKind::NotFound, "no type struct " + key))
                                : Result<uint64_t>(static_cast<uint64_t>(size));
  size_cache_.emplace(key, r);
  return r;
}

Result<CrashTarget::Hop> CrashTarget::hop(const std::string& struct_name, const std::string& member) {
  std::string key = struct_name + "." + member;
  if (auto it = member_cache_.find(key); it != member_cache_.end()) return it->second;
  kstuck_bridge_member_info m{};
  Result<Hop> r = fail(ErrorKind::NotFound, "no member " + member + " in " + struct_name);
  if (kstuck_bridge_member(struct_name.c_str(), member.c_str(), &m) == 0) {
    Hop h;
    h.offset = static_cast<uint64_t>(m.offset);
    h.size = m.size > 0 ? static_cast<uint64_t>(m.size) : 0;
    h.kind = m.kind;
    h.base_type = m.type_name;
    if (h.kind == KSTUCK_BRIDGE_TYPE_OTHER || h.kind == KSTUCK_BRIDGE_TYPE_ENUM) {
      const auto& bf = bitfields(struct_name);
      if (auto it = bf.find({member, h.offset}); it != bf.end()) {
        h.bit = it->second.first;
        h.bits = it->second.second;
      }
    }
    r = h;
  }
  member_cache_.emplace(key, r);
  return r;
}

const CrashTarget::BitfieldMap& CrashTarget::bitfields(const std::string& struct_name) {
  if (auto it = bitfield_cache_.find(struct_name); it != bitfield_cache_.end()) return it->second;
  BitfieldMap& map = bitfield_cache_[struct_name];
  std::unique_ptr<char, void (*)(void*)> text(kstuck_bridge_ptype_offsets(struct_name.c_str()), kstuck_bridge_free);
  if (!text) return map;
  // "/* 2344: 3   |     4 */    unsigned int in_iowait : 1;" (offsets from the start of
  // the struct asked for, nested members included).
  static const std::regex line(R"(^/\*\s*(\d+):\s*(\d+)\s*\|\s*\d+\s*\*/.*?\b(\w+)\s*:\s*(\d+);)");
  std::string_view rest(text.get());
  for (size_t lines = 0; !rest.empty() && lines < 100000; ++lines) {
    size_t nl = rest.find('\n');
    std::string l(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    std::smatch m;
    if (!std::regex_search(l, m, line)) continue;
    map[{m[3].str(), std::stoull(m[1].str())}] = {static_cast<uint32_t>(std::stoul(m[2].str())),
                                                  static_cast<uint32_t>(std::stoul(m[4].str()))};
  }
  return map;
}

namespace {

// The spelling the BTF-backed KdumpTarget uses ("struct list_head", "char[16]",
// "struct task_struct *"), as far as crash's answers allow.
std::string spelled_type(const std::string& base, int kind, uint64_t size, uint64_t element_size, bool base_is_struct) {
  std::string name = base.empty() ? "void" : base;
  if (kind == KSTUCK_BRIDGE_TYPE_STRUCT) return "struct " + name;
  if (kind == KSTUCK_BRIDGE_TYPE_UNION) return "union " + name;
  if (kind == KSTUCK_BRIDGE_TYPE_ENUM) return "enum " + name;
  if (base_is_struct) name = "struct " + name;
  if (kind == KSTUCK_BRIDGE_TYPE_POINTER) return name + " *";
  if (kind == KSTUCK_BRIDGE_TYPE_ARRAY)
    return name + "[" + std::to_string(element_size ? size / element_size : 0) + "]";
  return name;
}

}  // namespace

Result<TypeMember> CrashTarget::member(std::string_view struct_name, std::string_view member_path) {
  // Walk "a.b[2].c": each hop's base type names the struct of the next hop; a
  // subscript steps over elements of the base type's size.
  std::string current = bare_type(struct_name);
  std::string_view rest = member_path;
  if (rest.empty()) return fail(ErrorKind::Invalid, "empty member path in " + current);
  uint64_t offset = 0;
  Hop last;
  uint64_t element_size = 0;
  for (int hops = 0; !rest.empty(); ++hops) {
    if (hops >= 16) return fail(ErrorKind::Limit, "member path too deep: " + std::string(member_path));
    size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    size_t bracket = part.find('[');
    std::string name(part.substr(0, bracket));
    std::string_view subscripts = bracket == std::string_view::npos ? std::string_view() : part.substr(bracket);
    if (hops > 0) {
      if (last.kind == KSTUCK_BRIDGE_TYPE_POINTER || last.kind == KSTUCK_BRIDGE_TYPE_ARRAY || last.base_type.empty())
        return fail(ErrorKind::Invalid, std::string(struct_name) + "." + std::string(member_path) + ": '" + name +
                                            "' is not inside a struct or union");
      current = last.base_type;
    }
    auto h = hop(current, name);
    if (!h) return fail(ErrorKind::NotFound, "no member '" + std::string(member_path) + "' in " + std::string(struct_name));
    offset += h->offset;
    last = *h;
    element_size = 0;
    int element_kind = KSTUCK_BRIDGE_TYPE_OTHER;
    if (last.kind == KSTUCK_BRIDGE_TYPE_ARRAY) {
      long es = 0;
      element_kind = kstuck_bridge_type_info(last.base_type.c_str(), &es);
      element_size = element_kind >= 0 && es > 0 ? static_cast<uint64_t>(es) : 0;
    }
    while (!subscripts.empty()) {
      size_t close = subscripts.find(']');
      if (subscripts[0] != '[' || close == std::string_view::npos || close < 2)
        return fail(ErrorKind::Invalid, "bad subscript in '" + std::string(member_path) + "'");
      uint64_t index = 0;
      for (char c : subscripts.substr(1, close - 1)) {
        if (c < '0' || c > '9' || index > (1ull << 40)) return fail(ErrorKind::Invalid, "bad subscript in '" + std::string(member_path) + "'");
        index = index * 10 + static_cast<uint64_t>(c - '0');
      }
      subscripts.remove_prefix(close + 1);
      if (last.kind != KSTUCK_BRIDGE_TYPE_ARRAY || element_size == 0)
        return fail(ErrorKind::Invalid, "'" + name + "' in '" + std::string(member_path) + "' is not an array");
      // Flexible arrays (size 0) take any index, as with BTF's nelems == 0.
      if (last.size != 0 && index >= last.size / element_size)
        return fail(ErrorKind::Invalid, "subscript " + std::to_string(index) + " beyond " + name + "[" +
                                            std::to_string(last.size / element_size) + "]");
      offset += index * element_size;
      // One element of a one-dimensional array: the base type (crash strips all dimensions).
      last.kind = element_kind;
      last.size = element_size;
    }
  }
  TypeMember tm;
  tm.offset = offset;
  tm.size = last.size;
  bool base_is_struct = false;
  if (last.kind == KSTUCK_BRIDGE_TYPE_POINTER || last.kind == KSTUCK_BRIDGE_TYPE_ARRAY)
    base_is_struct = kstuck_bridge_type_info(last.base_type.c_str(), nullptr) == KSTUCK_BRIDGE_TYPE_STRUCT;
  tm.type_name = spelled_type(last.base_type, last.kind, last.size, element_size, base_is_struct);
  if (last.kind == KSTUCK_BRIDGE_TYPE_POINTER) tm.size = 8;
  if (last.bits) {
    // A bitfield within a naturally aligned unit of its declared type, as the BTF
    // Target reports it; a unit that would straddle falls back to 8 bytes.
    uint64_t bitpos = offset * 8 + last.bit;
    uint64_t unit = tm.size ? tm.size : 1;
    tm.offset = bitpos / (unit * 8) * unit;
    uint64_t within = bitpos - tm.offset * 8;
    if (within + last.bits > unit * 8) {
      tm.offset = bitpos / 8;
      within = bitpos % 8;
      tm.size = 8;
    }
    tm.bit_offset = static_cast<uint32_t>(within);
    tm.bit_size = last.bits;
  }
  return tm;
}

Result<uint64_t> CrashTarget::per_cpu_offset(int cpu) {
  uint64_t offset = 0;
  if (kstuck_bridge_per_cpu_offset(cpu, &offset) != 0)
    return fail(ErrorKind::NotFound, "no per-CPU offset for cpu " + std::to_string(cpu));
  return offset;
}

// The index-th note in the dump's order, as KdumpTarget gives it: load_cpus() matches
// notes to CPUs by identity for both front-ends.
Result<CpuRegisters> CrashTarget::cpu_registers(int index) {
  uint64_t regs[KSTUCK_BRIDGE_NREGS] = {};
  int64_t pid = -1;
  if (kstuck_bridge_cpu_registers(index, regs, &pid) != 0)
    return fail(ErrorKind::NotFound, "no register note " + std::to_string(index));
  static_assert(KSTUCK_BRIDGE_NREGS == CpuRegisters::count);
  CpuRegisters r;
  for (int i = 0; i < KSTUCK_BRIDGE_NREGS; ++i) r.regs[i] = regs[i];
  r.note_pid = pid;
  return r;
}

std::optional<std::string> CrashTarget::vmcoreinfo(std::string_view key) {
  std::string k(key);
  std::unique_ptr<char, void (*)(void*)> value(kstuck_bridge_vmcoreinfo(k.c_str()), kstuck_bridge_free);
  if (!value) return std::nullopt;
  return std::string(value.get());
}

int CrashTarget::cpu_count() const { return kstuck_bridge_cpu_count(); }

}  // namespace kstuck
