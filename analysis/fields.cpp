// SPDX-License-Identifier: GPL-2.0
// Fields: cached member lookups and typed member reads.
#include "analysis/fields.h"

#include <cstring>
#include <vector>

namespace kstuck {

Result<TypeMember> Fields::member(std::string_view struct_name, std::string_view member_path) {
  auto key = std::make_pair(std::string(struct_name), std::string(member_path));
  auto it = members_.find(key);
  if (it == members_.end()) it = members_.emplace(key, target_.member(struct_name, member_path)).first;
  return it->second;
}

Result<uint64_t> Fields::offset(std::string_view struct_name, std::string_view member_path) {
  auto m = member(struct_name, member_path);
  if (!m) return tl::unexpected(m.error());
  return m->offset;
}

Result<uint64_t> Fields::size(std::string_view struct_name) {
  auto it = sizes_.find(struct_name);
  if (it == sizes_.end()) it = sizes_.emplace(std::string(struct_name), target_.struct_size(struct_name)).first;
  return it->second;
}

bool Fields::has(std::string_view struct_name, std::string_view member_path) {
  return member(struct_name, member_path).has_value();
}

Result<uint64_t> Fields::read_uint(uint64_t object, std::string_view struct_name, std::string_view member_path) {
  auto m = member(struct_name, member_path);
  if (!m) return tl::unexpected(m.error());
  if (m->size == 0 || m->size > 8)
    return fail(ErrorKind::Format, std::string(struct_name) + "." + std::string(member_path) + " is " +
                                       std::to_string(m->size) + " bytes, not an integer");
  uint64_t v = 0;
  auto r = target_.read(object + m->offset, std::as_writable_bytes(std::span<uint64_t, 1>(&v, 1)).first(m->size));
  if (!r) return tl::unexpected(r.error().with_context(std::string(struct_name) + "." + std::string(member_path)));
  if (m->bit_size) {
    v >>= m->bit_offset;
    if (m->bit_size < 64) v &= (uint64_t{1} << m->bit_size) - 1;
  }
  return v;
}

Result<int64_t> Fields::read_int(uint64_t object, std::string_view struct_name, std::string_view member_path) {
  auto m = member(struct_name, member_path);
  if (!m) return tl::unexpected(m.error());
  auto v = read_uint(object, struct_name, member_path);
  if (!v) return tl::unexpected(v.error());
  unsigned bits = m->bit_size ? m->bit_size : unsigned(m->size * 8);
  if (bits >= 64) return int64_t(*v);
  uint64_t sign = uint64_t{1} << (bits - 1);
  return int64_t((*v ^ sign) - sign);
}

Result<uint64_t> Fields::read_ptr(uint64_t object, std::string_view struct_name, std::string_view member_path) {
  auto m = member(struct_name, member_path);
  if (!m) return tl::unexpected(m.error());
  if (m->size != 8) return fail(ErrorKind::Format, std::string(struct_name) + "." + std::string(member_path) + " is not a pointer");
  auto v = read_u64(target_, object + m->offset);
  if (!v) return tl::unexpected(v.error().with_context(std::string(struct_name) + "." + std::string(member_path)));
  return *v;
}

Result<std::string> Fields::read_chars(uint64_t object, std::string_view struct_name, std::string_view member_path) {
  auto m = member(struct_name, member_path);
  if (!m) return tl::unexpected(m.error());
  if (m->size == 0 || m->size > 4096) return fail(ErrorKind::Format, "implausible char array size");
  std::vector<char> buf(m->size);
  auto r = target_.read(object + m->offset, std::as_writable_bytes(std::span(buf)));
  if (!r) return tl::unexpected(r.error().with_context(std::string(struct_name) + "." + std::string(member_path)));
  size_t n = 0;
  while (n < buf.size() && buf[n]) ++n;
  return std::string(buf.data(), n);
}

Result<std::string> read_c_string(Target& target, uint64_t address, size_t max_len) {
  std::string out;
  char chunk[64];
  while (out.size() < max_len) {
    // Read up to the next 64-byte boundary so a string ending before an unmapped page reads fine.
    size_t n = std::min<size_t>({sizeof(chunk) - (address % sizeof(chunk)), max_len - out.size()});
    auto r = target.read(address, std::as_writable_bytes(std::span(chunk, n)));
    if (!r) {
      // The string may end before the unreadable byte: retry this chunk byte by byte.
      for (size_t i = 0; i < n; ++i) {
        auto b = target.read(address + i, std::as_writable_bytes(std::span(chunk + i, 1)));
        if (!b) return tl::unexpected(b.error());
        if (!chunk[i]) return out;
        out.push_back(chunk[i]);
      }
      address += n;
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      if (!chunk[i]) return out;
      out.push_back(chunk[i]);
    }
    address += n;
  }
  return out;
}

}  // namespace kstuck
