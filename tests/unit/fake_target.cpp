// SPDX-License-Identifier: GPL-2.0
// FakeTarget: synthetic memory regions, symbols and layouts behind the Target interface.
#include "tests/unit/fake_target.h"

#include <cstring>
#include <stdexcept>

namespace kstuck::test {
namespace {

constexpr uint64_t kHeapBase = 0xffff888000100000ULL;
constexpr uint64_t kGlobalsBase = 0xffffffff82000000ULL;
constexpr uint64_t kGuardGap = 0x1000;  // unmapped bytes between allocations

std::string_view strip_struct(std::string_view name) {
  if (name.starts_with("struct ")) name.remove_prefix(7);
  return name;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

FakeTarget::FakeTarget() : heap_next_(kHeapBase), globals_next_(kGlobalsBase) {}

void FakeTarget::map(uint64_t address, uint64_t size) {
  auto next = regions_.lower_bound(address);
  if (next != regions_.end() && next->first < address + size)
    throw std::logic_error("FakeTarget::map: overlaps region at " + hex(next->first));
  if (next != regions_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size() > address)
      throw std::logic_error("FakeTarget::map: overlaps region at " + hex(prev->first));
  }
  regions_.emplace(address, std::vector<std::byte>(size));
}

uint64_t FakeTarget::alloc(uint64_t size, uint64_t align) {
  uint64_t at = (heap_next_ + align - 1) & ~(align - 1);
  map(at, size);
  heap_next_ = at + size + kGuardGap;
  return at;
}

void FakeTarget::unmap(uint64_t address) {
  auto it = regions_.upper_bound(address);
  if (it == regions_.begin()) return;
  --it;
  if (address < it->first + it->second.size()) regions_.erase(it);
}

std::byte* FakeTarget::locate(uint64_t address, uint64_t size) {
  auto it = regions_.upper_bound(address);
  if (it == regions_.begin()) return nullptr;
  --it;
  uint64_t off = address - it->first;
  if (off > it->second.size() || size > it->second.size() - off) return nullptr;
  return it->second.data() + off;
}

void FakeTarget::write(uint64_t address, const void* data, size_t size) {
  std::byte* p = locate(address, size);
  if (!p) throw std::logic_error("FakeTarget::write: unmapped " + hex(address));
  std::memcpy(p, data, size);
}

void FakeTarget::write_string(uint64_t a, std::string_view s) {
  write(a, s.data(), s.size());
  write_u8(a + s.size(), 0);
}

uint64_t FakeTarget::peek_u64(uint64_t a) {
  std::byte* p = locate(a, 8);
  if (!p) throw std::logic_error("FakeTarget::peek: unmapped " + hex(a));
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint32_t FakeTarget::peek_u32(uint64_t a) {
  std::byte* p = locate(a, 4);
  if (!p) throw std::logic_error("FakeTarget::peek: unmapped " + hex(a));
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

const FakeTarget::Layout* FakeTarget::layout(std::string_view struct_name) const {
  auto it = layouts_.find(strip_struct(struct_name));
  return it == layouts_.end() ? nullptr : &it->second;
}

void FakeTarget::set(uint64_t object, std::string_view struct_name, std::string_view member_name, uint64_t value) {
  auto m = member(struct_name, member_name);
  if (!m) throw std::logic_error("FakeTarget::set: " + m.error().message());
  uint64_t n = m->size < 8 ? m->size : 8;
  write(object + m->offset, &value, n);  // little endian: the low bytes first
}

void FakeTarget::set_string(uint64_t object, std::string_view struct_name, std::string_view member_name,
                            std::string_view s) {
  auto m = member(struct_name, member_name);
  if (!m) throw std::logic_error("FakeTarget::set_string: " + m.error().message());
  if (s.size() >= m->size) throw std::logic_error("FakeTarget::set_string: too long");
  write_string(object + m->offset, s);
}

uint64_t FakeTarget::addr_of(uint64_t object, std::string_view struct_name, std::string_view member_name) {
  auto m = member(struct_name, member_name);
  if (!m) throw std::logic_error("FakeTarget::addr_of: " + m.error().message());
  return object + m->offset;
}

void FakeTarget::add_symbol(std::string name, uint64_t address, uint64_t size, std::string module) {
  Symbol s{name, address, size, std::move(module)};
  symbols_by_address_[address] = name;
  symbols_[std::move(name)] = std::move(s);
}

uint64_t FakeTarget::add_global(std::string name, uint64_t size) {
  uint64_t at = (globals_next_ + 63) & ~uint64_t{63};
  map(at, size);
  globals_next_ = at + size + kGuardGap;
  add_symbol(std::move(name), at, size);
  return at;
}

void FakeTarget::add_struct(std::string name, uint64_t size, std::initializer_list<FakeMember> members) {
  add_struct(std::move(name), size, std::vector<FakeMember>(members));
}

void FakeTarget::add_struct(std::string name, uint64_t size, std::vector<FakeMember> members) {
  Layout l;
  l.size = size;
  for (auto& m : members) {
    TypeMember t;
    t.offset = m.offset;
    t.size = m.size;
    t.type_name = m.type_name;
    l.members[m.path] = t;
  }
  layouts_[std::string(strip_struct(name))] = std::move(l);
}

void FakeTarget::set_per_cpu_offset(int cpu, uint64_t offset) { per_cpu_offsets_[cpu] = offset; }
void FakeTarget::set_registers(int cpu, const CpuRegisters& regs) { registers_[cpu] = regs; }
void FakeTarget::set_vmcoreinfo(std::string key, std::string value) { vmcoreinfo_[std::move(key)] = std::move(value); }

Result<void> FakeTarget::read(uint64_t kvaddr, std::span<std::byte> out) {
  ++reads_;
  // Report the first unreadable byte, as a dump reader does for an excluded page.
  uint64_t done = 0;
  while (done < out.size()) {
    uint64_t at = kvaddr + done;
    auto it = regions_.upper_bound(at);
    if (it == regions_.begin()) return fail(ErrorKind::Fault, "address not in fake memory", at);
    --it;
    uint64_t off = at - it->first;
    if (off >= it->second.size()) return fail(ErrorKind::Fault, "address not in fake memory", at);
    uint64_t n = std::min<uint64_t>(out.size() - done, it->second.size() - off);
    std::memcpy(out.data() + done, it->second.data() + off, n);
    done += n;
  }
  return {};
}

Result<uint64_t> FakeTarget::symbol_address(std::string_view name) {
  auto it = symbols_.find(name);
  if (it == symbols_.end()) return fail(ErrorKind::NotFound, "no symbol " + std::string(name));
  return it->second.address;
}

Result<Symbol> FakeTarget::symbol_at(uint64_t address) {
  auto it = symbols_by_address_.upper_bound(address);
  if (it == symbols_by_address_.begin()) return fail(ErrorKind::NotFound, "no symbol at " + hex(address), address);
  --it;
  const Symbol& s = symbols_.find(it->second)->second;
  if (s.size && address >= s.address + s.size)
    return fail(ErrorKind::NotFound, "no symbol at " + hex(address), address);
  return s;
}

Result<uint64_t> FakeTarget::struct_size(std::string_view struct_name) {
  const Layout* l = layout(struct_name);
  if (!l) return fail(ErrorKind::NotFound, "no struct " + std::string(struct_name));
  return l->size;
}

Result<TypeMember> FakeTarget::member(std::string_view struct_name, std::string_view member_path) {
  const Layout* l = layout(struct_name);
  if (!l) return fail(ErrorKind::NotFound, "no struct " + std::string(struct_name));
  auto it = l->members.find(member_path);
  if (it == l->members.end())
    return fail(ErrorKind::NotFound, "no member " + std::string(struct_name) + "." + std::string(member_path));
  return it->second;
}

Result<uint64_t> FakeTarget::per_cpu_offset(int cpu) {
  auto it = per_cpu_offsets_.find(cpu);
  if (it == per_cpu_offsets_.end()) return fail(ErrorKind::NotFound, "no per-CPU offset for cpu " + std::to_string(cpu));
  return it->second;
}

Result<CpuRegisters> FakeTarget::cpu_registers(int cpu) {
  auto it = registers_.find(cpu);
  if (it == registers_.end()) return fail(ErrorKind::NotFound, "no registers for cpu " + std::to_string(cpu));
  return it->second;
}

std::optional<std::string> FakeTarget::vmcoreinfo(std::string_view key) {
  auto it = vmcoreinfo_.find(key);
  if (it == vmcoreinfo_.end()) return std::nullopt;
  return it->second;
}

}  // namespace kstuck::test
