// SPDX-License-Identifier: GPL-2.0
// Disassembler: Capstone (Debian libcapstone-dev 4.0) in, our reduced Insn out; function bytes read through the Target.
#include "analysis/code/disasm.h"

#include <capstone/capstone.h>

#include <algorithm>
#include <array>

namespace kstuck {

const char* gpr_name(Gpr r) {
  static constexpr std::array<const char*, kGprCount> names = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                                              "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  int i = static_cast<int>(r);
  return i >= 0 && i < kGprCount ? names[static_cast<size_t>(i)] : "?";
}

CpuRegisters::Index gpr_pt_regs_index(Gpr r) {
  switch (r) {
    case Gpr::rax: return CpuRegisters::rax;
    case Gpr::rcx: return CpuRegisters::rcx;
    case Gpr::rdx: return CpuRegisters::rdx;
    case Gpr::rbx: return CpuRegisters::rbx;
    case Gpr::rsp: return CpuRegisters::rsp;
    case Gpr::rbp: return CpuRegisters::rbp;
    case Gpr::rsi: return CpuRegisters::rsi;
    case Gpr::rdi: return CpuRegisters::rdi;
    case Gpr::r8: return CpuRegisters::r8;
    case Gpr::r9: return CpuRegisters::r9;
    case Gpr::r10: return CpuRegisters::r10;
    case Gpr::r11: return CpuRegisters::r11;
    case Gpr::r12: return CpuRegisters::r12;
    case Gpr::r13: return CpuRegisters::r13;
    case Gpr::r14: return CpuRegisters::r14;
    case Gpr::r15: return CpuRegisters::r15;
    case Gpr::none: break;
  }
  return CpuRegisters::count;
}

bool gpr_callee_saved(Gpr r) {
  return r == Gpr::rbx || r == Gpr::rbp || r == Gpr::r12 || r == Gpr::r13 || r == Gpr::r14 || r == Gpr::r15;
}

namespace {

// Capstone's register (any width) to the full general-purpose register, or none.
Gpr to_gpr(unsigned reg) {
  switch (reg) {
    case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL: case X86_REG_AH: return Gpr::rax;
    case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: case X86_REG_CH: return Gpr::rcx;
    case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH: return Gpr::rdx;
    case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: case X86_REG_BH: return Gpr::rbx;
    case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL: return Gpr::rsp;
    case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL: return Gpr::rbp;
    case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL: return Gpr::rsi;
    case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL: return Gpr::rdi;
    case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B: return Gpr::r8;
    case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B: return Gpr::r9;
    case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B: return Gpr::r10;
    case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B: return Gpr::r11;
    case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B: return Gpr::r12;
    case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B: return Gpr::r13;
    case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B: return Gpr::r14;
    case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B: return Gpr::r15;
    default: return Gpr::none;
  }
}

uint32_t bit(Gpr r) { return r == Gpr::none ? 0u : 1u << static_cast<int>(r); }

InsnKind kind_of(const cs_insn& in, const cs_detail& d) {
  switch (in.id) {
    case X86_INS_CALL: return InsnKind::Call;
    case X86_INS_JMP: return InsnKind::Jmp;
    case X86_INS_RET: return InsnKind::Ret;
    case X86_INS_PUSH: return InsnKind::Push;
    case X86_INS_PUSHFQ: return InsnKind::Pushf;
    case X86_INS_POP: return InsnKind::Pop;
    case X86_INS_MOV: case X86_INS_MOVABS: return InsnKind::Mov;
    case X86_INS_LEA: return InsnKind::Lea;
    case X86_INS_ADD: return InsnKind::Add;
    case X86_INS_SUB: return InsnKind::Sub;
    case X86_INS_INT3: return InsnKind::Int3;
    default: break;
  }
  for (uint8_t g = 0; g < d.groups_count; ++g)
    if (d.groups[g] == X86_GRP_JUMP) return InsnKind::Jcc;  // every jump but jmp itself
  return InsnKind::Other;
}

}  // namespace

struct Disassembler::Impl {
  csh handle = 0;
  ~Impl() {
    if (handle) cs_close(&handle);
  }
};

Disassembler::Disassembler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Disassembler::Disassembler(Disassembler&&) noexcept = default;
Disassembler& Disassembler::operator=(Disassembler&&) noexcept = default;
Disassembler::~Disassembler() = default;

Result<Disassembler> Disassembler::open() {
  auto impl = std::make_unique<Impl>();
  if (cs_err e = cs_open(CS_ARCH_X86, CS_MODE_64, &impl->handle); e != CS_ERR_OK) {
    impl->handle = 0;
    return fail(ErrorKind::Os, std::string("capstone: ") + cs_strerror(e));
  }
  if (cs_err e = cs_option(impl->handle, CS_OPT_DETAIL, CS_OPT_ON); e != CS_ERR_OK)
    return fail(ErrorKind::Os, std::string("capstone detail: ") + cs_strerror(e));
  return Disassembler(std::move(impl));
}

std::vector<Insn> Disassembler::decode(std::span<const uint8_t> bytes, uint64_t address, size_t max_insns) {
  std::vector<Insn> out;
  cs_insn* in = cs_malloc(impl_->handle);
  if (!in) return out;
  const uint8_t* code = bytes.data();
  size_t left = bytes.size();
  uint64_t at = address;
  while (left > 0 && out.size() < max_insns) {
    uint64_t here = at;
    if (!cs_disasm_iter(impl_->handle, &code, &left, &at, in)) {
      Insn bad;
      bad.address = here;
      bad.kind = InsnKind::Invalid;
      bad.text = "(undecodable)";
      out.push_back(std::move(bad));
      break;
    }
    const cs_detail& d = *in->detail;
    Insn x;
    x.address = in->address;
    x.size = static_cast<uint8_t>(in->size);
    x.kind = kind_of(*in, d);
    x.text = std::string(in->mnemonic) + (in->op_str[0] ? " " : "") + in->op_str;
    x.lock_prefix = d.x86.prefix[0] == X86_PREFIX_LOCK;
    for (uint8_t i = 0; i < d.x86.op_count; ++i) {
      const cs_x86_op& o = d.x86.operands[i];
      Operand op;
      op.size = o.size;
      switch (o.type) {
        case X86_OP_REG:
          op.kind = Operand::Kind::Reg;
          op.reg = to_gpr(o.reg);
          break;
        case X86_OP_IMM:
          op.kind = Operand::Kind::Imm;
          op.imm = o.imm;
          break;
        case X86_OP_MEM:
          op.kind = Operand::Kind::Mem;
          op.mem.has_segment = o.mem.segment != X86_REG_INVALID;
          op.mem.scale = o.mem.scale;
          op.mem.disp = o.mem.disp;
          if (o.mem.base == X86_REG_RIP) {
            op.mem.rip_relative = true;
            op.mem.disp = static_cast<int64_t>(x.next() + static_cast<uint64_t>(o.mem.disp));
          } else {
            op.mem.base = to_gpr(o.mem.base);
          }
          op.mem.index = to_gpr(o.mem.index);
          break;
        default: break;
      }
      x.ops.push_back(op);
    }
    if ((x.kind == InsnKind::Call || x.kind == InsnKind::Jmp || x.kind == InsnKind::Jcc) && x.ops.size() == 1 &&
        x.ops[0].kind == Operand::Kind::Imm)
      x.branch_target = static_cast<uint64_t>(x.ops[0].imm);
    cs_regs rd, wr;
    uint8_t nrd = 0, nwr = 0;
    if (cs_regs_access(impl_->handle, in, rd, &nrd, wr, &nwr) == CS_ERR_OK) {
      for (uint8_t i = 0; i < nwr; ++i) x.gpr_written |= bit(to_gpr(wr[i]));
    } else {
      // Unknown access: assume the destination register operand is written.
      if (!x.ops.empty() && x.ops[0].kind == Operand::Kind::Reg) x.gpr_written |= bit(x.ops[0].reg);
    }
    out.push_back(std::move(x));
  }
  cs_free(in, 1);
  return out;
}

Result<FunctionCode> read_function_code(Target& target, uint64_t pc, uint64_t until) {
  auto sym = target.symbol_at(pc);
  if (!sym) return fail(ErrorKind::NotFound, "no symbol covers this address", pc);
  if (sym->address > pc) return fail(ErrorKind::NotFound, "symbol starts after the address", pc);
  FunctionCode f;
  f.name = sym->name;
  f.module = sym->module;
  f.start = sym->address;
  f.size = sym->size;
  uint64_t end = until ? until : (sym->size ? sym->address + sym->size : pc);
  if (sym->size && end > sym->address + sym->size) end = sym->address + sym->size;
  if (end < sym->address) return fail(ErrorKind::Invalid, "end before the function's start", pc);
  if (end - sym->address > kMaxFunctionBytes)
    return fail(ErrorKind::Limit,
                sym->name + ": " + std::to_string(end - sym->address) + " bytes before the address, over the " +
                    std::to_string(kMaxFunctionBytes) + "-byte bound",
                pc);
  f.bytes.resize(end - sym->address);
  auto r = target.read(sym->address, std::as_writable_bytes(std::span(f.bytes)));
  if (!r) return tl::unexpected(r.error().with_context(sym->name + " code"));
  return f;
}

}  // namespace kstuck
