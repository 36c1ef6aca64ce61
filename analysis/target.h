// SPDX-License-Identifier: GPL-2.0
// Target: the one small interface through which every analysis sees a kernel.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "analysis/error.h"

namespace kstuck {

// A member of a struct, found by type information. Members of anonymous structs and
// unions are reachable by their own names, and a dotted path ("thread.sp") walks
// into nested structs, as crash's MEMBER_OFFSET and drgn's offsetof do.
struct TypeMember {
  uint64_t offset = 0;      // bytes from the start of the outer struct
  uint64_t size = 0;        // bytes (for a bitfield: of its storage unit)
  uint32_t bit_offset = 0;  // within the storage unit, for bitfields
  uint32_t bit_size = 0;    // 0 unless a bitfield
  std::string type_name;    // e.g. "struct list_head", "long unsigned int", "void *"
};

// What a symbol lookup by address found.
struct Symbol {
  std::string name;
  uint64_t address = 0;  // start of the symbol (KASLR applied)
  uint64_t size = 0;     // 0 when unknown
  std::string module;    // empty for vmlinux
};

// x86-64 registers in struct pt_regs order, as the dump's per-CPU notes carry them.
struct CpuRegisters {
  enum Index {
    r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi,
    orig_rax, rip, cs, eflags, rsp, ss, count
  };
  std::array<uint64_t, count> regs{};
  uint64_t get(Index i) const { return regs[i]; }
  // The pid the note names: for QEMU's dumps this is vCPU+1, not a task's pid.
  int64_t note_pid = -1;
  // The task_struct the registers belong to, when their source says (an NMI capture's
  // record does; a dump's note does not): 0 unknown.
  uint64_t task = 0;
};

// A kernel under analysis: a vmcore (KdumpTarget), a crash session (CrashTarget),
// or bytes in a test (FakeTarget). Addresses are kernel virtual addresses with
// KASLR already applied by the target.
class Target {
 public:
  virtual ~Target() = default;

  // Reads exactly out.size() bytes; a Fault error carries the first unreadable address.
  virtual Result<void> read(uint64_t kvaddr, std::span<std::byte> out) = 0;

  // vmlinux symbols (the kernel model adds module symbols on top).
  virtual Result<uint64_t> symbol_address(std::string_view name) = 0;
  virtual Result<Symbol> symbol_at(uint64_t address) = 0;

  // Type information from the vmlinux (DWARF or BTF).
  virtual Result<uint64_t> struct_size(std::string_view struct_name) = 0;
  virtual Result<TypeMember> member(std::string_view struct_name, std::string_view member_path) = 0;

  // __per_cpu_offset[cpu].
  virtual Result<uint64_t> per_cpu_offset(int cpu) = 0;
  // The index-th register note (NT_PRSTATUS) in the dump's order; NotFound past the last
  // one and on a live target. The n-th note is not CPU n's in general (kdump leaves out
  // offline CPUs): load_cpus() ties notes to CPUs by identity.
  virtual Result<CpuRegisters> cpu_registers(int index) = 0;
  // A VMCOREINFO value ("OSRELEASE", "CRASHTIME", "KERNELOFFSET", ...), if the dump has it.
  virtual std::optional<std::string> vmcoreinfo(std::string_view key) = 0;

  // Registers of CPU `cpu` (by number, no note matching) from an NMI capture taken at
  // one instant, as a live target has them. nullopt: this target has no such capture
  // (a dump: its notes are cpu_registers()); an error: why this CPU's are unknown.
  virtual std::optional<Result<CpuRegisters>> captured_registers(int /*cpu*/) { return std::nullopt; }
  // True when memory may change while it is read (the running kernel): list walks then
  // check each node's back link and stop with "changed while reading".
  virtual bool live() const { return false; }
};

// Typed helpers over Target::read.
template <typename T>
Result<T> read_value(Target& target, uint64_t kvaddr) {
  T value{};
  auto r = target.read(kvaddr, std::as_writable_bytes(std::span<T, 1>(&value, 1)));
  if (!r) return tl::unexpected(r.error());
  return value;
}

inline Result<uint64_t> read_u64(Target& t, uint64_t a) { return read_value<uint64_t>(t, a); }
inline Result<uint32_t> read_u32(Target& t, uint64_t a) { return read_value<uint32_t>(t, a); }

}  // namespace kstuck
