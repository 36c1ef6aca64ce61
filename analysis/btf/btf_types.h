// SPDX-License-Identifier: GPL-2.0
// BtfTypes: struct sizes and member offsets from the vmlinux's .BTF section (libbpf).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "analysis/error.h"
#include "analysis/target.h"

struct btf;

namespace kstuck {

// BTF describes every kernel type in a few MB, so no DWARF is indexed for types.
// Lookups are cached; a struct name may be given as "task_struct", "struct task_struct",
// "union ..." or a typedef name.
class BtfTypes {
 public:
  ~BtfTypes();
  BtfTypes(const BtfTypes&) = delete;
  BtfTypes& operator=(const BtfTypes&) = delete;

  static Result<std::unique_ptr<BtfTypes>> open(const std::string& vmlinux);

  Result<uint64_t> struct_size(std::string_view name);
  // member_path: "a.b.c", members of anonymous structs/unions by their own names, and
  // array elements as "numbers[0].nr".
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path);
  // A C-like name of a type id ("struct list_head", "long unsigned int", "void *").
  std::string type_name(int32_t id) const;

 private:
  BtfTypes() = default;
  Result<int32_t> find_aggregate(std::string_view name) const;
  int32_t skip_qualifiers(int32_t id) const;
  Result<TypeMember> resolve_member(std::string_view struct_name, std::string_view member_path) const;

  struct btf* btf_ = nullptr;
  std::unordered_map<std::string, Result<uint64_t>> size_cache_;
  std::unordered_map<std::string, Result<TypeMember>> member_cache_;
};

}  // namespace kstuck
