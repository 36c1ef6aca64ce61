// SPDX-License-Identifier: GPL-2.0
// Set bits in a run of bitmap bytes (the dump's page bitmaps). Counted eight bytes at a
// time by hand: Debian's x86-64 baseline has no POPCNT instruction, and std::popcount
// becomes a libgcc call per byte (2% of a no-vmlinux run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kstuck {

inline uint64_t count_set_bits(const unsigned char* bytes, size_t n) {
  uint64_t count = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, bytes + i, 8);
    v = v - ((v >> 1) & 0x5555555555555555ULL);
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    count += (v * 0x0101010101010101ULL) >> 56;
  }
  for (; i < n; i++)
    for (unsigned char b = bytes[i]; b; b &= static_cast<unsigned char>(b - 1)) count++;
  return count;
}

}  // namespace kstuck
