// SPDX-License-Identifier: GPL-2.0
// Fields: struct members resolved by name through the Target once, then read by name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "analysis/target.h"

namespace kstuck {

// Every struct access of the analysis goes through here: a member's offset and size come
// from the target's type information (never a hard-coded offset) and are cached, so a
// walk over 10,000 tasks asks the type index once per member. Lookups that fail are
// cached too, which makes has() cheap for probing which kernel layout is present.
class Fields {
 public:
  explicit Fields(Target& target) : target_(target) {}

  Target& target() { return target_; }

  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path);
  Result<uint64_t> offset(std::string_view struct_name, std::string_view member_path);
  Result<uint64_t> size(std::string_view struct_name);
  // Whether the member exists in this kernel (MEMBER_EXISTS).
  bool has(std::string_view struct_name, std::string_view member_path);

  // Reads an unsigned integer member of 1, 2, 4 or 8 bytes, zero-extended
  // (a bitfield is extracted from its storage unit).
  Result<uint64_t> read_uint(uint64_t object, std::string_view struct_name, std::string_view member_path);
  // Reads a signed integer member of 1, 2, 4 or 8 bytes, sign-extended.
  Result<int64_t> read_int(uint64_t object, std::string_view struct_name, std::string_view member_path);
  // Reads a pointer member (8 bytes).
  Result<uint64_t> read_ptr(uint64_t object, std::string_view struct_name, std::string_view member_path);
  // Reads a char array member up to its first NUL (at most the member's size).
  Result<std::string> read_chars(uint64_t object, std::string_view struct_name, std::string_view member_path);

 private:
  Target& target_;
  std::map<std::pair<std::string, std::string>, Result<TypeMember>, std::less<>> members_;
  std::map<std::string, Result<uint64_t>, std::less<>> sizes_;
};

// Reads a NUL-terminated string of at most max_len bytes (bounded, page-fault safe).
Result<std::string> read_c_string(Target& target, uint64_t address, size_t max_len);

// Sign-extends/validates: a kernel pointer on x86-64 is canonical and in the upper half.
inline bool is_kernel_pointer(uint64_t p) { return p >= 0xffff800000000000ULL; }

}  // namespace kstuck
