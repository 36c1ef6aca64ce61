// SPDX-License-Identifier: GPL-2.0
// Where a member found by type information sits, the same from BTF and from DWARF.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "analysis/target.h"

namespace kstuck {

// A member `bits` bits into its outer struct, of `size` bytes (size < 0: unknown), a
// bitfield of `bitfield` bits or 0. A bitfield is reported within a naturally aligned unit
// of its declared type, the way a compiler reads it; a packed layout that straddles falls
// back to 8 bytes.
inline TypeMember place_member(uint64_t bits, uint32_t bitfield, int64_t size, std::string type_name) {
  TypeMember m;
  m.size = size < 0 ? 0 : static_cast<uint64_t>(size);
  m.type_name = std::move(type_name);
  if (bitfield == 0) {
    m.offset = bits / 8;
    return m;
  }
  uint64_t unit = m.size ? m.size : 1;
  m.offset = bits / (unit * 8) * unit;
  uint64_t within = bits - m.offset * 8;
  if (within + bitfield > unit * 8) {
    m.offset = bits / 8;
    within = bits % 8;
    m.size = 8;
  }
  m.bit_offset = static_cast<uint32_t>(within);
  m.bit_size = bitfield;
  return m;
}

// One step of a member path "a.b[2].c": the member's name and its subscripts ("[2]", or
// empty); consumes it from rest.
struct MemberPathStep {
  std::string_view name, indexes;
};

inline MemberPathStep next_path_step(std::string_view& rest) {
  size_t dot = rest.find('.');
  std::string_view part = rest.substr(0, dot);
  rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  size_t bracket = part.find('[');
  return {part.substr(0, bracket), bracket == std::string_view::npos ? std::string_view() : part.substr(bracket)};
}

// The next subscript of a step's "[1][2]", consumed from indexes (not empty).
inline Result<uint64_t> next_subscript(std::string_view& indexes, std::string_view member_path) {
  size_t close = indexes.find(']');
  uint64_t index = 0;
  if (indexes[0] == '[' && close != std::string_view::npos) {
    auto [p, ec] = std::from_chars(indexes.data() + 1, indexes.data() + close, index);
    if (ec == std::errc() && p == indexes.data() + close) {
      indexes.remove_prefix(close + 1);
      return index;
    }
  }
  return fail(ErrorKind::Invalid, "bad subscript in '" + std::string(member_path) + "'");
}

}  // namespace kstuck
