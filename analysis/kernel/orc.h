// SPDX-License-Identifier: GPL-2.0
// ORC unwind tables of the vmlinux and of each module, read from the dump through the Target.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/kernel/modules.h"

namespace kstuck {

// Our own register numbering (the original one of arch/x86/include/asm/orc_types.h, plus
// AX); decode_orc maps each kernel generation onto it.
enum OrcReg : uint8_t {
  kOrcRegUndefined = 0, kOrcRegPrevSp = 1, kOrcRegDx = 2, kOrcRegDi = 3, kOrcRegBp = 4, kOrcRegSp = 5,
  kOrcRegR10 = 6, kOrcRegR13 = 7, kOrcRegBpIndirect = 8, kOrcRegSpIndirect = 9, kOrcRegAx = 10,
  kOrcRegUnknown = 0xff,  // a number the kernel's generation does not define (raw_* keeps it)
};

// Our own type numbering; decode_orc maps each kernel generation onto it.
enum class OrcType : uint8_t { Call, Regs, RegsPartial, EndOfStack, Undefined, Unknown };

struct OrcEntry {
  int16_t sp_offset = 0;
  int16_t bp_offset = 0;
  uint8_t sp_reg = 0;  // OrcReg
  uint8_t bp_reg = 0;  // OrcReg
  OrcType type = OrcType::Unknown;
  // Whether the frame this entry unwinds TO is a signal/exception frame, whose ip is exact
  // (look up ORC at ip, not ip - 1): the kernel's `state->signal = orc->signal` (6.3+).
  // Before 6.3 there is no bit and the kernel took REGS/REGS_PARTIAL as signal frames;
  // decode_orc sets it that way for the first generation.
  bool signal = false;
  uint8_t raw_type = 0, raw_sp_reg = 0, raw_bp_reg = 0;  // as the kernel wrote them
};

// The generations of struct orc_entry: 6 bytes, s16 sp_offset, s16 bp_offset, then a 16-bit
// little-endian word of bitfields (drgn's libdrgn/orc.h documents them bit by bit):
//  V1 (4.14-6.2): sp_reg:4 bp_reg:4 type:2 end:1; types CALL 0, REGS 1, REGS_PARTIAL 2;
//      sp_reg UNDEFINED is the end of the stack with end=1, an undefined ip without.
//  V2 (6.3): sp_reg:4 bp_reg:4 type:2 signal:1 end:1, V1's types.
//      Since Linux commit ffb1b4a41016 ("x86/unwind/orc: Add 'signal' field to ORC metadata") (in v6.3)
//  V3 (6.4-7.0): sp_reg:4 bp_reg:4 type:3 signal:1; types UNDEFINED 0, END_OF_STACK 1,
//      CALL 2, REGS 3, REGS_PARTIAL 4.
//      Since Linux commit fb799447ae29 ("x86,objtool: Split UNWIND_HINT_EMPTY in two") (in v6.4)
//  V4 (7.1+): V3's bits with the registers renumbered: UNDEFINED 0, AX 1, DX 2, SP 3, BP 4,
//      DI 5, R10 6, R13 7, PREV_SP 8, SP_INDIRECT 9, BP_INDIRECT 10.
//      Since Linux commit 1735858caa4b ("objtool/x86: Reorder ORC register numbering") (in v7.1, as drgn records it)
//  V1-V3 share the original numbering: UNDEFINED 0, PREV_SP 1, DX 2, DI 3, BP 4, SP 5, R10 6,
//  R13 7, BP_INDIRECT 8, SP_INDIRECT 9.
enum class OrcFormat { V1, V2, V3, V4, Unknown };
const char* orc_format_name(OrcFormat f);

OrcEntry decode_orc(std::span<const std::byte, 6> raw, OrcFormat format);

// What the type information and the dump say about the entry format, gathered by
// OrcTables (or by a test) and turned into a format by decide_orc_format().
struct OrcFormatFacts {
  // Bit positions from the start of struct orc_entry (offset * 8 + bit_offset) and widths
  // of its bitfields, as the type information describes them; nullopt: no such member.
  struct Bits {
    uint32_t pos = 0, size = 0;
    bool operator==(const Bits&) const = default;
  };
  bool struct_known = false;  // struct orc_entry is in the type information
  std::optional<Bits> sp_reg, bp_reg, type, signal, end;
  // The vmlinux's .orc_header (6.4+: a SHA-1 of orc_types.h's ORC_REG_*/ORC_TYPE_* defines
  // and struct orc_entry, scripts/orc_hash.sh), when the symbols exist and it is readable.
  // Since Linux commit b9f174c811e3 ("x86/unwind/orc: Add ELF section with ORC version identifier") (in v6.4)
  std::optional<std::array<uint8_t, 20>> header_hash;
};

struct OrcFormatDecision {
  OrcFormat format = OrcFormat::Unknown;
  // The bits say V3 but neither a known hash nor anything else tells V3 from V4: the caller
  // infers the numbering from the table's entries (infer_orc_numbering).
  bool numbering_from_entries = false;
  // The numbering was inferred from the entries (infer_orc_numbering), not known: a
  // deduction the report says (`how` tells from what).
  bool inferred = false;
  std::string how;    // what decided it, e.g. "struct orc_entry: type:3 signal:1; .orc_header 137c36ad.. (V4)"
  std::string error;  // non-empty when the format is Unknown: which fact is not recognized
};

OrcFormatDecision decide_orc_format(const OrcFormatFacts& facts);

// For a V3-shaped table whose register numbering is not known from the hash: the stack
// pointer is by far the most common CFA base of CALL entries, numbered 5 originally and 3
// after the renumbering. Returns V3 or V4 when one clearly dominates (and says so in
// `why`), Unknown otherwise. `entries` are raw 6-byte entries.
OrcFormat infer_orc_numbering(std::span<const std::byte> entries, std::string& why);

// One table as the kernel keeps it: int32 ip offsets relative to each slot, and raw 6-byte
// entries decoded at lookup (10 bytes an entry: the vmlinux has about 370,000 of them,
// and a decoded copy would triple the peak RSS they cost).
class OrcTable {
 public:
  OrcTable() = default;
  // From the raw arrays (vmlinux and modules, and tests); takes their bytes over.
  OrcTable(std::vector<std::byte> ip_bytes, uint64_t ip_table_address, std::vector<std::byte> entry_bytes,
           OrcFormat format);

  std::string error;  // why the table is empty
  size_t size() const { return order_.empty() ? size_ : order_.size(); }
  // The absolute ip of the i-th entry in ip order.
  uint64_t ip(size_t i) const { return ip_of_slot(order_.empty() ? i : order_[i]); }
  // The rightmost entry whose ip <= ip, like __orc_find().
  std::optional<OrcEntry> find(uint64_t ip) const;

 private:
  uint64_t ip_of_slot(size_t slot) const;
  std::vector<std::byte> ip_bytes_, entry_bytes_;
  uint64_t ip_table_address_ = 0;
  size_t size_ = 0;
  OrcFormat format_ = OrcFormat::Unknown;
  // Slots in ip order, only when the dump's table is not sorted (the kernel sorts it:
  // at build time for vmlinux, at load for modules; a corrupt dump may not be).
  std::vector<uint32_t> order_;
};

class PagedOrcTable;

class OrcTables {
 public:
  OrcTables(Fields& fields, const ModuleSet& modules);
  ~OrcTables();

  // The entry covering ip (vmlinux core and init text, or a module's text), or nullopt.
  // Always nullopt when the format is unknown (see format()).
  std::optional<OrcEntry> find(uint64_t ip);
  // Why the vmlinux table is unusable (no tables, unreadable, unknown entry format); empty
  // when it is fine.
  const std::string& vmlinux_error();
  // The entry format and how it was decided (loads the vmlinux table when the register
  // numbering has to be inferred from it).
  const OrcFormatDecision& format();
  bool format_known() { return format().format != OrcFormat::Unknown; }
  size_t vmlinux_entries();
  // Lookups in the vmlinux table that failed on an unreadable page (it is read a page at
  // a time), and the first reason; the reason of the last find() that failed that way.
  size_t failed_lookups() const;
  std::string first_lookup_error() const;
  std::string last_lookup_error() const;

 private:
  void decide_format();
  void load_vmlinux();
  void set_text_range(uint64_t first_ip, uint64_t last_ip);
  const OrcTable& module_table(const ModuleInfo& m);

  Fields& fields_;
  const ModuleSet& modules_;
  bool format_decided_ = false;
  OrcFormatDecision format_;
  bool vmlinux_loaded_ = false;
  // The vmlinux table: read a page at a time (paged_), or whole (vmlinux_) when its
  // register numbering had to be inferred from all of its entries.
  OrcTable vmlinux_;
  std::unique_ptr<PagedOrcTable> paged_;
  uint64_t text_start_ = 0, text_end_ = 0;  // vmlinux ips covered by the table
  std::map<uint64_t, OrcTable> module_tables_;
};

}  // namespace kstuck
