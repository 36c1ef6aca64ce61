// SPDX-License-Identifier: GPL-2.0
// BtfTypes: member resolution over libbpf's BTF, bounded and cached.
#include "analysis/btf/btf_types.h"

#include <algorithm>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "analysis/member_layout.h"

namespace kstuck {
namespace {

// Nesting of anonymous members and of qualifier chains never comes close to this.
constexpr int kMaxDepth = 32;
// vmlinux BTF is 4-8 MB (Debian 6.1: 5.3 MB); anything far larger is not BTF.
constexpr size_t kMaxBtfBytes = 256u << 20;

std::string_view strip_prefix(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  return name;
}

}  // namespace

BtfTypes::~BtfTypes() {
  if (btf_) btf__free(btf_);
}

// libbpf reports malformed input on stderr by default; the Error we return says it once.
static int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }
static void silence_libbpf() {
  static const bool done = (libbpf_set_print(quiet), true);
  (void)done;
}

Result<std::unique_ptr<BtfTypes>> BtfTypes::adopt(struct btf* b, int err, const std::string& what) {
  if (!b) return fail(ErrorKind::Format, what + " (" + std::strerror(err ? err : EINVAL) + ")");
  std::unique_ptr<BtfTypes> t(new BtfTypes());
  t->btf_ = b;
  return t;
}

Result<std::unique_ptr<BtfTypes>> BtfTypes::open(const std::string& vmlinux) {
  silence_libbpf();
  errno = 0;
  struct btf* b = btf__parse_elf(vmlinux.c_str(), nullptr);
  int err = errno;
  if (!b) return fail(ErrorKind::NotFound, vmlinux + ": no usable .BTF section (" + std::strerror(err ? err : EINVAL) + ")");
  return adopt(b, 0, vmlinux);
}

Result<std::unique_ptr<BtfTypes>> BtfTypes::from_bytes(std::span<const std::byte> data) {
  if (data.size() < sizeof(struct btf_header) || data.size() > kMaxBtfBytes)
    return fail(ErrorKind::Format, "BTF of " + std::to_string(data.size()) + " bytes (expected " +
                                       std::to_string(sizeof(struct btf_header)) + ".." + std::to_string(kMaxBtfBytes) + ")");
  silence_libbpf();
  errno = 0;
  struct btf* b = btf__new(data.data(), static_cast<uint32_t>(data.size()));
  return adopt(b, errno, "BTF rejected by libbpf");
}

Result<std::unique_ptr<BtfTypes>> BtfTypes::from_split_bytes(std::span<const std::byte> data, const BtfTypes& base) {
  if (data.size() < sizeof(struct btf_header) || data.size() > kMaxBtfBytes)
    return fail(ErrorKind::Format, "split BTF of " + std::to_string(data.size()) + " bytes");
  // Debian 12's libbpf 1.1 declares btf__new_split() but does not export it (its
  // libbpf.map lacks the symbol): hand the bytes over as a raw BTF file in memory.
  int fd = memfd_create("kstuck-split-btf", MFD_CLOEXEC);
  if (fd < 0) return fail(ErrorKind::Os, std::string("memfd_create: ") + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return fail(ErrorKind::Os, std::string("memfd write: ") + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  silence_libbpf();
  errno = 0;
  // libbpf takes the base non-const but only reads it.
  struct btf* b = btf__parse_raw_split(path.c_str(), const_cast<struct btf*>(base.btf_));
  int err = errno;
  ::close(fd);
  return adopt(b, err, "split BTF rejected by libbpf");
}

uint32_t BtfTypes::type_count() const { return btf__type_cnt(btf_); }

Result<uint64_t> BtfTypes::variable_size(std::string_view name) const {
  std::string n(name);
  int32_t id = btf__find_by_name_kind(btf_, n.c_str(), BTF_KIND_VAR);
  if (id <= 0) return fail(ErrorKind::NotFound, "no variable '" + n + "' in BTF");
  const btf_type* t = btf__type_by_id(btf_, id);
  int64_t size = t ? btf__resolve_size(btf_, t->type) : -1;
  if (size < 0) return fail(ErrorKind::Format, "variable '" + n + "' has no size in BTF");
  return static_cast<uint64_t>(size);
}

int32_t BtfTypes::skip_qualifiers(int32_t id) const {
  for (int depth = 0; depth < kMaxDepth && id > 0; depth++) {
    const btf_type* t = btf__type_by_id(btf_, id);
    if (!t) return -1;
    switch (btf_kind(t)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_CONST:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
        id = static_cast<int32_t>(t->type);
        break;
      default:
        return id;
    }
  }
  return id;
}

namespace {
uint32_t fnv1a(std::string_view name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
  return h;
}
}  // namespace

int32_t BtfTypes::first_named(std::string_view name, uint32_t kind) const {
  if (!name_index_built_) {
    name_index_built_ = true;
    uint32_t n = btf__type_cnt(btf_);
    for (uint32_t id = 1; id < n; id++) {
      const btf_type* t = btf__type_by_id(btf_, id);
      if (!t || !(btf_is_struct(t) || btf_is_union(t) || btf_is_typedef(t)) || !t->name_off) continue;
      const char* type_name = btf__name_by_offset(btf_, t->name_off);
      if (type_name) name_index_.push_back(uint64_t{fnv1a(type_name)} << 32 | id);
    }
    std::sort(name_index_.begin(), name_index_.end());
  }
  uint64_t key = uint64_t{fnv1a(name)} << 32;
  for (auto it = std::lower_bound(name_index_.begin(), name_index_.end(), key);
       it != name_index_.end() && (*it >> 32) == (key >> 32); ++it) {
    int32_t id = int32_t(uint32_t(*it));
    const btf_type* t = btf__type_by_id(btf_, id);
    const char* type_name = btf__name_by_offset(btf_, t->name_off);
    if (btf_kind(t) == kind && type_name && name == type_name) return id;
  }
  return -1;
}

Result<int32_t> BtfTypes::find_aggregate(std::string_view name) const {
  std::string_view plain;
  if (name.substr(0, 6) == "union ") {
    plain = strip_prefix(name, "union ");
    int32_t id = first_named(plain, BTF_KIND_UNION);
    if (id > 0) return id;
  } else {
    plain = strip_prefix(name, "struct ");
    int32_t id = first_named(plain, BTF_KIND_STRUCT);
    if (id > 0) return id;
    id = first_named(plain, BTF_KIND_UNION);
    if (id > 0) return id;
    id = first_named(plain, BTF_KIND_TYPEDEF);
    if (id > 0) {
      int32_t target = skip_qualifiers(id);
      const btf_type* t = target > 0 ? btf__type_by_id(btf_, target) : nullptr;
      if (t && (btf_is_struct(t) || btf_is_union(t))) return target;
    }
  }
  return fail(ErrorKind::NotFound, "no type '" + std::string(name) + "' in BTF");
}

Result<uint64_t> BtfTypes::struct_size(std::string_view name) {
  std::string key(name);
  auto it = size_cache_.find(key);
  if (it != size_cache_.end()) return it->second;
  Result<uint64_t> result = find_aggregate(name).and_then([this](int32_t id) -> Result<uint64_t> {
    return uint64_t{btf__type_by_id(btf_, id)->size};
  });
  size_cache_.emplace(std::move(key), result);
  return result;
}

Result<TypeMember> BtfTypes::member(std::string_view struct_name, std::string_view member_path) {
  std::string key(struct_name);
  key += '\0';
  key += member_path;
  auto it = member_cache_.find(key);
  if (it != member_cache_.end()) return it->second;
  auto result = resolve_member(struct_name, member_path);
  member_cache_.emplace(std::move(key), result);
  return result;
}

namespace {

struct Found {
  int32_t type = 0;
  uint64_t bit_offset = 0;
  uint32_t bitfield_size = 0;
};

// Finds a member by name in a struct/union, descending into anonymous members with an
// explicit stack (bounded), as C's name lookup does.
bool find_in(const btf* b, int32_t aggregate, std::string_view name, Found& out) {
  struct Frame { int32_t id; uint64_t base_bits; };
  std::vector<Frame> stack{{aggregate, 0}};
  int visited = 0;
  while (!stack.empty() && visited++ < 4096) {
    Frame f = stack.back();
    stack.pop_back();
    const btf_type* t = btf__type_by_id(b, f.id);
    if (!t || !(btf_is_struct(t) || btf_is_union(t))) continue;
    const btf_member* m = btf_members(t);
    uint16_t vlen = btf_vlen(t);
    std::vector<Frame> anon;
    for (uint16_t i = 0; i < vlen; i++) {
      const char* mname = btf__name_by_offset(b, m[i].name_off);
      uint64_t bits = f.base_bits + btf_member_bit_offset(t, i);
      if (mname && *mname) {
        if (name == mname) {
          out.type = static_cast<int32_t>(m[i].type);
          out.bit_offset = bits;
          out.bitfield_size = btf_member_bitfield_size(t, i);
          return true;
        }
      } else {
        int32_t inner = static_cast<int32_t>(m[i].type);
        // Anonymous members may sit behind a modifier.
        for (int d = 0; d < kMaxDepth; d++) {
          const btf_type* it = btf__type_by_id(b, inner);
          if (!it || !(btf_is_mod(it) || btf_is_typedef(it))) break;
          inner = static_cast<int32_t>(it->type);
        }
        anon.push_back({inner, bits});
      }
    }
    // Search anonymous members in declaration order.
    for (auto a = anon.rbegin(); a != anon.rend(); ++a) stack.push_back(*a);
  }
  return false;
}

}  // namespace

Result<TypeMember> BtfTypes::resolve_member(std::string_view struct_name, std::string_view member_path) const {
  auto agg = find_aggregate(struct_name);
  if (!agg) return tl::unexpected(agg.error());
  int32_t cur = *agg;
  uint64_t bits = 0;
  uint32_t bitfield = 0;
  int32_t member_type = cur;
  std::string_view rest = member_path;
  if (rest.empty()) return fail(ErrorKind::Invalid, "empty member path");
  while (!rest.empty()) {
    auto [name, indexes] = next_path_step(rest);

    int32_t agg_id = skip_qualifiers(cur);
    const btf_type* t = agg_id > 0 ? btf__type_by_id(btf_, agg_id) : nullptr;
    if (!t || !(btf_is_struct(t) || btf_is_union(t)))
      return fail(ErrorKind::Invalid, std::string(struct_name) + "." + std::string(member_path) + ": '" +
                                          std::string(name) + "' is not inside a struct or union");
    Found f;
    if (!find_in(btf_, agg_id, name, f))
      return fail(ErrorKind::NotFound, "no member '" + std::string(member_path) + "' in " + std::string(struct_name));
    bits += f.bit_offset;
    bitfield = f.bitfield_size;
    cur = f.type;
    // Array subscripts: "numbers[0]", "a[1][2]".
    while (!indexes.empty()) {
      auto subscript = next_subscript(indexes, member_path);
      if (!subscript) return tl::unexpected(subscript.error());
      uint64_t index = *subscript;
      int32_t arr_id = skip_qualifiers(cur);
      const btf_type* at = arr_id > 0 ? btf__type_by_id(btf_, arr_id) : nullptr;
      if (!at || !btf_is_array(at))
        return fail(ErrorKind::Invalid, "'" + std::string(name) + "' in '" + std::string(member_path) + "' is not an array");
      const struct btf_array* arr = btf_array(at);
      if (arr->nelems != 0 && index >= arr->nelems)
        return fail(ErrorKind::Invalid, "subscript " + std::to_string(index) + " beyond " + std::string(name) + "[" +
                                            std::to_string(arr->nelems) + "]");
      int64_t elem = btf__resolve_size(btf_, arr->type);
      if (elem < 0) return fail(ErrorKind::Format, "unsized array element in '" + std::string(member_path) + "'");
      bits += index * static_cast<uint64_t>(elem) * 8;
      cur = static_cast<int32_t>(arr->type);
    }
    member_type = cur;
  }

  return place_member(bits, bitfield, btf__resolve_size(btf_, member_type), type_name(member_type));
}

std::string BtfTypes::type_name(int32_t id) const {
  std::string prefix, suffix;
  for (int depth = 0; depth < kMaxDepth; depth++) {
    if (id == 0) return prefix + "void" + suffix;
    const btf_type* t = btf__type_by_id(btf_, id);
    if (!t) return prefix + "?" + suffix;
    const char* n = btf__name_by_offset(btf_, t->name_off);
    std::string name = n && *n ? n : "<anonymous>";
    switch (btf_kind(t)) {
      case BTF_KIND_INT:
      case BTF_KIND_FLOAT:
      case BTF_KIND_TYPEDEF:
        return prefix + name + suffix;
      case BTF_KIND_STRUCT: return prefix + "struct " + name + suffix;
      case BTF_KIND_UNION: return prefix + "union " + name + suffix;
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64: return prefix + "enum " + name + suffix;
      case BTF_KIND_FWD: return prefix + (btf_kflag(t) ? "union " : "struct ") + name + suffix;
      case BTF_KIND_FUNC_PROTO: return prefix + "function" + suffix;
      case BTF_KIND_PTR:
        suffix = " *" + suffix;
        break;
      case BTF_KIND_ARRAY:
        suffix = suffix + "[" + std::to_string(btf_array(t)->nelems) + "]";
        id = static_cast<int32_t>(btf_array(t)->type);
        continue;
      case BTF_KIND_CONST: prefix += "const "; break;
      case BTF_KIND_VOLATILE: prefix += "volatile "; break;
      default: break;
    }
    id = static_cast<int32_t>(t->type);
  }
  return prefix + "?" + suffix;
}

}  // namespace kstuck
