// SPDX-License-Identifier: GPL-2.0
// CrashTarget: the Target the analyses see inside a crash session, over crash_bridge.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "analysis/target.h"

namespace kstuck {

class ElfSymbols;
class SourceLines;

// Reads memory, symbols, types and notes through crash's own session state, so a
// crash user's dump (any format crash opens) feeds the same analyses as the CLI.
class CrashTarget final : public Target {
 public:
  CrashTarget() = default;

  Result<void> read(uint64_t kvaddr, std::span<std::byte> out) override;
  Result<uint64_t> symbol_address(std::string_view name) override;
  Result<Symbol> symbol_at(uint64_t address) override;
  Result<uint64_t> struct_size(std::string_view struct_name) override;
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path) override;
  Result<uint64_t> per_cpu_offset(int cpu) override;
  Result<CpuRegisters> cpu_registers(int cpu) override;
  std::optional<std::string> vmcoreinfo(std::string_view key) override;

  int cpu_count() const;
  // Where symbol_at()'s answers come from, for diagnostics.
  std::string symbol_source();
  // "kernel/smp.c:612" for a vmlinux address, from the DWARF of the vmlinux crash loaded.
  Result<std::string> source_line(uint64_t address);

 private:
  // One hop of a member path, as crash describes it.
  struct Hop {
    uint64_t offset = 0;
    uint64_t size = 0;
    int kind = 0;           // kstuck_bridge_type_kind
    std::string base_type;  // pointers and arrays stripped ("task_struct", "char")
    uint32_t bit = 0;       // bitfields: first bit within the byte at offset
    uint32_t bits = 0;      // bitfields: width (0 for ordinary members)
  };
  // Bitfields of a struct as gdb's "ptype /o" lists them: (name, byte offset) -> (bit, width).
  using BitfieldMap = std::map<std::pair<std::string, uint64_t>, std::pair<uint32_t, uint32_t>>;
  const BitfieldMap& bitfields(const std::string& struct_name);
  Result<Hop> hop(const std::string& struct_name, const std::string& member);

  // crash keeps no symbol sizes, and "func+0x1c/0x80" needs them: the vmlinux's own ELF
  // symbol table (the file crash loaded) gives them, relocated by crash's KASLR offset.
  struct ElfIndex {
    std::unique_ptr<ElfSymbols> symbols;
    std::unique_ptr<SourceLines> lines;
    uint64_t kaslr = 0;
    std::string error;
  };
  static ElfIndex& elf_index();

  // gdb type look-ups cost milliseconds each; analyses ask the same ones many times.
  std::map<std::string, Result<Hop>> member_cache_;
  std::map<std::string, Result<uint64_t>> size_cache_;
  std::map<std::string, BitfieldMap> bitfield_cache_;
};

}  // namespace kstuck
