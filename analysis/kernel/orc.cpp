// SPDX-License-Identifier: GPL-2.0
// ORC entry formats (decided from type info and the .orc_header hash), table loading
// (bulk, bounded) and lookup, mirroring __orc_find() in unwind_orc.c.
#include "analysis/kernel/orc.h"

#include "analysis/kernel/paged_orc_table.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace kstuck {
namespace {
constexpr size_t kOrcEntrySize = 6;
constexpr uint64_t kMaxOrcEntries = 1 << 22;  // vmlinux 6.1 has ~370k; 4M is far beyond any kernel
constexpr size_t kChunk = 1 << 16;
constexpr size_t kOrcHashSize = 20;

Result<std::vector<std::byte>> read_bulk(Target& t, uint64_t addr, uint64_t size) {
  std::vector<std::byte> out(size);
  for (uint64_t done = 0; done < size; done += kChunk) {
    uint64_t n = std::min<uint64_t>(kChunk, size - done);
    auto r = t.read(addr + done, std::span(out).subspan(done, n));
    if (!r) return tl::unexpected(r.error());
  }
  return out;
}

std::string hex(std::span<const uint8_t> bytes) {
  std::string s;
  char b[3];
  for (uint8_t v : bytes) {
    std::snprintf(b, sizeof(b), "%02x", v);
    s += b;
  }
  return s;
}

// .orc_header hashes seen in real kernels (scripts/orc_hash.sh over orc_types.h; checked by
// running that script on Debian's linux-headers and against their generated orc_hash.h).
struct KnownHash {
  std::array<uint8_t, 20> hash;
  OrcFormat format;
  const char* seen_in;
};
constexpr KnownHash kKnownHashes[] = {
    {{0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9, 0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24},
     OrcFormat::V3, "6.12"},
    {{0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93, 0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc, 0x82},
     OrcFormat::V4, "7.3"},
};

// Kernel register number -> ours, per numbering.
uint8_t map_reg(uint8_t raw, OrcFormat f) {
  if (f == OrcFormat::V4) {
    static constexpr uint8_t kV4[] = {kOrcRegUndefined, kOrcRegAx,  kOrcRegDx,  kOrcRegSp,     kOrcRegBp,        kOrcRegDi,
                                      kOrcRegR10,       kOrcRegR13, kOrcRegPrevSp, kOrcRegSpIndirect, kOrcRegBpIndirect};
    return raw < sizeof(kV4) ? kV4[raw] : uint8_t(kOrcRegUnknown);
  }
  return raw <= kOrcRegSpIndirect ? raw : uint8_t(kOrcRegUnknown);
}

std::string bits_name(const char* name, const std::optional<OrcFormatFacts::Bits>& b) {
  if (!b) return std::string(name) + " absent";
  return std::string(name) + " at bit " + std::to_string(b->pos) + ":" + std::to_string(b->size);
}
}  // namespace

const char* orc_format_name(OrcFormat f) {
  switch (f) {
    case OrcFormat::V1: return "V1 (type:2 end:1, up to 6.2)";
    case OrcFormat::V2: return "V2 (type:2 signal:1 end:1, 6.3)";
    case OrcFormat::V3: return "V3 (type:3 signal:1, 6.4-7.0)";
    case OrcFormat::V4: return "V4 (type:3 signal:1, renumbered registers, 7.1+)";
    case OrcFormat::Unknown: return "unknown";
  }
  return "unknown";
}

OrcEntry decode_orc(std::span<const std::byte, 6> raw, OrcFormat format) {
  OrcEntry e;
  std::memcpy(&e.sp_offset, raw.data(), 2);
  std::memcpy(&e.bp_offset, raw.data() + 2, 2);
  uint16_t bits;
  std::memcpy(&bits, raw.data() + 4, 2);
  e.raw_sp_reg = bits & 0xf;
  e.raw_bp_reg = (bits >> 4) & 0xf;
  e.sp_reg = map_reg(e.raw_sp_reg, format);
  e.bp_reg = map_reg(e.raw_bp_reg, format);
  switch (format) {
    case OrcFormat::V1:
    case OrcFormat::V2: {
      e.raw_type = (bits >> 8) & 0x3;
      bool end = format == OrcFormat::V1 ? (bits >> 10) & 1 : (bits >> 11) & 1;
      switch (e.raw_type) {
        case 0: e.type = OrcType::Call; break;
        case 1: e.type = OrcType::Regs; break;
        case 2: e.type = OrcType::RegsPartial; break;
        default: e.type = OrcType::Unknown; break;
      }
      if (e.raw_sp_reg == 0) e.type = end ? OrcType::EndOfStack : OrcType::Undefined;
      if (format == OrcFormat::V2)
        e.signal = (bits >> 10) & 1;
      else  // before the bit: unwind_next_frame() set signal for REGS/REGS_PARTIAL frames only
        e.signal = e.type == OrcType::Regs || e.type == OrcType::RegsPartial;
      break;
    }
    case OrcFormat::V3:
    case OrcFormat::V4:
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
      break;
    case OrcFormat::Unknown: e.type = OrcType::Unknown; break;
  }
  return e;
}

OrcFormatDecision decide_orc_format(const OrcFormatFacts& facts) {
  using Bits = OrcFormatFacts::Bits;
  OrcFormatDecision d;
  // 1. The bit layout, from struct orc_entry's members in the type information.
  OrcFormat by_bits = OrcFormat::Unknown;
  std::string bits_how;
  if (facts.struct_known) {
    bool regs_ok = facts.sp_reg == Bits{32, 4} && facts.bp_reg == Bits{36, 4};
    if (regs_ok && facts.type == Bits{40, 2} && facts.end == Bits{42, 1} && !facts.signal) {
      by_bits = OrcFormat::V1;
      bits_how = "struct orc_entry: type:2 end:1";
    } else if (regs_ok && facts.type == Bits{40, 2} && facts.signal == Bits{42, 1} && facts.end == Bits{43, 1}) {
      by_bits = OrcFormat::V2;
      bits_how = "struct orc_entry: type:2 signal:1 end:1";
    } else if (regs_ok && facts.type == Bits{40, 3} && facts.signal == Bits{43, 1} && !facts.end) {
      by_bits = OrcFormat::V3;  // or V4: the bits are the same
      bits_how = "struct orc_entry: type:3 signal:1";
    } else {
      d.error = "unrecognized struct orc_entry bitfields (" + bits_name("sp_reg", facts.sp_reg) + ", " +
                bits_name("bp_reg", facts.bp_reg) + ", " + bits_name("type", facts.type) + ", " +
                bits_name("signal", facts.signal) + ", " + bits_name("end", facts.end) + ")";
      return d;
    }
  }
  // 2. The .orc_header hash names the whole layout, register numbering included.
  const KnownHash* known = nullptr;
  if (facts.header_hash)
    for (const auto& k : kKnownHashes)
      if (k.hash == *facts.header_hash) known = &k;
  std::string hash_how;
  if (facts.header_hash)
    hash_how = ".orc_header " + hex(*facts.header_hash) +
               (known ? std::string(" (") + orc_format_name(known->format) + ", seen in " + known->seen_in + ")"
                      : std::string(" (not a hash kstuck knows)"));

  if (by_bits == OrcFormat::V1 || by_bits == OrcFormat::V2) {
    // The renumbering came long after these layouts: their registers are the original ones.
    if (known && known->format != by_bits) {
      d.error = bits_how + " contradicts " + hash_how;
      return d;
    }
    d.format = by_bits;
    d.how = bits_how + (hash_how.empty() ? "" : "; " + hash_how);
    return d;
  }
  if (by_bits == OrcFormat::V3) {
    d.how = bits_how + (hash_how.empty() ? "; no .orc_header" : "; " + hash_how);
    if (known) {
      if (known->format != OrcFormat::V3 && known->format != OrcFormat::V4) {
        d.error = bits_how + " contradicts " + hash_how;
        d.how.clear();
        return d;
      }
      d.format = known->format;
      return d;
    }
    d.format = OrcFormat::V3;  // provisional: the caller infers the numbering from the entries
    d.numbering_from_entries = true;
    return d;
  }
  // No struct orc_entry in the type information: only a known hash can tell.
  if (known) {
    d.format = known->format;
    d.how = "struct orc_entry not in the type information; " + hash_how;
    return d;
  }
  d.error = "struct orc_entry is not in the type information and " +
            (facts.header_hash ? hash_how : std::string("the dump has no .orc_header"));
  return d;
}

OrcFormat infer_orc_numbering(std::span<const std::byte> entries, std::string& why) {
  // CALL (type 2 in V3/V4) entries: count CFA bases 5 (SP originally) and 3 (SP renumbered).
  size_t n = entries.size() / kOrcEntrySize, calls = 0, five = 0, three = 0;
  for (size_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, entries.data() + i * kOrcEntrySize + 4, 2);
    if (((bits >> 8) & 0x7) != 2) continue;
    ++calls;
    unsigned sp = bits & 0xf;
    if (sp == 5) ++five;
    if (sp == 3) ++three;
  }
  auto says = [&](const char* reg, size_t count, const char* numbering) {
    why = std::to_string(count) + " of " + std::to_string(calls) + " CALL entries take their CFA from register " +
          reg + ": the " + numbering + " register numbering";
  };
  constexpr size_t kMinCalls = 16;
  if (calls >= kMinCalls && five * 4 >= calls * 3 && three * 20 < calls) {
    says("5", five, "original");
    return OrcFormat::V3;
  }
  if (calls >= kMinCalls && three * 4 >= calls * 3 && five * 20 < calls) {
    says("3", three, "7.1+ (renumbered)");
    return OrcFormat::V4;
  }
  why = "cannot tell the register numbering from the entries (" + std::to_string(calls) + " CALL entries, " +
        std::to_string(five) + " based on register 5, " + std::to_string(three) + " on register 3)";
  return OrcFormat::Unknown;
}

OrcTable::OrcTable(std::vector<std::byte> ip_bytes, uint64_t ip_table_address, std::vector<std::byte> entry_bytes,
                   OrcFormat format)
    : ip_bytes_(std::move(ip_bytes)), entry_bytes_(std::move(entry_bytes)), ip_table_address_(ip_table_address),
      size_(std::min(ip_bytes_.size() / 4, entry_bytes_.size() / kOrcEntrySize)), format_(format) {
  bool sorted = true;
  for (size_t i = 1; i < size_ && sorted; ++i) sorted = ip_of_slot(i - 1) <= ip_of_slot(i);
  if (sorted || size_ > kMaxOrcEntries) return;
  // upper_bound needs ip order: sort a permutation (stable: a corrupt table keeps its
  // slot order among equal ips).
  order_.resize(size_);
  for (size_t i = 0; i < size_; ++i) order_[i] = uint32_t(i);
  std::stable_sort(order_.begin(), order_.end(), [this](uint32_t a, uint32_t b) { return ip_of_slot(a) < ip_of_slot(b); });
}

uint64_t OrcTable::ip_of_slot(size_t slot) const {
  int32_t rel;
  std::memcpy(&rel, ip_bytes_.data() + 4 * slot, 4);
  return ip_table_address_ + 4 * slot + int64_t(rel);
}

std::optional<OrcEntry> OrcTable::find(uint64_t ip) const {
  // Binary search over positions in ip order for the first ip above ip.
  size_t lo = 0, hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (this->ip(mid) <= ip) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return std::nullopt;
  size_t slot = order_.empty() ? lo - 1 : order_[lo - 1];
  return decode_orc(std::span<const std::byte, 6>(entry_bytes_.data() + kOrcEntrySize * slot, 6), format_);
}

OrcTables::OrcTables(Fields& fields, const ModuleSet& modules) : fields_(fields), modules_(modules) {}
OrcTables::~OrcTables() = default;

size_t OrcTables::failed_lookups() const { return paged_ ? paged_->failed_lookups() : 0; }
std::string OrcTables::first_lookup_error() const { return paged_ ? paged_->first_error() : std::string(); }
std::string OrcTables::last_lookup_error() const { return paged_ ? paged_->last_error() : std::string(); }

void OrcTables::decide_format() {
  format_decided_ = true;
  OrcFormatFacts facts;
  Target& t = fields_.target();
  facts.struct_known = fields_.size("orc_entry").has_value();
  auto bits = [&](const char* name) -> std::optional<OrcFormatFacts::Bits> {
    auto m = fields_.member("orc_entry", name);
    if (!m) return std::nullopt;
    uint32_t size = m->bit_size ? m->bit_size : uint32_t(m->size * 8);
    return OrcFormatFacts::Bits{uint32_t(m->offset * 8 + m->bit_offset), size};
  };
  facts.sp_reg = bits("sp_reg");
  facts.bp_reg = bits("bp_reg");
  facts.type = bits("type");
  facts.signal = bits("signal");
  facts.end = bits("end");
  auto start = t.symbol_address("__start_orc_header");
  auto stop = t.symbol_address("__stop_orc_header");
  if (start && stop && *stop - *start == kOrcHashSize) {
    std::array<uint8_t, 20> h{};
    if (t.read(*start, std::as_writable_bytes(std::span(h)))) facts.header_hash = h;
  }
  format_ = decide_orc_format(facts);
}

const OrcFormatDecision& OrcTables::format() {
  if (!format_decided_) decide_format();
  if (format_.numbering_from_entries && !vmlinux_loaded_) load_vmlinux();
  return format_;
}

const std::string& OrcTables::vmlinux_error() {
  if (!vmlinux_loaded_) load_vmlinux();
  return vmlinux_.error;
}

size_t OrcTables::vmlinux_entries() {
  if (!vmlinux_loaded_) load_vmlinux();
  return paged_ ? paged_->size() : vmlinux_.size();
}

void OrcTables::load_vmlinux() {
  vmlinux_loaded_ = true;
  if (!format_decided_) decide_format();
  Target& t = fields_.target();
  if (format_.format == OrcFormat::Unknown) {
    vmlinux_.error = "unknown ORC entry format: " + format_.error;
    return;
  }
  auto ip_start = t.symbol_address("__start_orc_unwind_ip");
  auto ip_stop = t.symbol_address("__stop_orc_unwind_ip");
  auto orc_start = t.symbol_address("__start_orc_unwind");
  if (!ip_start || !ip_stop || !orc_start) {
    vmlinux_.error = "no ORC tables in the vmlinux (kernel not built with UNWINDER_ORC?)";
    if (format_.numbering_from_entries) {
      format_.format = OrcFormat::Unknown;
      format_.error = format_.how + "; no table to tell the register numbering from";
    }
    return;
  }
  uint64_t n = *ip_stop > *ip_start ? (*ip_stop - *ip_start) / 4 : 0;
  if (n == 0 || n > kMaxOrcEntries) {
    vmlinux_.error = "implausible ORC table size " + std::to_string(n);
    return;
  }
  // A known format needs only the entries the stacks visit; inferring the numbering
  // needs them all.
  if (!format_.numbering_from_entries) {
    paged_ = std::make_unique<PagedOrcTable>(t, *ip_start, *orc_start, n, format_.format);
    auto first = paged_->ip(0);
    auto last = first ? paged_->ip(n - 1) : std::nullopt;
    if (!first || !last) {
      vmlinux_.error = "ORC table unreadable: " + paged_->last_error();
      paged_.reset();
      return;
    }
    set_text_range(*first, *last);
    return;
  }
  auto ips = read_bulk(t, *ip_start, n * 4);
  auto entries = ips ? read_bulk(t, *orc_start, n * kOrcEntrySize) : tl::unexpected(ips.error());
  if (!ips || !entries) {
    vmlinux_.error = "ORC table unreadable: " + (!ips ? ips.error() : entries.error()).describe();
    format_.format = OrcFormat::Unknown;
    format_.error = format_.how + "; the table to tell the register numbering from is unreadable";
    return;
  }
  format_.numbering_from_entries = false;
  std::string why;
  OrcFormat f = infer_orc_numbering(*entries, why);
  if (f == OrcFormat::Unknown) {
    format_.format = OrcFormat::Unknown;
    format_.error = format_.how + "; " + why;
    vmlinux_.error = "unknown ORC entry format: " + format_.error;
    return;
  }
  format_.format = f;
  format_.inferred = true;
  format_.how += "; inferred from the table: " + why;
  vmlinux_ = OrcTable(std::move(*ips), *ip_start, std::move(*entries), format_.format);
  if (vmlinux_.size()) set_text_range(vmlinux_.ip(0), vmlinux_.ip(vmlinux_.size() - 1));
}

void OrcTables::set_text_range(uint64_t first_ip, uint64_t last_ip) {
  // Beyond the table's text the vmlinux has no entries (the kernel checks
  // is_kernel_text/inittext); the last entry is a terminator.
  Target& t = fields_.target();
  if (auto s = t.symbol_address("_stext")) text_start_ = *s;
  else text_start_ = first_ip;
  if (auto e = t.symbol_address("_einittext")) text_end_ = *e;
  else if (auto e2 = t.symbol_address("_etext")) text_end_ = *e2;
  else text_end_ = last_ip;
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
  // Modules share the vmlinux's format: they are built against its orc_types.h (modpost
  // gives each the same ORC_HEADER since 6.4).
  table = OrcTable(std::move(*ips), m.orc_unwind_ip, std::move(*entries), format_.format);
  return table;
}

std::optional<OrcEntry> OrcTables::find(uint64_t ip) {
  if (format().format == OrcFormat::Unknown) return std::nullopt;
  if (const ModuleInfo* m = modules_.containing(ip)) return module_table(*m).find(ip);
  if (!vmlinux_loaded_) load_vmlinux();
  if (ip < text_start_ || ip >= text_end_) return std::nullopt;
  return paged_ ? paged_->find(ip) : vmlinux_.find(ip);
}

}  // namespace kstuck
