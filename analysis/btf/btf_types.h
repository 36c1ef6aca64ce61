// SPDX-License-Identifier: GPL-2.0
// BtfTypes: struct sizes and member offsets from BTF (libbpf): a vmlinux's .BTF section,
// the bytes between a dump's __start_BTF and __stop_BTF, or a module's split BTF.
#pragma once

#include <cstdint>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

  // The .BTF section of an ELF file (a vmlinux).
  static Result<std::unique_ptr<BtfTypes>> open(const std::string& vmlinux);
  // Raw BTF bytes (header, types, strings), e.g. read from a dump's memory. libbpf copies
  // and validates them; hostile bytes give a Format error, never a crash.
  static Result<std::unique_ptr<BtfTypes>> from_bytes(std::span<const std::byte> data);
  // A module's split BTF: its type ids continue the base's (vmlinux) ids. The base must
  // outlive the result.
  static Result<std::unique_ptr<BtfTypes>> from_split_bytes(std::span<const std::byte> data, const BtfTypes& base);

  // Number of types (ids 1..count-1; the base's included for split BTF).
  uint32_t type_count() const;
  // The size of a named variable's type, if BTF describes the variable (pahole emits
  // VARs for per-CPU variables only).
  Result<uint64_t> variable_size(std::string_view name) const;
  // The raw libbpf object, for split loading and tests.
  const struct btf* raw() const { return btf_; }

  Result<uint64_t> struct_size(std::string_view name);
  // member_path: "a.b.c", members of anonymous structs/unions by their own names, and
  // array elements as "numbers[0].nr".
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path);
  // A C-like name of a type id ("struct list_head", "long unsigned int", "void *").
  std::string type_name(int32_t id) const;

 private:
  BtfTypes() = default;
  static Result<std::unique_ptr<BtfTypes>> adopt(struct btf* b, int err, const std::string& what);
  Result<int32_t> find_aggregate(std::string_view name) const;
  // The lowest id of a type of this kind and name, like btf__find_by_name_kind() but
  // through a name index built once (that call scans every type: about 100,000 on 6.1).
  int32_t first_named(std::string_view name, uint32_t kind) const;
  int32_t skip_qualifiers(int32_t id) const;
  Result<TypeMember> resolve_member(std::string_view struct_name, std::string_view member_path) const;

  struct btf* btf_ = nullptr;
  // Structs, unions and typedefs as (FNV-1a hash of the name << 32 | id), sorted.
  mutable std::vector<uint64_t> name_index_;
  mutable bool name_index_built_ = false;
  std::unordered_map<std::string, Result<uint64_t>> size_cache_;
  std::unordered_map<std::string, Result<TypeMember>> member_cache_;
};

}  // namespace kstuck
