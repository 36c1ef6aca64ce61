// SPDX-License-Identifier: GPL-2.0
// FakeTarget: a Target over synthetic memory, symbols, struct layouts and registers for unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/target.h"

namespace kstuck::test {

// One member of a synthetic struct layout.
struct FakeMember {
  FakeMember(std::string p, uint64_t o, uint64_t s = 8, std::string t = {})
      : path(std::move(p)), offset(o), size(s), type_name(std::move(t)) {}
  std::string path;       // "tasks", or a dotted path "thread.sp" for a nested member
  uint64_t offset = 0;
  uint64_t size = 8;
  std::string type_name;  // optional, e.g. "struct list_head"
};

// Memory is a set of regions; a read touching any byte outside them fails with a Fault
// carrying the first unmapped address, exactly like an excluded page in a dump.
class FakeTarget : public Target {
 public:
  FakeTarget();

  // --- memory ---
  // Maps zero-filled bytes at a fixed address (regions must not overlap).
  void map(uint64_t address, uint64_t size);
  // Allocates zero-filled bytes from a fake kernel heap (0xffff888000100000 upwards);
  // allocations are separated by an unmapped guard gap so overruns fault.
  uint64_t alloc(uint64_t size, uint64_t align = 64);
  // Removes the region containing address: reads there fault afterwards.
  void unmap(uint64_t address);
  // Writes into mapped memory; aborts the test (throws) when unmapped: a test bug.
  void write(uint64_t address, const void* data, size_t size);
  void write_u8(uint64_t a, uint8_t v) { write(a, &v, 1); }
  void write_u16(uint64_t a, uint16_t v) { write(a, &v, 2); }
  void write_u32(uint64_t a, uint32_t v) { write(a, &v, 4); }
  void write_u64(uint64_t a, uint64_t v) { write(a, &v, 8); }
  void write_string(uint64_t a, std::string_view s);  // with the terminating NUL
  // Reads back mapped memory for builders; throws when unmapped (a test bug).
  uint64_t peek_u64(uint64_t a);
  uint32_t peek_u32(uint64_t a);
  // Writes value into member of the struct at object, truncated to the member's size.
  void set(uint64_t object, std::string_view struct_name, std::string_view member, uint64_t value);
  void set_string(uint64_t object, std::string_view struct_name, std::string_view member, std::string_view s);
  uint64_t addr_of(uint64_t object, std::string_view struct_name, std::string_view member);

  // --- symbols ---
  void add_symbol(std::string name, uint64_t address, uint64_t size = 0, std::string module = {});
  // Maps size bytes for a global variable and names it; returns its address.
  uint64_t add_global(std::string name, uint64_t size);

  // --- types ---
  void add_struct(std::string name, uint64_t size, std::initializer_list<FakeMember> members);
  void add_struct(std::string name, uint64_t size, std::vector<FakeMember> members);

  // --- per-CPU data, registers, VMCOREINFO ---
  void set_per_cpu_offset(int cpu, uint64_t offset);
  void set_registers(int cpu, const CpuRegisters& regs);
  void set_vmcoreinfo(std::string key, std::string value);

  // How many read() calls the analysis made: lets tests prove a walk is bounded.
  uint64_t read_count() const { return reads_; }

  // --- Target ---
  Result<void> read(uint64_t kvaddr, std::span<std::byte> out) override;
  Result<uint64_t> symbol_address(std::string_view name) override;
  Result<Symbol> symbol_at(uint64_t address) override;
  Result<uint64_t> struct_size(std::string_view struct_name) override;
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path) override;
  Result<uint64_t> per_cpu_offset(int cpu) override;
  Result<CpuRegisters> cpu_registers(int cpu) override;
  std::optional<std::string> vmcoreinfo(std::string_view key) override;

 private:
  struct Layout {
    uint64_t size = 0;
    std::map<std::string, TypeMember, std::less<>> members;
  };
  const Layout* layout(std::string_view struct_name) const;
  std::byte* locate(uint64_t address, uint64_t size);

  std::map<uint64_t, std::vector<std::byte>> regions_;  // start -> bytes
  uint64_t heap_next_;
  uint64_t globals_next_;
  std::map<std::string, Symbol, std::less<>> symbols_;
  std::map<uint64_t, std::string> symbols_by_address_;
  std::map<std::string, Layout, std::less<>> layouts_;
  std::map<int, uint64_t> per_cpu_offsets_;
  std::map<int, CpuRegisters> registers_;
  std::map<std::string, std::string, std::less<>> vmcoreinfo_;
  uint64_t reads_ = 0;
};

}  // namespace kstuck::test
