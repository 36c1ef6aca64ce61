// SPDX-License-Identifier: GPL-2.0
// LockCode: lock calls before a frame's pc, their argument followed through a linear scan, and per-frame register recovery.
#include "analysis/code/held_locks.h"

#include <cstdio>
#include <utility>

#include "analysis/fields.h"

namespace kstuck {

namespace {

constexpr LockFunction kLockFunctions[] = {
    {"_raw_spin_lock", LockType::Spin, true, false, false, "spin_lock"},
    {"_raw_spin_lock_nested", LockType::Spin, true, false, false, "spin_lock_nested"},
    {"_raw_spin_lock_nest_lock", LockType::Spin, true, false, false, "spin_lock_nest_lock"},
    {"_raw_spin_lock_irqsave", LockType::Spin, true, true, false, "spin_lock_irqsave"},
    {"_raw_spin_lock_irqsave_nested", LockType::Spin, true, true, false, "spin_lock_irqsave_nested"},
    {"_raw_spin_lock_irq", LockType::Spin, true, true, false, "spin_lock_irq"},
    {"_raw_spin_lock_bh", LockType::Spin, true, false, false, "spin_lock_bh"},
    {"_raw_spin_trylock", LockType::Spin, true, false, true, "spin_trylock"},
    {"_raw_spin_trylock_bh", LockType::Spin, true, false, true, "spin_trylock_bh"},
    {"_raw_spin_unlock", LockType::Spin, false, false, false, "spin_unlock"},
    {"_raw_spin_unlock_irqrestore", LockType::Spin, false, true, false, "spin_unlock_irqrestore"},
    {"_raw_spin_unlock_irq", LockType::Spin, false, true, false, "spin_unlock_irq"},
    {"_raw_spin_unlock_bh", LockType::Spin, false, false, false, "spin_unlock_bh"},
    {"_raw_read_lock", LockType::Read, true, false, false, "read_lock"},
    {"_raw_read_lock_irqsave", LockType::Read, true, true, false, "read_lock_irqsave"},
    {"_raw_read_lock_irq", LockType::Read, true, true, false, "read_lock_irq"},
    {"_raw_read_lock_bh", LockType::Read, true, false, false, "read_lock_bh"},
    {"_raw_read_trylock", LockType::Read, true, false, true, "read_trylock"},
    {"_raw_read_unlock", LockType::Read, false, false, false, "read_unlock"},
    {"_raw_read_unlock_irqrestore", LockType::Read, false, true, false, "read_unlock_irqrestore"},
    {"_raw_read_unlock_irq", LockType::Read, false, true, false, "read_unlock_irq"},
    {"_raw_read_unlock_bh", LockType::Read, false, false, false, "read_unlock_bh"},
    {"_raw_write_lock", LockType::Write, true, false, false, "write_lock"},
    {"_raw_write_lock_nested", LockType::Write, true, false, false, "write_lock_nested"},
    {"_raw_write_lock_irqsave", LockType::Write, true, true, false, "write_lock_irqsave"},
    {"_raw_write_lock_irq", LockType::Write, true, true, false, "write_lock_irq"},
    {"_raw_write_lock_bh", LockType::Write, true, false, false, "write_lock_bh"},
    {"_raw_write_trylock", LockType::Write, true, false, true, "write_trylock"},
    {"_raw_write_unlock", LockType::Write, false, false, false, "write_unlock"},
    {"_raw_write_unlock_irqrestore", LockType::Write, false, true, false, "write_unlock_irqrestore"},
    {"_raw_write_unlock_irq", LockType::Write, false, true, false, "write_unlock_irq"},
    {"_raw_write_unlock_bh", LockType::Write, false, false, false, "write_unlock_bh"},
    // rw_semaphore (kernel/locking/rwsem.c): the reader paths never record who is in.
    {"down_read", LockType::RwsemRead, true, false, false, "down_read"},
    {"down_read_nested", LockType::RwsemRead, true, false, false, "down_read_nested"},
    {"down_read_non_owner", LockType::RwsemRead, true, false, false, "down_read_non_owner"},
    {"down_read_killable", LockType::RwsemRead, true, false, true, "down_read_killable"},
    {"down_read_killable_nested", LockType::RwsemRead, true, false, true, "down_read_killable_nested"},
    {"down_read_interruptible", LockType::RwsemRead, true, false, true, "down_read_interruptible"},
    {"down_read_trylock", LockType::RwsemRead, true, false, true, "down_read_trylock"},
    {"up_read", LockType::RwsemRead, false, false, false, "up_read"},
    {"up_read_non_owner", LockType::RwsemRead, false, false, false, "up_read_non_owner"},
    {"down_write", LockType::RwsemWrite, true, false, false, "down_write"},
    {"down_write_nested", LockType::RwsemWrite, true, false, false, "down_write_nested"},
    {"_down_write_nest_lock", LockType::RwsemWrite, true, false, false, "down_write_nest_lock"},
    {"down_write_killable", LockType::RwsemWrite, true, false, true, "down_write_killable"},
    {"down_write_killable_nested", LockType::RwsemWrite, true, false, true, "down_write_killable_nested"},
    {"down_write_trylock", LockType::RwsemWrite, true, false, true, "down_write_trylock"},
    {"up_write", LockType::RwsemWrite, false, false, false, "up_write"},
    // mutex (kernel/locking/mutex.c; PREEMPT_RT: rtmutex_api.c, the same names).
    {"mutex_lock", LockType::Mutex, true, false, false, "mutex_lock"},
    {"mutex_lock_nested", LockType::Mutex, true, false, false, "mutex_lock_nested"},
    {"_mutex_lock_nest_lock", LockType::Mutex, true, false, false, "mutex_lock_nest_lock"},
    {"mutex_lock_io", LockType::Mutex, true, false, false, "mutex_lock_io"},
    {"mutex_lock_io_nested", LockType::Mutex, true, false, false, "mutex_lock_io_nested"},
    {"mutex_lock_interruptible", LockType::Mutex, true, false, true, "mutex_lock_interruptible"},
    {"mutex_lock_interruptible_nested", LockType::Mutex, true, false, true, "mutex_lock_interruptible_nested"},
    {"mutex_lock_killable", LockType::Mutex, true, false, true, "mutex_lock_killable"},
    {"mutex_lock_killable_nested", LockType::Mutex, true, false, true, "mutex_lock_killable_nested"},
    {"mutex_trylock", LockType::Mutex, true, false, true, "mutex_trylock"},
    {"mutex_unlock", LockType::Mutex, false, false, false, "mutex_unlock"},
};

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string signed_hex(int64_t v) {
  if (v == 0) return "";
  return v < 0 ? "-" + hex(static_cast<uint64_t>(-v)) : "+" + hex(static_cast<uint64_t>(v));
}

constexpr size_t kMaxInsns = 4096;
// pt_regs in words: r15 .. ss (CpuRegisters order); ip at 16, cs 17, flags 18, sp 19.
constexpr size_t kPtRegsWords = 21;

// One way to express a value at some point of the linear scan.
struct Expr {
  enum class Kind { Const, Reg, Load } kind = Kind::Const;
  uint64_t c = 0;         // Const: the value; Load: the address loaded from
  Gpr reg = Gpr::none;    // Reg: the register ...
  uint32_t version = 0;   // ... as written by its version-th write (0: at function entry)
  int64_t off = 0;        // added to Reg/Load
  std::string how;        // Const/Load: the instruction that made it
  bool operator==(const Expr& o) const {
    return kind == o.kind && c == o.c && reg == o.reg && version == o.version && off == o.off;
  }
  void add(int64_t d) {
    if (kind == Kind::Const) c += static_cast<uint64_t>(d);
    else off += d;
  }
};

// A value followed symbolically: every expression known to give it (a copy keeps both
// its source's and its own register, so either may survive to the pc). Empty: unknown.
struct Val {
  std::vector<Expr> alts;
  bool same_as(const Val& o) const {
    for (const auto& a : alts)
      for (const auto& b : o.alts)
        if (a == b) return true;
    return false;
  }
  void add(int64_t d) {
    for (auto& a : alts) a.add(d);
  }
};
constexpr size_t kMaxAlternatives = 4;

bool caller_saved(Gpr r) {
  return r == Gpr::rax || r == Gpr::rcx || r == Gpr::rdx || r == Gpr::rsi || r == Gpr::rdi || r == Gpr::r8 ||
         r == Gpr::r9 || r == Gpr::r10 || r == Gpr::r11;
}

struct LockEvent {
  const LockFunction* fn;
  const Insn* call;
  Val arg;
  size_t index;  // in the instruction list
};

}  // namespace

FrameRegs FrameRegs::from(const CpuRegisters& regs, const std::string& how_text) {
  FrameRegs f;
  for (int i = 0; i < kGprCount; ++i) {
    auto g = static_cast<Gpr>(i);
    if (g == Gpr::rsp) continue;
    f.set(g, regs.get(gpr_pt_regs_index(g)), how_text);
  }
  return f;
}

Result<FrameRegs> FrameRegs::from_switch_frame(Target& target, uint64_t thread_sp) {
  // Which of inactive_task_frame's members hold which register (x86-64; the 32-bit
  // frame's si/di/bx/bp are not ours to read).
  static constexpr std::pair<const char*, Gpr> kSaved[] = {
      {"r15", Gpr::r15}, {"r14", Gpr::r14}, {"r13", Gpr::r13}, {"r12", Gpr::r12}, {"bx", Gpr::rbx}, {"bp", Gpr::rbp}};
  FrameRegs f;
  if (!is_kernel_pointer(thread_sp)) return fail(ErrorKind::Format, "no thread.sp", thread_sp);
  int found = 0;
  for (const auto& [member, reg] : kSaved) {
    auto m = target.member("inactive_task_frame", member);
    if (!m || m->size != 8) continue;
    auto v = read_u64(target, thread_sp + m->offset);
    if (!v) return tl::unexpected(v.error().with_context("inactive_task_frame." + std::string(member)));
    f.set(reg, *v, "from the task's switch frame (inactive_task_frame." + std::string(member) + " at " +
                       hex(thread_sp + m->offset) + ")");
    ++found;
  }
  if (!found) return fail(ErrorKind::NotFound, "no type information for inactive_task_frame's registers");
  return f;
}

const char* lock_type_name(LockType t) {
  switch (t) {
    case LockType::Spin: return "spinlock";
    case LockType::Read: return "rwlock (read)";
    case LockType::Write: return "rwlock (write)";
    case LockType::RwsemRead: return "rwsem (read)";
    case LockType::RwsemWrite: return "rwsem (write)";
    case LockType::Mutex: return "mutex";
  }
  return "?";
}

bool lock_type_sleeps(LockType t) {
  return t == LockType::RwsemRead || t == LockType::RwsemWrite || t == LockType::Mutex;
}

std::span<const LockFunction> lock_functions() { return kLockFunctions; }

const char* lock_state_name(LockState s) {
  switch (s) {
    case LockState::Held: return "held";
    case LockState::MaybeReleased: return "maybe released";
    case LockState::Released: return "released";
    case LockState::Acquiring: return "acquiring";
  }
  return "?";
}

LockCode::LockCode(Target& target, Disassembler& dis) : target_(target), dis_(dis) {
  for (const auto& f : kLockFunctions)
    if (auto a = target_.symbol_address(f.name)) lock_by_address_[*a] = &f;
}

std::string LockCode::symbolize(uint64_t address) {
  auto s = target_.symbol_at(address);
  if (!s) return hex(address);
  std::string out = s->name;
  if (address != s->address) out += "+" + hex(address - s->address);
  return out;
}

const LockFunction* LockCode::lock_function_at(uint64_t target) {
  if (auto it = lock_by_address_.find(target); it != lock_by_address_.end()) return it->second;
  if (auto it = call_target_cache_.find(target); it != call_target_cache_.end()) return it->second;
  // A direct call may skip the function's ENDBR64 (IBT kernels), or the lock function may
  // be a module-local alias: name it from the symbol that covers the target.
  const LockFunction* found = nullptr;
  if (auto s = target_.symbol_at(target); s && target - s->address <= 16)
    for (const auto& f : kLockFunctions)
      if (s->name == f.name) found = &f;
  if (call_target_cache_.size() < 65536) call_target_cache_[target] = found;
  return found;
}

const LockCode::Decoded& LockCode::decoded(uint64_t pc) {
  if (auto it = start_of_.find(pc); it != start_of_.end()) return functions_.at(it->second);
  Decoded d;
  auto code = read_function_code(target_, pc, 0);
  // Without a symbol size, read up to the pc (plus the instruction there).
  if (code && code->size == 0) code = read_function_code(target_, pc, pc + 16);
  uint64_t key = pc;
  if (!code) {
    d.problem = code.error().message();
  } else {
    key = code->start;
    if (auto it = functions_.find(key); it != functions_.end() && code->size) {
      start_of_[pc] = key;
      return it->second;
    }
    if (!code->size) key = pc;  // partial decode: keyed by this pc only
    d.insns = dis_.decode(code->bytes, code->start, kMaxInsns);
    d.code = std::move(*code);
  }
  if (functions_.size() > 4096) functions_.clear(), start_of_.clear();
  auto [it, fresh] = functions_.insert_or_assign(key, std::move(d));
  start_of_[pc] = key;
  return it->second;
}

FrameLocks LockCode::frame_locks(const CodeFrame& frame, const FrameRegs& regs) {
  FrameLocks out;
  const Decoded& d = decoded(frame.exact ? frame.pc : frame.pc - 1);
  out.function = d.code.name;
  if (!d.problem.empty()) {
    out.problem = d.problem;
    return out;
  }
  const uint64_t start = d.code.start;
  out.method = "linear scan of " + d.code.name + " from its start to +" + hex(frame.pc - start) +
               " (branches not followed)";

  // cur[r]: what register r holds, besides "itself" (r at its current version).
  std::array<Val, kGprCount> cur{};
  std::array<uint32_t, kGprCount> version{};
  auto write = [&](Gpr r, Val v) {
    if (r == Gpr::none || r == Gpr::rsp) return;
    auto i = static_cast<size_t>(r);
    ++version[i];
    if (v.alts.size() > kMaxAlternatives) v.alts.resize(kMaxAlternatives);
    cur[i] = std::move(v);
  };
  auto value_of_reg = [&](Gpr r) {
    Val v = cur[static_cast<size_t>(r)];
    Expr self;
    self.kind = Expr::Kind::Reg;
    self.reg = r;
    self.version = version[static_cast<size_t>(r)];
    v.alts.push_back(self);
    return v;
  };
  auto constant = [&](Expr::Kind k, uint64_t c, std::string how) {
    Expr e;
    e.kind = k;
    e.c = c;
    e.how = std::move(how);
    return Val{{e}};
  };
  std::vector<LockEvent> events;
  bool stopped_early = false;
  size_t n = 0;
  for (; n < d.insns.size(); ++n) {
    const Insn& in = d.insns[n];
    if (in.address >= frame.pc) break;
    if (in.kind == InsnKind::Invalid) {
      out.problem = "undecodable instruction at " + symbolize(in.address);
      stopped_early = true;
      break;
    }
    const auto& ops = in.ops;
    const bool dst_reg = !ops.empty() && ops[0].kind == Operand::Kind::Reg && ops[0].reg != Gpr::none;
    const bool wide = dst_reg && ops[0].size == 8;
    const std::string at = " at " + symbolize(in.address);
    switch (in.kind) {
      case InsnKind::Call: {
        if (in.branch_target)
          if (const LockFunction* f = lock_function_at(in.branch_target))
            events.push_back(LockEvent{f, &in, value_of_reg(Gpr::rdi), n});
        for (int i = 0; i < kGprCount; ++i)
          if (caller_saved(static_cast<Gpr>(i))) write(static_cast<Gpr>(i), Val{});
        continue;
      }
      case InsnKind::Mov:
        if (dst_reg && ops.size() == 2) {
          const Operand& s = ops[1];
          Val v;
          if (s.kind == Operand::Kind::Imm && (wide || ops[0].size == 4)) {
            v = constant(Expr::Kind::Const, wide ? static_cast<uint64_t>(s.imm) : static_cast<uint32_t>(s.imm),
                         "immediate " + hex(wide ? static_cast<uint64_t>(s.imm) : static_cast<uint32_t>(s.imm)) + " (" + in.text + at + ")");
          } else if (s.kind == Operand::Kind::Reg && wide && s.reg != Gpr::none && s.reg != Gpr::rsp) {
            v = value_of_reg(s.reg);
          } else if (s.kind == Operand::Kind::Mem && wide && s.mem.rip_relative && !s.mem.has_segment &&
                     s.mem.index == Gpr::none) {
            v = constant(Expr::Kind::Load, static_cast<uint64_t>(s.mem.disp),
                         "loaded from " + symbolize(static_cast<uint64_t>(s.mem.disp)) + " (" + in.text + at +
                             "; the pointer's value in the dump)");
          }
          write(ops[0].reg, v);
          continue;
        }
        break;
      case InsnKind::Lea:
        if (wide && ops.size() == 2 && ops[1].kind == Operand::Kind::Mem && ops[1].mem.index == Gpr::none &&
            !ops[1].mem.has_segment) {
          const MemOperand& m = ops[1].mem;
          Val v;
          if (m.rip_relative) {
            v = constant(Expr::Kind::Const, static_cast<uint64_t>(m.disp), "RIP-relative " + hex(static_cast<uint64_t>(m.disp)) + " (" + in.text + at + ")");
          } else if (m.base != Gpr::none && m.base != Gpr::rsp) {
            v = value_of_reg(m.base);
            v.add(m.disp);
          }
          write(ops[0].reg, v);
          continue;
        }
        break;
      case InsnKind::Add:
      case InsnKind::Sub:
        if (wide && ops.size() == 2 && ops[1].kind == Operand::Kind::Imm && ops[0].reg != Gpr::rsp) {
          Val v = value_of_reg(ops[0].reg);
          v.add(in.kind == InsnKind::Add ? ops[1].imm : -ops[1].imm);
          write(ops[0].reg, v);
          continue;
        }
        break;
      default: break;
    }
    for (int i = 0; i < kGprCount; ++i)
      if (in.gpr_written & (1u << i)) write(static_cast<Gpr>(i), Val{});
  }
  if (!stopped_early && (n == d.insns.size()) && (d.insns.empty() || d.insns.back().next() < frame.pc))
    out.problem = "the code read ends before the pc";

  // Resolve a value at the pc: constants as they are, registers through the frame's
  // known registers when nothing wrote them after the value was taken.
  auto resolve_one = [&](const Expr& v, std::string* how) -> std::optional<uint64_t> {
    switch (v.kind) {
      case Expr::Kind::Const:
        *how = v.how;
        return v.c;
      case Expr::Kind::Load: {
        auto p = read_u64(target_, v.c);
        if (!p) {
          *how = v.how + ", unreadable";
          return std::nullopt;
        }
        *how = v.how + (v.off ? " " + signed_hex(v.off) : "");
        return *p + static_cast<uint64_t>(v.off);
      }
      case Expr::Kind::Reg: {
        std::string r = gpr_name(v.reg);
        if (version[static_cast<size_t>(v.reg)] != v.version) {
          *how = r + signed_hex(v.off) + ", but " + r + " is written again before the pc";
          return std::nullopt;
        }
        if (!regs.known(v.reg)) {
          *how = r + signed_hex(v.off) + ", " + r + "'s value in this frame is unknown";
          return std::nullopt;
        }
        *how = r + signed_hex(v.off) + " (" + r + " = " + hex(regs.get(v.reg)) + ", kept unchanged to the pc; " +
               regs.how[static_cast<size_t>(v.reg)] + ")";
        return regs.get(v.reg) + static_cast<uint64_t>(v.off);
      }
    }
    return std::nullopt;
  };
  auto resolve = [&](const Val& v, std::string* how) -> std::optional<uint64_t> {
    std::string first;
    for (const auto& e : v.alts) {
      std::string h;
      if (auto a = resolve_one(e, &h)) {
        *how = h;
        return a;
      }
      // The most useful failure: a register still holding the value, but unknown here.
      bool live = e.kind == Expr::Kind::Reg && version[static_cast<size_t>(e.reg)] == e.version;
      if (first.empty() || live) first = h;
    }
    *how = first.empty() ? "the argument's source is not followed" : first;
    return std::nullopt;
  };

  std::vector<std::optional<uint64_t>> addr(events.size());
  std::vector<std::string> how(events.size());
  for (size_t i = 0; i < events.size(); ++i) addr[i] = resolve(events[i].arg, &how[i]);

  for (size_t i = 0; i < events.size(); ++i) {
    const LockEvent& e = events[i];
    if (!e.fn->acquire) continue;
    LockUse u;
    u.fn = e.fn;
    u.call_site = e.call->address;
    u.where = symbolize(e.call->address);
    u.address = addr[i];
    u.how = how[i];
    u.state = LockState::Held;
    if (!frame.exact && e.call->next() == frame.pc) {
      u.state = LockState::Acquiring;
    } else {
      for (size_t j = i + 1; j < events.size(); ++j) {
        const LockEvent& r = events[j];
        if (r.fn->acquire || r.fn->type != e.fn->type) continue;
        bool same = (addr[i] && addr[j] && *addr[i] == *addr[j]) || e.arg.same_as(r.arg);
        bool unknown = !addr[j] && !e.arg.same_as(r.arg);
        if (!same && !unknown) continue;
        // On the straight path when no ret/jmp leaves between the unlock and the pc.
        bool leaves = false;
        for (size_t k = r.index + 1; k < n; ++k)
          if (d.insns[k].kind == InsnKind::Ret || d.insns[k].kind == InsnKind::Jmp) leaves = true;
        LockState s = same && !leaves ? LockState::Released : LockState::MaybeReleased;
        if (s == LockState::Released || u.state == LockState::Held) {
          u.state = s;
          u.unlock_where = std::string(r.fn->api) + " at " + symbolize(r.call->address) +
                           (unknown ? " (its lock not recovered)" : "") +
                           (s == LockState::MaybeReleased && !unknown ? " on a path that leaves before the pc" : "");
        }
        if (s == LockState::Released) break;
      }
    }
    out.locks.push_back(std::move(u));
  }
  return out;
}

std::vector<FrameRegs> LockCode::recover_registers(const CpuRegisters& regs, std::span<const CodeFrame> frames) {
  return recover_registers(FrameRegs::from(regs, "from the dump's saved registers"), frames);
}

std::vector<FrameRegs> LockCode::recover_registers(FrameRegs first, std::span<const CodeFrame> frames) {
  std::vector<FrameRegs> out;
  if (frames.empty()) return out;
  out.push_back(std::move(first));
  for (size_t i = 1; i < frames.size(); ++i) {
    const CodeFrame& callee = frames[i - 1];
    const CodeFrame& f = frames[i];
    FrameRegs next;
    // An interrupted frame: pt_regs just below its stack pointer name its ip and sp.
    if (f.exact || f.sp) {
      bool found = false;
      for (uint64_t slack = 0; slack <= 8 * 4 && !found && f.sp > (kPtRegsWords + 8) * 8; slack += 8) {
        uint64_t at = ((f.sp & ~uint64_t{15}) - kPtRegsWords * 8) - slack;
        std::array<uint64_t, kPtRegsWords> w{};
        if (!target_.read(at, std::as_writable_bytes(std::span(w)))) break;
        if (w[16] == f.pc && w[19] == f.sp && (w[17] & 3) == 0 && w[17] != 0) {
          CpuRegisters pr;
          for (size_t k = 0; k < kPtRegsWords; ++k) pr.regs[k] = w[k];
          next = FrameRegs::from(pr, "from the pt_regs at " + hex(at) + " of the interrupt it took");
          found = true;
        }
      }
      if (found) {
        out.push_back(std::move(next));
        continue;
      }
    }
    if (f.exact) {  // interrupted, but no pt_regs found: nothing is known
      out.push_back(std::move(next));
      continue;
    }
    // A call frame: callee-saved registers pass through the callee unchanged unless its
    // prologue pushed them (then they are in the stack slots below the return address).
    const Decoded& d = decoded(callee.exact ? callee.pc : callee.pc - 1);
    const FrameRegs& inner = out.back();
    if (!d.problem.empty() || d.insns.empty()) {
      out.push_back(std::move(next));
      continue;
    }
    std::vector<Gpr> pushes;  // in order; Gpr::none for pushfq
    bool clean = false;
    for (const Insn& in : d.insns) {
      if (in.address >= callee.pc) {
        clean = true;
        break;
      }
      if (in.kind == InsnKind::Push && in.ops.size() == 1 && in.ops[0].kind == Operand::Kind::Reg) {
        pushes.push_back(in.ops[0].reg);
        continue;
      }
      if (in.kind == InsnKind::Pushf) {
        pushes.push_back(Gpr::none);
        continue;
      }
      if (in.kind == InsnKind::Call) continue;  // __fentry__ and friends return with rsp unchanged
      if (in.kind == InsnKind::Pop || in.kind == InsnKind::Ret || in.kind == InsnKind::Jmp ||
          (in.gpr_written & (1u << static_cast<int>(Gpr::rsp)))) {
        clean = true;  // the prologue ends at the first other stack pointer change
        break;
      }
      if (in.kind == InsnKind::Jcc && pushes.empty()) {
        // A shrink-wrapped early exit before any push: the pushes, if any, come later on
        // a path a linear scan cannot tell from this one.
        break;
      }
    }
    if (!clean) {
      out.push_back(std::move(next));
      continue;
    }
    // A callee-saved register the callee writes without having pushed it (saved some
    // other way, e.g. a mov to a stack slot): its value for the caller is not known.
    uint32_t pushed = 0, written = 0;
    for (Gpr g : pushes)
      if (g != Gpr::none) pushed |= 1u << static_cast<int>(g);
    for (const Insn& in : d.insns) {
      if (in.address >= callee.pc) break;
      if (in.kind != InsnKind::Call) written |= in.gpr_written;
    }
    const std::string callee_name = d.code.name;
    for (int r = 0; r < kGprCount; ++r) {
      auto g = static_cast<Gpr>(r);
      if ((written & ~pushed) & (1u << r)) continue;
      if (gpr_callee_saved(g) && inner.known(g))
        next.set(g, inner.get(g),
                 inner.how[static_cast<size_t>(r)].starts_with("passed") ? inner.how[static_cast<size_t>(r)]
                                                                         : "passed unchanged through " + callee_name +
                                                                               " (" + inner.how[static_cast<size_t>(r)] + ")");
    }
    for (size_t k = 0; k < pushes.size(); ++k) {
      if (pushes[k] == Gpr::none || !gpr_callee_saved(pushes[k])) continue;
      uint64_t slot = f.sp - 8 - 8 * (k + 1);
      auto v = read_u64(target_, slot);
      if (!v) {
        next.value[static_cast<size_t>(pushes[k])].reset();
        continue;
      }
      next.set(pushes[k], *v,
               "restored from the push in " + callee_name + "'s prologue, stack slot " + hex(slot));
    }
    out.push_back(std::move(next));
  }
  return out;
}

}  // namespace kstuck
