// SPDX-License-Identifier: GPL-2.0
// DwarfTypes: struct sizes and member offsets from a debug vmlinux's DWARF (libdw), for
// kernels built without BTF and types BTF lacks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "analysis/error.h"
#include "analysis/target.h"

struct Dwarf;
struct Elf;

namespace kstuck {

// Answers exactly as BtfTypes does (same names, paths, bitfield units and type names), so
// an analysis cannot tell which one it got. Debian's 6.1 vmlinux has 160 MB of
// .debug_info in 2,172 units: nothing is indexed up front. The top-level struct, union and
// typedef DIEs of units are indexed by name as lookups need them, one unit after the
// other, so a type defined early (task_struct is in the first C unit) costs a few units,
// and only a name no unit defines reads them all (3.6 million DIEs, 0.3 s), once.
// Answers are cached, failures included. Types defined inside a function are not found
// (BTF has them; nothing the analysis reads is one).
class DwarfTypes {
 public:
  ~DwarfTypes();
  DwarfTypes(const DwarfTypes&) = delete;
  DwarfTypes& operator=(const DwarfTypes&) = delete;

  // An ELF file with .debug_info (a debug vmlinux); NotFound if it has no DWARF.
  static Result<std::unique_ptr<DwarfTypes>> open(const std::string& path);

  // A struct name may be given as "task_struct", "struct task_struct", "union ..." or a
  // typedef name, as for BtfTypes.
  Result<uint64_t> struct_size(std::string_view name);
  // member_path: "a.b.c", members of anonymous structs/unions by their own names, and
  // array elements as "numbers[0].nr".
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path);

  const std::string& path() const { return path_; }

 private:
  struct Resolver;
  // First complete definitions of top-level aggregates and typedefs, by name. The names
  // point into the mapped .debug_str/.debug_info and live as long as dwarf_.
  struct NameIndex {
    std::unordered_map<std::string_view, uint64_t> structs, unions, typedefs;
  };
  enum class Kind { Struct, Union, Typedef };

  DwarfTypes() = default;
  // The DIE offset of the first complete definition of this kind and name, indexing
  // further compile units until it turns up (0: no unit defines it).
  uint64_t first_named(std::string_view name, Kind kind);
  void index_next_unit();

  std::string path_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
  NameIndex index_;
  uint64_t next_unit_ = 0;  // .debug_info offset of the first unit not indexed yet
  bool indexed_all_ = false;
  std::unordered_map<std::string, Result<uint64_t>> size_cache_;
  std::unordered_map<std::string, Result<TypeMember>> member_cache_;
};

}  // namespace kstuck
