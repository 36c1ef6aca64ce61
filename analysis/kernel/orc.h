// SPDX-License-Identifier: GPL-2.0
// ORC unwind tables of the vmlinux and of each module, read from the dump through the Target.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/fields.h"
#include "analysis/kernel/modules.h"

namespace kstuck {

// Registers an ORC entry can name (arch/x86/include/asm/orc_types.h, unchanged 4.14-6.12).
enum OrcReg : uint8_t {
  kOrcRegUndefined = 0, kOrcRegPrevSp = 1, kOrcRegDx = 2, kOrcRegDi = 3, kOrcRegBp = 4, kOrcRegSp = 5,
  kOrcRegR10 = 6, kOrcRegR13 = 7, kOrcRegBpIndirect = 8, kOrcRegSpIndirect = 9,
};

// Our own type numbering; decode_orc maps each kernel generation onto it.
enum class OrcType : uint8_t { Call, Regs, RegsPartial, EndOfStack, Undefined, Unknown };

struct OrcEntry {
  int16_t sp_offset = 0;
  int16_t bp_offset = 0;
  uint8_t sp_reg = 0;
  uint8_t bp_reg = 0;
  OrcType type = OrcType::Unknown;
  bool signal = false;  // 6.3+: ip is exact (a signal/regs frame follows)
  uint8_t raw_type = 0;
};

// The two on-disk generations of struct orc_entry (6 bytes, little-endian bitfields):
//  - up to 6.2: sp_reg:4 bp_reg:4 type:2 end:1, types CALL 0, REGS 1, REGS_PARTIAL 2;
//    sp_reg UNDEFINED + end=1 is the end of the stack.
//  - 6.3+ (ffb1b4a41016 "x86/unwind/orc: Add 'signal' field to ORC metadata") and 6.4+
//    (fb799447ae29 "x86,objtool: Split UNWIND_HINT_EMPTY in two"): type:3 signal:1 with
//    UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4.
enum class OrcFormat { Legacy, Signal };
OrcEntry decode_orc(std::span<const std::byte, 6> raw, OrcFormat format);

// One sorted table: absolute IPs (the kernel stores int32 offsets relative to each slot)
// and their entries.
struct OrcTable {
  std::vector<uint64_t> ips;
  std::vector<OrcEntry> entries;
  std::string error;  // why the table is empty
  // Rightmost entry whose ip <= ip, like __orc_find().
  const OrcEntry* find(uint64_t ip) const;
};

// Builds a table from the raw arrays (used for vmlinux and modules, and by tests).
OrcTable build_orc_table(std::span<const std::byte> ip_bytes, uint64_t ip_table_address,
                         std::span<const std::byte> entry_bytes, OrcFormat format);

class OrcTables {
 public:
  OrcTables(Fields& fields, const ModuleSet& modules);

  // The entry covering ip (vmlinux core and init text, or a module's text), or nullopt
  // with why_missing() saying why.
  const OrcEntry* find(uint64_t ip);
  const std::string& vmlinux_error() const { return vmlinux_.error; }
  OrcFormat format() const { return format_; }
  size_t vmlinux_entries() const { return vmlinux_.entries.size(); }

 private:
  void load_vmlinux();
  const OrcTable& module_table(const ModuleInfo& m);

  Fields& fields_;
  const ModuleSet& modules_;
  OrcFormat format_ = OrcFormat::Legacy;
  bool vmlinux_loaded_ = false;
  OrcTable vmlinux_;
  uint64_t text_start_ = 0, text_end_ = 0;  // vmlinux ips covered by the table
  std::map<uint64_t, OrcTable> module_tables_;
};

}  // namespace kstuck
