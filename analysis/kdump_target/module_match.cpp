// SPDX-License-Identifier: GPL-2.0
// Refusing a .ko that is not the dumped module's build; placing its sections where the kernel did.
#include "analysis/kdump_target/module_match.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "analysis/fields.h"

namespace kstuck {

namespace {

constexpr uint64_t kMaxDumpSymbols = 1 << 18;
constexpr size_t kElfSymSize = 24;  // Elf64_Sym
constexpr uint8_t kSttFunc = 2;

struct DumpFunction {
  std::string name;
  uint16_t section = 0;
  uint64_t address = 0, size = 0;
};

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// The functions of m's kallsyms copy in the dump (bounded; unreadable names are skipped).
Result<std::vector<DumpFunction>> dump_functions(Target& target, const ModuleInfo& m) {
  if (!m.symtab || !m.num_symtab || !m.strtab) return fail(ErrorKind::NotFound, "the dump has no kallsyms for it");
  if (m.num_symtab > kMaxDumpSymbols)
    return fail(ErrorKind::Format, "implausible kallsyms size " + std::to_string(m.num_symtab));
  std::vector<std::byte> raw(m.num_symtab * kElfSymSize);
  if (auto r = target.read(m.symtab, raw); !r) return tl::unexpected(r.error().with_context("kallsyms"));
  std::vector<DumpFunction> out;
  for (uint64_t i = 0; i < m.num_symtab; ++i) {
    const std::byte* s = raw.data() + i * kElfSymSize;
    uint32_t name;
    DumpFunction f;
    std::memcpy(&name, s, 4);
    std::memcpy(&f.section, s + 6, 2);
    std::memcpy(&f.address, s + 8, 8);
    std::memcpy(&f.size, s + 16, 8);
    if ((uint8_t(s[4]) & 0xf) != kSttFunc || !name || !f.section || !m.contains(f.address)) continue;
    auto n = read_c_string(target, m.strtab + name, 256);
    if (!n || n->empty()) continue;
    f.name = std::move(*n);
    out.push_back(std::move(f));
  }
  return out;
}

Result<void> match_build_id(Target& target, const ModuleInfo& m, const ModuleObject& obj) {
  auto member = target.member("module", "build_id");
  if (!member || member->size == 0 || member->size > 64) return {};  // not kept by this kernel
  std::byte raw[64];
  if (!target.read(m.address + member->offset, std::span(raw, member->size))) return {};
  std::string dumped;
  bool all_zero = true;
  for (size_t i = 0; i < member->size; i++) {
    char b[3];
    std::snprintf(b, sizeof(b), "%02x", unsigned(raw[i]));
    dumped += b;
    all_zero = all_zero && raw[i] == std::byte{0};
  }
  if (all_zero) return {};
  if (obj.build_id().empty() || dumped.compare(0, obj.build_id().size(), obj.build_id()) != 0)
    return fail(ErrorKind::Invalid, "build id " + (obj.build_id().empty() ? "(none)" : obj.build_id()) +
                                        " differs from the dump's " + dumped.substr(0, 40));
  return {};
}

}  // namespace

const LoadedSections::Placement* LoadedSections::containing(uint64_t address) const {
  auto it = std::upper_bound(placements.begin(), placements.end(), address,
                             [](uint64_t a, const Placement& p) { return a < p.address; });
  if (it == placements.begin()) return nullptr;
  --it;
  return address - it->address < it->size ? &*it : nullptr;
}

Result<LoadedSections> match_module_object(Target& target, const ModuleInfo& m, const ModuleObject& obj) {
  auto refuse = [&](const std::string& why) {
    return fail(ErrorKind::Invalid, obj.path() + " is not the dumped " + m.name + ": " + why);
  };
  if (obj.name() != m.name) return refuse("it is module " + obj.name());
  if (!obj.modinfo_name().empty() && obj.modinfo_name() != m.name)
    return refuse("its modinfo says name=" + obj.modinfo_name());
  if (auto b = match_build_id(target, m, obj); !b) return refuse(b.error().message());
  auto dumped = dump_functions(target, m);
  if (!dumped) return refuse("cannot check it: " + dumped.error().describe());

  const auto& sections = obj.sections();
  auto where = [&](uint16_t section, uint64_t offset) {
    return (section < sections.size() ? sections[section].name : "section " + std::to_string(section)) + "+" +
           hex(offset);
  };
  // Pass 1 places sections by the functions whose name is unique in the .ko; pass 2
  // checks the ambiguous ones (static functions of the same name) against that.
  std::map<uint16_t, uint64_t> base;
  size_t checked = 0;
  for (int pass = 1; pass <= 2; pass++) {
    for (const auto& f : *dumped) {
      auto candidates = obj.functions_named(f.name);
      if (candidates.empty()) return refuse("function " + f.name + " of the dump is not in it");
      if ((candidates.size() == 1) != (pass == 1)) continue;
      if (f.section >= sections.size()) return refuse("function " + f.name + " is in a section it does not have");
      auto placed = base.find(f.section);
      bool fits = false;
      const ModuleObject::Function* first = &obj.functions()[candidates[0]];
      for (size_t c : candidates) {
        const auto& k = obj.functions()[c];
        if (k.section != f.section || k.size != f.size || k.offset > f.address) continue;
        if (placed == base.end() && pass == 1) {
          placed = base.emplace(f.section, f.address - k.offset).first;
        } else if (placed == base.end() || placed->second + k.offset != f.address) {
          continue;
        }
        fits = true;
        break;
      }
      if (!fits && pass == 2 && placed == base.end()) continue;  // its section has no unique function
      if (!fits) {
        std::string dumped_at = placed != base.end() && f.address >= placed->second
                                    ? where(f.section, f.address - placed->second)
                                    : sections[f.section].name + " at " + hex(f.address);
        return refuse("function " + f.name + " is at " + where(first->section, first->offset) + " size " +
                      hex(first->size) + " in the .ko, at " + dumped_at + " size " + hex(f.size) + " in the dump");
      }
      checked++;
    }
  }
  if (checked == 0) return refuse("cannot check it: the dump lists no function of the module");

  LoadedSections out;
  out.functions_checked = checked;
  for (const auto& [section, address] : base) {
    uint64_t size = sections[section].size;
    if (!m.contains(address) || (size && !m.contains(address + size - 1)))
      return refuse(sections[section].name + " (" + hex(size) + " bytes) placed at " + hex(address) +
                    " does not fit in the module");
    out.placements.push_back({section, address, size});
  }
  std::sort(out.placements.begin(), out.placements.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  return out;
}

}  // namespace kstuck
