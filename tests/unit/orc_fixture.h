// SPDX-License-Identifier: GPL-2.0
// ORC test helpers: a FakeTarget with bitfield members, struct orc_entry of each generation,
// the .orc_header hash, and an encoder of entries per generation.
#pragma once

#include <array>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "analysis/kernel/orc.h"
#include "tests/unit/fake_target.h"

namespace kstuck::test {

// FakeMember carries no bit positions; this target adds them for the members that need them.
class OrcTarget : public FakeTarget {
 public:
  void add_bitfield(const std::string& struct_name, const std::string& member, uint64_t offset, uint64_t size,
                    uint32_t bit_offset, uint32_t bit_size) {
    TypeMember m;
    m.offset = offset;
    m.size = size;
    m.bit_offset = bit_offset;
    m.bit_size = bit_size;
    m.type_name = "unsigned int";
    bitfields_[{struct_name, member}] = m;
  }
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path) override {
    auto it = bitfields_.find({std::string(struct_name), std::string(member_path)});
    if (it != bitfields_.end()) return it->second;
    return FakeTarget::member(struct_name, member_path);
  }

 private:
  std::map<std::pair<std::string, std::string>, TypeMember> bitfields_;
};

// struct orc_entry as BTF describes it: s16 sp_offset, s16 bp_offset, then `unsigned`
// bitfields reported in their 4-byte storage unit at offset 4 (bit offsets within it).
inline void declare_orc_entry(OrcTarget& t, OrcFormat f) {
  t.add_struct("orc_entry", 6, {{"sp_offset", 0, 2, "s16"}, {"bp_offset", 2, 2, "s16"}});
  t.add_bitfield("orc_entry", "sp_reg", 4, 4, 0, 4);
  t.add_bitfield("orc_entry", "bp_reg", 4, 4, 4, 4);
  switch (f) {
    case OrcFormat::V1:
      t.add_bitfield("orc_entry", "type", 4, 4, 8, 2);
      t.add_bitfield("orc_entry", "end", 4, 4, 10, 1);
      break;
    case OrcFormat::V2:
      t.add_bitfield("orc_entry", "type", 4, 4, 8, 2);
      t.add_bitfield("orc_entry", "signal", 4, 4, 10, 1);
      t.add_bitfield("orc_entry", "end", 4, 4, 11, 1);
      break;
    case OrcFormat::V3:
    case OrcFormat::V4:
      t.add_bitfield("orc_entry", "type", 4, 4, 8, 3);
      t.add_bitfield("orc_entry", "signal", 4, 4, 11, 1);
      break;
    case OrcFormat::Unknown: break;
  }
}

// The .orc_header hashes of Debian's 6.12 (V3) and 7.3 (V4) kernels.
inline constexpr std::array<uint8_t, 20> kHash612 = {0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9,
                                                     0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24};
inline constexpr std::array<uint8_t, 20> kHash73 = {0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93,
                                                    0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc, 0x82};

inline void add_orc_header(OrcTarget& t, const std::array<uint8_t, 20>& hash) {
  uint64_t a = t.add_global("__start_orc_header", 20);
  t.write(a, hash.data(), hash.size());
  t.add_symbol("__stop_orc_header", a + 20);
}

// Declares a kernel of generation f in the type info (and its .orc_header from V3 on).
inline void declare_orc_kernel(OrcTarget& t, OrcFormat f) {
  declare_orc_entry(t, f);
  if (f == OrcFormat::V3) add_orc_header(t, kHash612);
  if (f == OrcFormat::V4) add_orc_header(t, kHash73);
}

// One entry in our own terms, encoded as generation f writes it.
struct OrcSpec2 {
  int16_t sp_offset = 0;
  uint8_t sp_reg = kOrcRegUndefined;  // OrcReg
  uint8_t bp_reg = kOrcRegUndefined;  // OrcReg
  OrcType type = OrcType::Call;
  bool signal = false;  // V2+ only (V1 derives it from the type)
  int16_t bp_offset = 0;
};

inline uint8_t encode_reg(uint8_t ours, OrcFormat f) {
  if (f != OrcFormat::V4) return ours;
  switch (ours) {
    case kOrcRegUndefined: return 0;
    case kOrcRegAx: return 1;
    case kOrcRegDx: return 2;
    case kOrcRegSp: return 3;
    case kOrcRegBp: return 4;
    case kOrcRegDi: return 5;
    case kOrcRegR10: return 6;
    case kOrcRegR13: return 7;
    case kOrcRegPrevSp: return 8;
    case kOrcRegSpIndirect: return 9;
    case kOrcRegBpIndirect: return 10;
    default: return 15;
  }
}

inline std::array<std::byte, 6> encode_orc(const OrcSpec2& s, OrcFormat f) {
  uint16_t bits = uint16_t(encode_reg(s.sp_reg, f) | encode_reg(s.bp_reg, f) << 4);
  if (f == OrcFormat::V1 || f == OrcFormat::V2) {
    unsigned type = 0, end = 0;
    switch (s.type) {
      case OrcType::Call: type = 0; break;
      case OrcType::Regs: type = 1; break;
      case OrcType::RegsPartial: type = 2; break;
      case OrcType::EndOfStack: bits &= 0xf0; end = 1; break;  // sp_reg UNDEFINED + end
      case OrcType::Undefined: bits &= 0xf0; break;            // sp_reg UNDEFINED
      default: type = 3; break;
    }
    bits |= uint16_t(type << 8);
    if (f == OrcFormat::V1) bits |= uint16_t(end << 10);
    else bits |= uint16_t((s.signal ? 1 : 0) << 10 | end << 11);
  } else {
    unsigned type = 7;
    switch (s.type) {
      case OrcType::Undefined: type = 0; break;
      case OrcType::EndOfStack: type = 1; break;
      case OrcType::Call: type = 2; break;
      case OrcType::Regs: type = 3; break;
      case OrcType::RegsPartial: type = 4; break;
      default: break;
    }
    bits |= uint16_t(type << 8 | (s.signal ? 1 : 0) << 11);
  }
  std::array<std::byte, 6> out{};
  std::memcpy(out.data(), &s.sp_offset, 2);
  std::memcpy(out.data() + 2, &s.bp_offset, 2);
  std::memcpy(out.data() + 4, &bits, 2);
  return out;
}

// Lays out the vmlinux ORC table (relative ip slots + 6-byte entries) for generation f.
inline void add_vmlinux_orc(OrcTarget& t, OrcFormat f, const std::vector<std::pair<uint64_t, OrcSpec2>>& entries) {
  uint64_t ips = t.add_global("__start_orc_unwind_ip", entries.size() * 4);
  t.add_symbol("__stop_orc_unwind_ip", ips + entries.size() * 4);
  uint64_t orcs = t.add_global("__start_orc_unwind", entries.size() * 6);
  for (size_t i = 0; i < entries.size(); ++i) {
    t.write_u32(ips + 4 * i, uint32_t(int32_t(int64_t(entries[i].first) - int64_t(ips + 4 * i))));
    auto raw = encode_orc(entries[i].second, f);
    t.write(orcs + 6 * i, raw.data(), raw.size());
  }
}

}  // namespace kstuck::test
