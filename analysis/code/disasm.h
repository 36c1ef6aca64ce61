// SPDX-License-Identifier: GPL-2.0
// Disassembler: a small adapter over Capstone that decodes x86-64 kernel code into the few facts the lock analysis needs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "analysis/error.h"
#include "analysis/target.h"

namespace kstuck {

// The 16 general-purpose registers, in the hardware's encoding order. A write to a
// sub-register (eax, ax, al) counts as a write to the full register.
enum class Gpr : int8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15, none = -1 };
inline constexpr int kGprCount = 16;
const char* gpr_name(Gpr r);
// The CpuRegisters (pt_regs order) index of a Gpr.
CpuRegisters::Index gpr_pt_regs_index(Gpr r);
// Callee-saved in the x86-64 SysV ABI the kernel uses: a called function restores them.
bool gpr_callee_saved(Gpr r);

enum class InsnKind { Other, Call, Jmp, Jcc, Ret, Push, Pushf, Pop, Mov, Lea, Add, Sub, Int3, Invalid };

struct MemOperand {
  Gpr base = Gpr::none;   // none with rip_relative: the absolute address is in disp
  Gpr index = Gpr::none;
  int scale = 1;
  int64_t disp = 0;
  bool rip_relative = false;  // disp already holds the absolute target address
  bool has_segment = false;   // %gs: per-CPU, never a plain kernel address
};

struct Operand {
  enum class Kind { None, Reg, Imm, Mem } kind = Kind::None;
  Gpr reg = Gpr::none;  // Reg (its full register)
  int size = 0;         // bytes
  int64_t imm = 0;      // Imm
  MemOperand mem;       // Mem
};

// One decoded instruction, reduced to what the analysis uses.
struct Insn {
  uint64_t address = 0;
  uint8_t size = 0;
  InsnKind kind = InsnKind::Other;
  std::vector<Operand> ops;         // Intel order: destination first
  uint64_t branch_target = 0;       // Call/Jmp/Jcc with a direct target
  uint32_t gpr_written = 0;         // bit per Gpr that the instruction writes (all forms)
  bool lock_prefix = false;
  std::string text;                 // "mov rdi, 0xffffffffc0a01000" for evidence
  uint64_t next() const { return address + size; }
};

// A Capstone handle for x86-64, with detail on. Not thread-safe (one per analysis).
class Disassembler {
 public:
  static Result<Disassembler> open();
  Disassembler(Disassembler&&) noexcept;
  Disassembler& operator=(Disassembler&&) noexcept;
  ~Disassembler();

  // Decodes bytes (which start at address) linearly until they end or until an
  // instruction cannot be decoded: that one is returned with kind Invalid and the scan
  // stops. At most max_insns instructions.
  std::vector<Insn> decode(std::span<const uint8_t> bytes, uint64_t address, size_t max_insns = 4096);

 private:
  struct Impl;
  explicit Disassembler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A function's code, read through the Target and bounded.
struct FunctionCode {
  std::string name;     // the symbol (with any ".constprop.0" suffix)
  std::string module;
  uint64_t start = 0;   // the symbol's address
  uint64_t size = 0;    // the symbol's size (0: unknown)
  std::vector<uint8_t> bytes;  // from start, up to the limit asked for
};

inline constexpr uint64_t kMaxFunctionBytes = 8192;

// Reads the code of the function containing pc from its start up to `until` (exclusive;
// 0: the whole symbol), never more than kMaxFunctionBytes; NotFound when no symbol
// covers pc, Limit when the function is larger than the bound before `until`.
Result<FunctionCode> read_function_code(Target& target, uint64_t pc, uint64_t until = 0);

}  // namespace kstuck
