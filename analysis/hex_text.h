// SPDX-License-Identifier: GPL-2.0
// An address or value as reports print it: 0x-prefixed lower-case hex.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace kstuck {

inline std::string hex_text(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace kstuck
