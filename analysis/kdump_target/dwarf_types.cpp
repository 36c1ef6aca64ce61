// SPDX-License-Identifier: GPL-2.0
// DwarfTypes: BtfTypes's member resolution over libdw DIEs, bounded and cached.
#include "analysis/kdump_target/dwarf_types.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "analysis/kdump_target/input_file.h"
#include "analysis/member_layout.h"

namespace kstuck {
namespace {

// Nesting of anonymous members and of qualifier chains never comes close to this; the
// same bound as BtfTypes, so both give up on the same pathological chains.
constexpr int kMaxDepth = 32;
// Bounds against hostile DWARF, far above what a vmlinux has (Debian's 6.1: at most 6,379
// top-level DIEs in a unit, 244 members in a struct, 3 array dimensions).
constexpr size_t kMaxUnitDies = size_t{1} << 22;
constexpr size_t kMaxMembers = size_t{1} << 16;
constexpr size_t kMaxDims = 64;
// BtfTypes's find_in() visits at most this many aggregates per lookup.
constexpr int kMaxAggregatesVisited = 4096;

std::string_view strip_prefix(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  return name;
}

bool is_aggregate(int tag) { return tag == DW_TAG_structure_type || tag == DW_TAG_union_type; }

// What BtfTypes looks through to reach a type: BTF's TYPEDEF, CONST, VOLATILE, RESTRICT;
// BTF has no _Atomic, so that is looked through as well.
bool is_alias(int tag) {
  return tag == DW_TAG_typedef || tag == DW_TAG_const_type || tag == DW_TAG_volatile_type ||
         tag == DW_TAG_restrict_type || tag == DW_TAG_atomic_type;
}

// A type as the resolver walks it: no DW_AT_type means void.
struct TypeRef {
  Dwarf_Die die{};
  bool is_void = true;
};

TypeRef type_of(Dwarf_Die* die) {
  TypeRef t;
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, &t.die)) t.is_void = false;
  return t;
}

std::optional<uint64_t> unsigned_attr(Dwarf_Die* die, unsigned name) {
  Dwarf_Attribute attr;
  Dwarf_Word v = 0;
  if (!dwarf_attr_integrate(die, name, &attr) || dwarf_formudata(&attr, &v) != 0) return std::nullopt;
  return v;
}

// An array bound. GCC writes a zero-length array's upper bound as -1, as sdata; data1..4
// are unsigned (a 256-entry array's bound is data1 0xff), data8 is taken as signed.
std::optional<int64_t> bound_value(Dwarf_Attribute* attr) {
  switch (dwarf_whatform(attr)) {
    case DW_FORM_sdata:
    case DW_FORM_implicit_const: {
      Dwarf_Sword s = 0;
      if (dwarf_formsdata(attr, &s) != 0) return std::nullopt;
      return s;
    }
    case DW_FORM_data1:
    case DW_FORM_data2:
    case DW_FORM_data4:
    case DW_FORM_data8:
    case DW_FORM_udata: {
      Dwarf_Word w = 0;
      if (dwarf_formudata(attr, &w) != 0) return std::nullopt;
      return static_cast<int64_t>(w);
    }
    default:
      return std::nullopt;  // a variable length array's bound is an expression
  }
}

// Elements in one subrange; 0 for a flexible or zero-length array, as pahole counts them.
uint64_t subrange_count(Dwarf_Die* sub) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(sub, DW_AT_count, &attr)) {
    auto count = bound_value(&attr);
    return count && *count > 0 ? static_cast<uint64_t>(*count) : 0;
  }
  if (!dwarf_attr_integrate(sub, DW_AT_upper_bound, &attr)) return 0;
  auto upper = bound_value(&attr);
  if (!upper) return 0;
  int64_t lower = 0;
  if (dwarf_attr_integrate(sub, DW_AT_lower_bound, &attr)) {
    auto l = bound_value(&attr);
    if (!l) return 0;
    lower = *l;
  }
  return *upper >= lower ? static_cast<uint64_t>(*upper - lower) + 1 : 0;
}

// The elements of an array, all its subranges together: pahole encodes C's "int a[2][3]"
// (one DW_TAG_array_type with two subranges) as BTF's int[6], so BtfTypes names it
// "int[6]" and subscripts it as one dimension. Saturates at BTF's 32-bit count.
uint64_t array_elements(Dwarf_Die* array) {
  uint64_t elements = 0;
  Dwarf_Die child;
  if (dwarf_child(array, &child) != 0) return 0;
  for (size_t dims = 0; dims < kMaxDims;) {
    if (dwarf_tag(&child) == DW_TAG_subrange_type) {
      uint64_t count = subrange_count(&child);
      elements = dims++ == 0 ? count : count && elements > UINT32_MAX / count ? UINT32_MAX : elements * count;
    }
    Dwarf_Die next;
    if (dwarf_siblingof(&child, &next) != 0) break;
    child = next;
  }
  return std::min<uint64_t>(elements, UINT32_MAX);
}

// DW_AT_data_member_location: a constant, or (DWARF 2) an expression that adds one.
std::optional<uint64_t> member_location(Dwarf_Die* member) {
  Dwarf_Attribute attr;
  if (!dwarf_attr_integrate(member, DW_AT_data_member_location, &attr)) return 0;  // a union member
  Dwarf_Word v = 0;
  if (dwarf_formudata(&attr, &v) == 0) return v;
  Dwarf_Op* ops = nullptr;
  size_t n = 0;
  if (dwarf_getlocation(&attr, &ops, &n) == 0 && n == 1 &&
      (ops[0].atom == DW_OP_plus_uconst || ops[0].atom == DW_OP_constu))
    return ops[0].number;
  return std::nullopt;
}

struct MemberBits {
  uint64_t offset = 0;  // from the start of the enclosing struct or union
  uint32_t bitfield_size = 0;
};

std::optional<MemberBits> member_bits(Dwarf_Die* member) {
  MemberBits out;
  if (auto bit_size = unsigned_attr(member, DW_AT_bit_size)) out.bitfield_size = static_cast<uint32_t>(*bit_size);
  if (auto data_bit_offset = unsigned_attr(member, DW_AT_data_bit_offset)) {
    out.offset = *data_bit_offset;
    return out;
  }
  auto bytes = member_location(member);
  if (!bytes) return std::nullopt;
  out.offset = *bytes * 8;
  // DWARF 2/3 bitfields count DW_AT_bit_offset from the storage unit's most significant
  // bit; on little-endian x86 the bit number from the start is the mirror image.
  if (auto big_endian_bit = unsigned_attr(member, DW_AT_bit_offset); big_endian_bit && out.bitfield_size) {
    auto storage = unsigned_attr(member, DW_AT_byte_size);
    if (!storage) {
      TypeRef t = type_of(member);
      if (!t.is_void) storage = unsigned_attr(&t.die, DW_AT_byte_size);
    }
    if (!storage || *big_endian_bit + out.bitfield_size > *storage * 8) return std::nullopt;
    out.offset += *storage * 8 - *big_endian_bit - out.bitfield_size;
  }
  return out;
}

}  // namespace

// The lookups over DIEs, nested in DwarfTypes to reach its name index.
struct DwarfTypes::Resolver {
  DwarfTypes& self;

  struct Found {
    TypeRef type;
    uint64_t bit_offset = 0;
    uint32_t bitfield_size = 0;
  };

  // A struct or union DIE that only declares the type (a pointer's target in a unit that
  // never defines it) stands for the first definition of that name anywhere.
  bool complete(Dwarf_Die& die) {
    if (!dwarf_hasattr(&die, DW_AT_declaration)) return true;
    const char* name = dwarf_diename(&die);
    if (!name || !*name) return false;
    uint64_t off = self.first_named(name, dwarf_tag(&die) == DW_TAG_union_type ? Kind::Union : Kind::Struct);
    return off && dwarf_offdie(self.dwarf_, off, &die);
  }

  TypeRef skip_aliases(TypeRef t) {
    for (int depth = 0; depth < kMaxDepth && !t.is_void; depth++) {
      if (!is_alias(dwarf_tag(&t.die))) return t;
      t = type_of(&t.die);
    }
    return t;
  }

  // The struct or union a name stands for, in BtfTypes's order: a struct, else a union,
  // else a typedef of either.
  Result<Dwarf_Die> find_aggregate(std::string_view name) {
    Dwarf_Die die;
    std::string_view plain;
    if (name.substr(0, 6) == "union ") {
      plain = strip_prefix(name, "union ");
      if (uint64_t off = self.first_named(plain, Kind::Union); off && dwarf_offdie(self.dwarf_, off, &die)) return die;
    } else {
      plain = strip_prefix(name, "struct ");
      if (uint64_t off = self.first_named(plain, Kind::Struct); off && dwarf_offdie(self.dwarf_, off, &die)) return die;
      if (uint64_t off = self.first_named(plain, Kind::Union); off && dwarf_offdie(self.dwarf_, off, &die)) return die;
      if (uint64_t off = self.first_named(plain, Kind::Typedef); off && dwarf_offdie(self.dwarf_, off, &die)) {
        TypeRef target = skip_aliases(TypeRef{die, false});
        if (!target.is_void && is_aggregate(dwarf_tag(&target.die)) && complete(target.die)) return target.die;
      }
    }
    return fail(ErrorKind::NotFound, "no type '" + std::string(name) + "' in DWARF");
  }

  // Like btf__resolve_size(): -1 for void, functions and anything unsized.
  int64_t size_of(TypeRef t) {
    uint64_t nelems = 1;
    for (int depth = 0; depth < kMaxDepth; depth++) {
      if (t.is_void) return -1;
      int tag = dwarf_tag(&t.die);
      if (tag == DW_TAG_array_type) {
        uint64_t elements = array_elements(&t.die);
        if (nelems && elements > UINT32_MAX / nelems) return -1;
        nelems *= elements;
        t = type_of(&t.die);
        continue;
      }
      if (is_alias(tag)) {
        t = type_of(&t.die);
        continue;
      }
      std::optional<uint64_t> size;
      if (is_aggregate(tag)) {
        if (complete(t.die)) size = unsigned_attr(&t.die, DW_AT_byte_size);
      } else if (tag == DW_TAG_base_type || tag == DW_TAG_enumeration_type) {
        size = unsigned_attr(&t.die, DW_AT_byte_size);
      } else if (tag == DW_TAG_pointer_type) {
        size = unsigned_attr(&t.die, DW_AT_byte_size);
        uint8_t address_size = 0;
        Dwarf_Die unit;
        if (!size && dwarf_diecu(&t.die, &unit, &address_size, nullptr)) size = address_size;
      }
      if (!size || (nelems && *size > UINT32_MAX / nelems)) return -1;
      return static_cast<int64_t>(nelems * *size);
    }
    return -1;
  }

  // BtfTypes::type_name() for a DIE: "struct list_head", "long unsigned int", "void *".
  std::string type_name(TypeRef t) {
    std::string prefix, suffix;
    for (int depth = 0; depth < kMaxDepth; depth++) {
      if (t.is_void) return prefix + "void" + suffix;
      const char* n = dwarf_diename(&t.die);
      std::string name = n && *n ? n : "<anonymous>";
      switch (dwarf_tag(&t.die)) {
        case DW_TAG_base_type:
        case DW_TAG_typedef:
          return prefix + name + suffix;
        case DW_TAG_structure_type: return prefix + "struct " + name + suffix;
        case DW_TAG_union_type: return prefix + "union " + name + suffix;
        case DW_TAG_enumeration_type: return prefix + "enum " + name + suffix;
        case DW_TAG_subroutine_type: return prefix + "function" + suffix;
        case DW_TAG_pointer_type:
          suffix = " *" + suffix;
          break;
        case DW_TAG_array_type:
          suffix = suffix + "[" + std::to_string(array_elements(&t.die)) + "]";
          break;
        case DW_TAG_const_type: prefix += "const "; break;
        case DW_TAG_volatile_type: prefix += "volatile "; break;
        default: break;
      }
      t = type_of(&t.die);
    }
    return prefix + "?" + suffix;
  }

  // Finds a member by name in a struct/union, descending into anonymous members with an
  // explicit stack (bounded) in declaration order, as C's name lookup and BtfTypes do.
  Result<std::optional<Found>> find_in(Dwarf_Die aggregate, std::string_view name) {
    struct Frame {
      Dwarf_Die die;
      uint64_t base_bits;
    };
    std::vector<Frame> stack{{aggregate, 0}};
    int visited = 0;
    while (!stack.empty() && visited++ < kMaxAggregatesVisited) {
      Frame f = stack.back();
      stack.pop_back();
      if (!is_aggregate(dwarf_tag(&f.die)) || !complete(f.die)) continue;
      std::vector<Frame> anon;
      Dwarf_Die m;
      bool more = dwarf_child(&f.die, &m) == 0;
      for (size_t i = 0; more && i < kMaxMembers; i++) {
        if (dwarf_tag(&m) == DW_TAG_member) {
          const char* mname = dwarf_diename(&m);
          if (mname && *mname) {
            if (name == mname) {
              auto bits = member_bits(&m);
              if (!bits) return fail(ErrorKind::Format, "member '" + std::string(name) + "' has no offset DWARF describes");
              return Found{type_of(&m), f.base_bits + bits->offset, bits->bitfield_size};
            }
          } else if (auto bits = member_bits(&m)) {
            TypeRef inner = type_of(&m);
            // Anonymous members may sit behind a modifier.
            for (int d = 0; d < kMaxDepth && !inner.is_void && is_alias(dwarf_tag(&inner.die)); d++)
              inner = type_of(&inner.die);
            if (!inner.is_void) anon.push_back({inner.die, f.base_bits + bits->offset});
          }
        }
        Dwarf_Die next;
        more = dwarf_siblingof(&m, &next) == 0;
        m = next;
      }
      for (auto a = anon.rbegin(); a != anon.rend(); ++a) stack.push_back(*a);
    }
    return std::optional<Found>();
  }

  Result<TypeMember> resolve_member(std::string_view struct_name, std::string_view member_path) {
    auto agg = find_aggregate(struct_name);
    if (!agg) return tl::unexpected(agg.error());
    TypeRef cur{*agg, false};
    uint64_t bits = 0;
    uint32_t bitfield = 0;
    TypeRef member_type = cur;
    std::string_view rest = member_path;
    if (rest.empty()) return fail(ErrorKind::Invalid, "empty member path");
    while (!rest.empty()) {
      auto [name, indexes] = next_path_step(rest);

      TypeRef t = skip_aliases(cur);
      if (t.is_void || !is_aggregate(dwarf_tag(&t.die)) || !complete(t.die))
        return fail(ErrorKind::Invalid, std::string(struct_name) + "." + std::string(member_path) + ": '" +
                                            std::string(name) + "' is not inside a struct or union");
      auto found = find_in(t.die, name);
      if (!found) return tl::unexpected(found.error());
      if (!*found)
        return fail(ErrorKind::NotFound, "no member '" + std::string(member_path) + "' in " + std::string(struct_name));
      bits += (*found)->bit_offset;
      bitfield = (*found)->bitfield_size;
      cur = (*found)->type;
      // Array subscripts: "numbers[0]", "a[1][2]".
      while (!indexes.empty()) {
        auto subscript = next_subscript(indexes, member_path);
        if (!subscript) return tl::unexpected(subscript.error());
        uint64_t index = *subscript;
        TypeRef array = skip_aliases(cur);
        if (array.is_void || dwarf_tag(&array.die) != DW_TAG_array_type)
          return fail(ErrorKind::Invalid, "'" + std::string(name) + "' in '" + std::string(member_path) + "' is not an array");
        uint64_t nelems = array_elements(&array.die);
        if (nelems != 0 && index >= nelems)
          return fail(ErrorKind::Invalid, "subscript " + std::to_string(index) + " beyond " + std::string(name) + "[" +
                                              std::to_string(nelems) + "]");
        TypeRef elem = type_of(&array.die);
        int64_t elem_size = size_of(elem);
        if (elem_size < 0) return fail(ErrorKind::Format, "unsized array element in '" + std::string(member_path) + "'");
        bits += index * static_cast<uint64_t>(elem_size) * 8;
        cur = elem;
      }
      member_type = cur;
    }

    return place_member(bits, bitfield, size_of(member_type), type_name(member_type));
  }
};

DwarfTypes::~DwarfTypes() {
  if (dwarf_) dwarf_end(dwarf_);
  if (elf_) elf_end(elf_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<DwarfTypes>> DwarfTypes::open(const std::string& path) {
  std::unique_ptr<DwarfTypes> t(new DwarfTypes());
  t->path_ = path;
  auto fd = open_input_file(path, InputKind::RegularFile);
  if (!fd) return tl::unexpected(fd.error());
  t->fd_ = *fd;
  elf_version(EV_CURRENT);
  t->elf_ = elf_begin(t->fd_, ELF_C_READ_MMAP, nullptr);
  if (!t->elf_ || elf_kind(t->elf_) != ELF_K_ELF) return fail(ErrorKind::Format, path + ": not an ELF file");
  t->dwarf_ = dwarf_begin_elf(t->elf_, DWARF_C_READ, nullptr);
  if (!t->dwarf_)
    return fail(ErrorKind::NotFound, path + ": no DWARF (.debug_info) for types (" + dwarf_errmsg(-1) + ")");
  return t;
}

void DwarfTypes::index_next_unit() {
  Dwarf_Off unit_offset = next_unit_, next = 0;
  size_t header = 0;
  if (dwarf_nextcu(dwarf_, unit_offset, &next, &header, nullptr, nullptr, nullptr) != 0 || next <= unit_offset) {
    indexed_all_ = true;
    return;
  }
  next_unit_ = next;
  Dwarf_Die unit, die;
  if (!dwarf_offdie(dwarf_, unit_offset + header, &unit) || dwarf_child(&unit, &die) != 0) return;
  for (size_t n = 0; n < kMaxUnitDies; n++) {
    int tag = dwarf_tag(&die);
    auto* names = tag == DW_TAG_structure_type ? &index_.structs
                  : tag == DW_TAG_union_type   ? &index_.unions
                  : tag == DW_TAG_typedef      ? &index_.typedefs
                                               : nullptr;
    if (names && !(is_aggregate(tag) && dwarf_hasattr(&die, DW_AT_declaration))) {
      if (const char* name = dwarf_diename(&die); name && *name) names->try_emplace(name, dwarf_dieoffset(&die));
    }
    Dwarf_Die next_die;
    if (dwarf_siblingof(&die, &next_die) != 0) break;
    die = next_die;
  }
}

uint64_t DwarfTypes::first_named(std::string_view name, Kind kind) {
  auto& names = kind == Kind::Struct ? index_.structs : kind == Kind::Union ? index_.unions : index_.typedefs;
  for (;;) {
    if (auto it = names.find(name); it != names.end()) return it->second;
    if (indexed_all_) return 0;
    index_next_unit();
  }
}

Result<uint64_t> DwarfTypes::struct_size(std::string_view name) {
  std::string key(name);
  if (auto it = size_cache_.find(key); it != size_cache_.end()) return it->second;
  Resolver r{*this};
  Result<uint64_t> result = r.find_aggregate(name).and_then([](Dwarf_Die die) -> Result<uint64_t> {
    auto size = unsigned_attr(&die, DW_AT_byte_size);
    if (!size) return fail(ErrorKind::Format, "a struct without DW_AT_byte_size in DWARF");
    return *size;
  });
  size_cache_.emplace(std::move(key), result);
  return result;
}

Result<TypeMember> DwarfTypes::member(std::string_view struct_name, std::string_view member_path) {
  std::string key(struct_name);
  key += '\0';
  key += member_path;
  if (auto it = member_cache_.find(key); it != member_cache_.end()) return it->second;
  Resolver r{*this};
  auto result = r.resolve_member(struct_name, member_path);
  member_cache_.emplace(std::move(key), result);
  return result;
}

}  // namespace kstuck
