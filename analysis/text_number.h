// SPDX-License-Identifier: GPL-2.0
// Numbers written as text by the kernel (VMCOREINFO values): the whole text or nothing, so
// a damaged digit string ("179669541&") is never read as the number before the damage.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kstuck {

// "ffffffff81000000" or "0xffffffff81000000".
inline std::optional<uint64_t> parse_hex_u64(std::string_view s) {
  if (s.substr(0, 2) == "0x") s.remove_prefix(2);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "1796695416", "-1".
inline std::optional<int64_t> parse_decimal_i64(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace kstuck
