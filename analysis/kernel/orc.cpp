// SPDX-License-Identifier: GPL-2.0
// ORC table loading (bulk, bounded) and lookup, mirroring __orc_find() in unwind_orc.c.
#include "analysis/kernel/orc.h"

#include <algorithm>
#include <cstring>

namespace kstuck {
namespace {
constexpr size_t kOrcEntrySize = 6;
constexpr uint64_t kMaxOrcEntries = 1 << 22;  // vmlinux 6.1 has ~370k; 4M is far beyond any kernel
constexpr size_t kChunk = 1 << 16;

Result<std::vector<std::byte>> read_bulk(Target& t, uint64_t addr, uint64_t size) {
  std::vector<std::byte> out(size);
  for (uint64_t done = 0; done < size; done += kChunk) {
    uint64_t n = std::min<uint64_t>(kChunk, size - done);
    auto r = t.read(addr + done, std::span(out).subspan(done, n));
    if (!r) return tl::unexpected(r.error());
  }
  return out;
}
}  // namespace

OrcEntry decode_orc(std::span<const std::byte, 6> raw, OrcFormat format) {
  OrcEntry e;
  std::memcpy(&e.sp_offset, raw.data(), 2);
  std::memcpy(&e.bp_offset, raw.data() + 2, 2);
  uint16_t bits;
  std::memcpy(&bits, raw.data() + 4, 2);
  e.sp_reg = bits & 0xf;
  e.bp_reg = (bits >> 4) & 0xf;
  if (format == OrcFormat::Legacy) {
    e.raw_type = (bits >> 8) & 0x3;
    bool end = (bits >> 10) & 1;
    switch (e.raw_type) {
      case 0: e.type = OrcType::Call; break;
      case 1: e.type = OrcType::Regs; break;
      case 2: e.type = OrcType::RegsPartial; break;
      default: e.type = OrcType::Unknown; break;
    }
    if (e.sp_reg == kOrcRegUndefined) e.type = end ? OrcType::EndOfStack : OrcType::Undefined;
  } else {
    e.raw_type = (bits >> 8) & 0x7;
    e.signal = (bits >> 11) & 1;
    switch (e.raw_type) {
      case 0: e.type = OrcType::Undefined; break;
      case 1: e.type = OrcType::EndOfStack; break;
      case 2: e.type = OrcType::Call; break;
      case 3: e.type = OrcType::Regs; break;
      case 4: e.type = OrcType::RegsPartial; break;
      default: e.type = OrcType::Unknown; break;
    }
  }
  return e;
}

const OrcEntry* OrcTable::find(uint64_t ip) const {
  auto it = std::upper_bound(ips.begin(), ips.end(), ip);
  if (it == ips.begin()) return nullptr;
  return &entries[size_t(it - ips.begin()) - 1];
}

OrcTable build_orc_table(std::span<const std::byte> ip_bytes, uint64_t ip_table_address,
                         std::span<const std::byte> entry_bytes, OrcFormat format) {
  OrcTable t;
  size_t n = std::min(ip_bytes.size() / 4, entry_bytes.size() / kOrcEntrySize);
  t.ips.reserve(n);
  t.entries.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    int32_t rel;
    std::memcpy(&rel, ip_bytes.data() + 4 * i, 4);
    t.ips.push_back(ip_table_address + 4 * i + int64_t(rel));
    t.entries.push_back(decode_orc(std::span<const std::byte, 6>(entry_bytes.data() + kOrcEntrySize * i, 6), format));
  }
  // The kernel sorts the tables (build time for vmlinux, load time for modules); a
  // corrupt dump may not be sorted, and upper_bound needs it to be.
  if (!std::is_sorted(t.ips.begin(), t.ips.end())) {
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.ips[a] < t.ips[b]; });
    OrcTable s;
    for (size_t i : order) {
      s.ips.push_back(t.ips[i]);
      s.entries.push_back(t.entries[i]);
    }
    return s;
  }
  return t;
}

OrcTables::OrcTables(Fields& fields, const ModuleSet& modules) : fields_(fields), modules_(modules) {
  // The 'signal' bit arrived with the 3-bit type (see orc.h); struct orc_entry's members
  // tell which generation this kernel is.
  if (fields_.has("orc_entry", "signal")) format_ = OrcFormat::Signal;
}

void OrcTables::load_vmlinux() {
  vmlinux_loaded_ = true;
  Target& t = fields_.target();
  auto ip_start = t.symbol_address("__start_orc_unwind_ip");
  auto ip_stop = t.symbol_address("__stop_orc_unwind_ip");
  auto orc_start = t.symbol_address("__start_orc_unwind");
  if (!ip_start || !ip_stop || !orc_start) {
    vmlinux_.error = "no ORC tables in the vmlinux (kernel not built with UNWINDER_ORC?)";
    return;
  }
  uint64_t n = *ip_stop > *ip_start ? (*ip_stop - *ip_start) / 4 : 0;
  if (n == 0 || n > kMaxOrcEntries) {
    vmlinux_.error = "implausible ORC table size " + std::to_string(n);
    return;
  }
  auto ips = read_bulk(t, *ip_start, n * 4);
  auto entries = ips ? read_bulk(t, *orc_start, n * kOrcEntrySize) : tl::unexpected(ips.error());
  if (!ips || !entries) {
    vmlinux_.error = "ORC table unreadable: " + (!ips ? ips.error() : entries.error()).describe();
    return;
  }
  vmlinux_ = build_orc_table(*ips, *ip_start, *entries, format_);
  // Beyond the table's text the vmlinux has no entries (the kernel checks
  // is_kernel_text/inittext); the last entry is a terminator.
  if (auto s = t.symbol_address("_stext")) text_start_ = *s;
  else if (!vmlinux_.ips.empty()) text_start_ = vmlinux_.ips.front();
  if (auto e = t.symbol_address("_einittext")) text_end_ = *e;
  else if (auto e2 = t.symbol_address("_etext")) text_end_ = *e2;
  else if (!vmlinux_.ips.empty()) text_end_ = vmlinux_.ips.back();
}

const OrcTable& OrcTables::module_table(const ModuleInfo& m) {
  auto it = module_tables_.find(m.address);
  if (it != module_tables_.end()) return it->second;
  OrcTable& table = module_tables_[m.address];
  if (!m.num_orcs || !m.orc_unwind_ip || !m.orc_unwind) {
    table.error = "module " + m.name + " has no ORC table";
    return table;
  }
  if (m.num_orcs > kMaxOrcEntries) {
    table.error = "module " + m.name + ": implausible num_orcs";
    return table;
  }
  Target& t = fields_.target();
  auto ips = read_bulk(t, m.orc_unwind_ip, m.num_orcs * 4);
  auto entries = ips ? read_bulk(t, m.orc_unwind, m.num_orcs * kOrcEntrySize) : tl::unexpected(ips.error());
  if (!ips || !entries) {
    table.error = "module " + m.name + " ORC unreadable: " + (!ips ? ips.error() : entries.error()).describe();
    return table;
  }
  table = build_orc_table(*ips, m.orc_unwind_ip, *entries, format_);
  return table;
}

const OrcEntry* OrcTables::find(uint64_t ip) {
  if (const ModuleInfo* m = modules_.containing(ip)) return module_table(*m).find(ip);
  if (!vmlinux_loaded_) load_vmlinux();
  if (ip < text_start_ || ip >= text_end_) return nullptr;
  return vmlinux_.find(ip);
}

}  // namespace kstuck
