// SPDX-License-Identifier: GPL-2.0
// The ORC unwinder: unwind_next_frame() of arch/x86/kernel/unwind_orc.c over dump memory.
#include "analysis/kernel/unwind.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "analysis/kernel/cpus.h"
#include "analysis/kernel/percpu_hot.h"
#include "analysis/hex_text.h"

namespace kstuck {
namespace {

// struct pt_regs word indexes (x86-64), the same order as CpuRegisters.
constexpr int kR13 = 2, kBp = 4, kR10 = 7, kAx = 10, kDx = 12, kDi = 14, kIp = 16, kCs = 17, kFlags = 18, kSp = 19;
constexpr int kPtRegsWords = 21;
constexpr uint64_t kIretFrameOffset = kIp * 8;  // offsetof(struct pt_regs, ip)
constexpr uint64_t kIretFrameSize = 5 * 8;      // ip, cs, flags, sp, ss

// The unwinder's fallbacks, each a CALL entry (signal 0) standing in for ORC's word; the
// loop marks every frame after one unreliable.

// No ORC entry: the kernel's orc_fp_entry, assume a frame pointer (generated code such as
// BPF): CFA = bp + 16, the caller's bp saved at CFA - 16.
OrcEntry guess_frame_pointer() {
  OrcEntry e;
  e.sp_reg = kOrcRegBp;
  e.sp_offset = 16;
  e.bp_reg = kOrcRegPrevSp;
  e.bp_offset = -16;
  e.type = OrcType::Call;
  return e;
}

// Registers saved inside a function ORC leaves undefined or calls "end of stack": its
// caller's return address is the stack slot found right after a direct call to it
// (direct_call_return_slot), or sp on its first instruction.
OrcEntry guess_direct_caller(uint64_t slot, uint64_t sp) {
  OrcEntry e;
  e.sp_reg = kOrcRegSp;
  e.sp_offset = static_cast<int16_t>(slot + 8 - sp);
  e.bp_reg = kOrcRegUndefined;
  e.type = OrcType::Call;
  return e;
}

}  // namespace

const char* stack_kind_name(StackKind k) {
  switch (k) {
    case StackKind::Task: return "task";
    case StackKind::Irq: return "irq";
    case StackKind::Nmi: return "nmi";
    case StackKind::DoubleFault: return "df";
    case StackKind::Debug: return "db";
    case StackKind::Mce: return "mce";
    case StackKind::Vc: return "vc";
    case StackKind::Entry: return "entry";
    case StackKind::User: return "user";
    case StackKind::Unknown: return "unknown";
  }
  return "unknown";
}

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::EndOfStack: return "end of stack";
    case StopReason::UserMode: return "user mode";
    case StopReason::NoOrc: return "no ORC entry";
    case StopReason::Fault: return "fault";
    case StopReason::BadOrc: return "bad ORC entry";
    case StopReason::WrongDirection: return "stack going the wrong way";
    case StopReason::Limit: return "frame limit";
    case StopReason::NoStart: return "nothing to start from";
  }
  return "unknown";
}

StackRange StackRanges::classify(uint64_t sp) const {
  for (const auto& r : ranges)
    if (r.contains(sp)) return r;
  return {};
}

uint64_t irq_stack_ptr_to_end(Fields& f) {
  // Since Linux commit 951c2a51ae75 ("x86/irq/64: Adjust the per CPU irq stack pointer by
  // 8") (in v5.12) hardirq_stack_ptr points at the top-most word (in_irq_stack(): end =
  // ptr + 1); before, at the end itself. The same series, commit e7f890017971 ("x86/irq:
  // Sanitize irq stack tracking"), replaced the per-CPU irq_count with
  // hardirq_stack_inuse: which of the two this kernel has tells the layout.
  if (percpu_hot_place(f, "hardirq_stack_inuse") != PercpuHotPlace::Unknown) return 8;
  if (f.target().symbol_address("irq_count")) return 0;
  return 8;  // neither: the newer layout (the older is 5.11 and before)
}

StackRanges cpu_stack_ranges(Fields& f, int cpu) {
  StackRanges out;
  Target& t = f.target();
  // IRQ_STACK_SIZE equals THREAD_SIZE on x86-64. hardirq_stack_ptr is a per-CPU variable,
  // or pcpu_hot's member on 6.2-6.14 (percpu_hot.h says where, from the type information).
  if (auto a = percpu_hot_address(f, cpu, "hardirq_stack_ptr")) {
    if (auto ptr = read_u64(t, *a); ptr && *ptr && is_kernel_pointer(*ptr)) {
      uint64_t end = *ptr + irq_stack_ptr_to_end(f);
      out.ranges.push_back({StackKind::Irq, end - kThreadSize, end});
    }
  }
  if (auto a = per_cpu_address(f, "cea_exception_stacks", cpu)) {
    if (auto base = read_u64(t, *a); base && *base && is_kernel_pointer(*base)) {
      const std::pair<const char*, StackKind> kinds[] = {{"DF_stack", StackKind::DoubleFault},
                                                         {"NMI_stack", StackKind::Nmi},
                                                         {"DB_stack", StackKind::Debug},
                                                         {"MCE_stack", StackKind::Mce},
                                                         {"VC_stack", StackKind::Vc}};
      for (auto [name, kind] : kinds) {
        auto m = f.member("cea_exception_stacks", name);
        if (m && m->size) out.ranges.push_back({kind, *base + m->offset, *base + m->offset + m->size});
      }
    }
  }
  // x86-64 points the TSS's sp0 at the top of the CPU's entry stack in its cpu_entry_area
  // (cpu_init_exception_handling); SYSCALL and interrupts from user space land there first.
  if (auto a = per_cpu_address(f, "cpu_tss_rw", cpu)) {
    auto sp0 = f.member("tss_struct", "x86_tss.sp0");
    auto size = t.struct_size("entry_stack");
    uint64_t bytes = size && *size && *size <= kThreadSize ? *size : 4096;
    if (sp0) {
      if (auto top = read_u64(t, *a + sp0->offset); top && is_kernel_pointer(*top) && *top > bytes)
        out.ranges.push_back({StackKind::Entry, *top - bytes, *top});
    }
  }
  return out;
}

struct Unwinder::State {
  uint64_t ip = 0, sp = 0, bp = 0;
  bool signal = false;  // ip is exact (from registers), look up ORC at ip, not ip-1
  // The current pt_regs (from the dump's notes or read off the stack) and whether all of
  // it is valid (REGS) or only the iret frame (REGS_PARTIAL); prev_regs as in the kernel.
  std::optional<std::array<uint64_t, kPtRegsWords>> regs;
  bool full_regs = false;
  std::optional<std::array<uint64_t, kPtRegsWords>> prev_regs;
  bool reliable = true;
};

Unwinder::Unwinder(Fields& fields, OrcTables& orc, UnwindLimits limits)
    : fields_(fields), orc_(orc), limits_(limits) {
  // A task that never ran starts at ret_from_fork's asm entry, which is END_OF_STACK
  // annotated at its first instruction: its ORC must be looked up at the exact ip.
  // Since Linux commit 3aec4ecb3d1f ("x86: Rewrite ret_from_fork() in C") (in v6.5) that
  // entry is ret_from_fork_asm and ret_from_fork is a C function whose first byte is never
  // a return address: both are recognized, whichever the kernel has.
  for (const char* name : {"ret_from_fork_asm", "ret_from_fork"})
    if (auto a = fields_.target().symbol_address(name)) fork_entries_.push_back(*a);
}

bool Unwinder::get_reg(const State& st, int index, uint64_t& out) const {
  if (!st.regs) return false;
  if (st.full_regs) {
    out = (*st.regs)[index];
    return true;
  }
  if (st.prev_regs) {
    out = (*st.prev_regs)[index];
    return true;
  }
  return false;
}

Stack Unwinder::from_registers(const CpuRegisters& regs, const StackRanges& stacks) {
  State st;
  st.ip = regs.get(CpuRegisters::rip);
  st.sp = regs.get(CpuRegisters::rsp);
  st.bp = regs.get(CpuRegisters::rbp);
  st.regs.emplace();
  for (int i = 0; i < kPtRegsWords; ++i) (*st.regs)[i] = regs.regs[i];
  st.full_regs = true;
  st.signal = true;
  if ((regs.get(CpuRegisters::cs) & 3) != 0) {
    Stack s;
    s.frames.push_back({st.ip, st.sp, true, true, StackKind::User, regs.get(CpuRegisters::eflags)});
    s.stop = StopReason::UserMode;
    s.detail = "CPU was in user mode";
    return s;
  }
  Stack s = run(st, stacks);
  // With task->stack unreadable, KernelModel passes the stack the RSP is on as the
  // task's (stack_from_registers): an RSP is then off-stack only with its task known.
  if (!stacks.ranges.empty() && stacks.classify(regs.get(CpuRegisters::rsp)).kind == StackKind::Unknown)
    s.start_problem = "the saved stack pointer " + hex_text(regs.get(CpuRegisters::rsp)) +
                      " is on none of this CPU's stacks (task, IRQ, exception, entry): its registers may be damaged";
  return s;
}

Stack Unwinder::from_thread_sp(uint64_t thread_sp, const StackRanges& stacks) {
  Stack s;
  if (!thread_sp || !is_kernel_pointer(thread_sp)) {
    s.stop = StopReason::NoStart;
    s.detail = "no saved thread.sp";
    return s;
  }
  auto size = fields_.size("inactive_task_frame");
  auto bp = fields_.read_uint(thread_sp, "inactive_task_frame", "bp");
  auto ret = fields_.read_uint(thread_sp, "inactive_task_frame", "ret_addr");
  if (!size || !bp || !ret) {
    const Error& e = !size ? size.error() : !bp ? bp.error() : ret.error();
    s.stop = e.kind() == ErrorKind::Fault ? StopReason::Fault : StopReason::NoStart;
    s.stop_address = e.address().value_or(thread_sp);
    s.detail = "inactive_task_frame: " + e.describe();
    return s;
  }
  State st;
  st.sp = thread_sp + *size;
  st.bp = *bp;
  st.ip = *ret;
  st.signal = std::find(fork_entries_.begin(), fork_entries_.end(), *ret) != fork_entries_.end();
  return run(st, stacks);
}

std::optional<uint64_t> Unwinder::caller_return_slot(uint64_t ip, uint64_t sp, const StackRange& stack) {
  if (auto slot = direct_call_return_slot(ip, sp, stack)) return slot;
  // On the first instruction of a function reached by a jump (a tail call): sp holds the
  // return address into the caller of the function that jumped.
  auto fn = fields_.target().symbol_at(ip);
  if (fn && fn->address == ip && stack.kind != StackKind::Unknown && sp + 8 <= stack.end) return sp;
  return std::nullopt;
}

std::optional<uint64_t> Unwinder::direct_call_return_slot(uint64_t ip, uint64_t sp, const StackRange& stack) {
  // Bounded: a frame this large would not fit the ORC sp_offset the guess becomes.
  constexpr uint64_t kMaxFrame = 2048;
  Target& t = fields_.target();
  auto fn = t.symbol_at(ip);
  if (!fn || stack.kind == StackKind::Unknown) return std::nullopt;
  for (uint64_t slot = sp; slot + 8 <= stack.end && slot < sp + kMaxFrame; slot += 8) {
    auto word = read_u64(t, slot);
    if (!word || *word < 5 || !t.symbol_at(*word)) continue;
    std::array<uint8_t, 5> call{};
    if (!t.read(*word - 5, std::as_writable_bytes(std::span(call)))) continue;
    int32_t rel = 0;
    std::memcpy(&rel, call.data() + 1, sizeof(rel));
    if (call[0] == 0xe8 && *word + static_cast<int64_t>(rel) == fn->address) return slot;
  }
  return std::nullopt;
}

Stack Unwinder::run(State& st, const StackRanges& stacks) {
  Stack out;
  found_guess_ = false;
  Target& t = fields_.target();
  std::set<std::pair<uint64_t, uint64_t>> left;  // stacks we left: never go back (visit_mask)
  StackRange cur = stacks.classify(st.sp);
  size_t switches = 0;
  bool last_guess = false;
  auto stop = [&](StopReason r, uint64_t addr, std::string detail) {
    out.stop = r;
    out.stop_address = addr;
    out.detail = std::move(detail);
    return out;
  };
  auto deref = [&](uint64_t addr, uint64_t& v) -> bool {
    auto r = read_u64(t, addr);
    if (!r) return false;
    v = *r;
    return true;
  };

  while (true) {
    if (out.frames.size() >= limits_.max_frames) return stop(StopReason::Limit, st.ip, "stopped after max frames");
    bool user = st.regs && ((*st.regs)[kCs] & 3);
    out.frames.push_back({st.ip, st.sp, st.signal, st.reliable, user ? StackKind::User : cur.kind,
                          st.signal && st.regs ? std::optional<uint64_t>((*st.regs)[kFlags]) : std::nullopt});
    if (user) return stop(StopReason::UserMode, 0, "entered from user space");
    // No guessing beyond the start when the entry format is not recognized: say which fact.
    if (!orc_.format_known()) return stop(StopReason::BadOrc, st.ip, "unknown ORC entry format: " + orc_.format().error);

    uint64_t prev_sp = st.sp;
    uint64_t orig_ip = st.ip;
    uint64_t lookup = st.signal ? st.ip : st.ip - 1;
    std::optional<OrcEntry> found = orc_.find(lookup);
    OrcEntry orc;
    if (found) {
      orc = *found;
      last_guess = false;
    } else {
      // The kernel's orc_fp_entry: assume a frame pointer (generated code such as BPF);
      // a guess, so everything after it is marked unreliable. Two guesses in a row stop.
      if (last_guess || !st.bp) {
        std::string unreadable = orc_.last_lookup_error();
        return stop(StopReason::NoOrc, lookup, unreadable.empty() ? "no ORC entry" : "no ORC entry: " + unreadable);
      }
      orc = guess_frame_pointer();
      st.reliable = false;
      last_guess = true;
    }
    if (orc.type == OrcType::EndOfStack) {
      // Asm without unwind info is annotated UNWIND_HINT_EMPTY, which reads as "end" too:
      // 6.1's retpoline thunks (__x86_indirect_thunk_*) are, and a CPU stopped in one
      // looks like a finished stack. Only for the registers' own frame: its caller's
      // return address is the first stack word after a direct call to the thunk (past
      // the thunk's own inner call), or, on its first instruction, the word at sp (it
      // may have been jumped to). The rest is marked unreliable.
      std::optional<uint64_t> slot;
      if (out.frames.size() == 1 && st.signal && st.regs && st.full_regs && !found_guess_)
        slot = caller_return_slot(st.ip, st.sp, cur);
      if (!slot) return stop(StopReason::EndOfStack, 0, {});
      found_guess_ = true;
      orc = guess_direct_caller(*slot, st.sp);
      st.reliable = false;
    }
    // A weak section terminator or a region objtool could not describe: like the kernel,
    // do not guess (no frame-pointer fallback here) -- except for the registers' own
    // frame in a function objtool left undescribed. 6.1's __crash_kexec is one (the
    // pushf/pop of crash_setup_regs()), and it saves the panicking CPU's crash note: its
    // caller's return address is the first stack word after a direct call to it.
    if (orc.type == OrcType::Undefined && out.frames.size() == 1 && st.regs && st.full_regs && !found_guess_) {
      if (auto slot = caller_return_slot(st.ip, st.sp, cur)) {
        found_guess_ = true;
        orc = guess_direct_caller(*slot, st.sp);
        st.reliable = false;
      }
    }
    if (orc.type == OrcType::Undefined) return stop(StopReason::NoOrc, lookup, "ORC marks this ip undefined");
    if (orc.type == OrcType::Unknown)
      return stop(StopReason::BadOrc, orig_ip, "ORC entry type " + std::to_string(orc.raw_type));

    uint64_t sp = 0;
    bool indirect = false;
    switch (orc.sp_reg) {
      case kOrcRegSp: sp = st.sp + orc.sp_offset; break;
      case kOrcRegBp: sp = st.bp + orc.sp_offset; break;
      case kOrcRegSpIndirect: sp = st.sp; indirect = true; break;
      case kOrcRegBpIndirect: sp = st.bp + orc.sp_offset; indirect = true; break;
      case kOrcRegR10:
      case kOrcRegR13:
      case kOrcRegDi:
      case kOrcRegDx:
      case kOrcRegAx: {
        int idx = orc.sp_reg == kOrcRegR10   ? kR10
                  : orc.sp_reg == kOrcRegR13 ? kR13
                  : orc.sp_reg == kOrcRegDi  ? kDi
                  : orc.sp_reg == kOrcRegAx  ? kAx
                                             : kDx;
        if (!get_reg(st, idx, sp)) return stop(StopReason::BadOrc, orig_ip, "SP base register not saved");
        break;
      }
      default: return stop(StopReason::BadOrc, orig_ip, "unknown SP base register " + std::to_string(orc.raw_sp_reg));
    }
    if (indirect) {
      uint64_t v;
      if (!deref(sp, v)) return stop(StopReason::Fault, sp, "indirect stack pointer unreadable");
      sp = v;
      if (orc.sp_reg == kOrcRegSpIndirect) sp += orc.sp_offset;
    }

    uint64_t new_bp_base = sp;
    switch (orc.type) {
      case OrcType::Call: {
        uint64_t ip;
        if (!deref(sp - 8, ip)) return stop(StopReason::Fault, sp - 8, "return address unreadable");
        st.ip = ip;
        st.sp = sp;
        st.regs.reset();
        st.prev_regs.reset();
        st.full_regs = false;
        break;
      }
      case OrcType::Regs: {
        std::array<uint64_t, kPtRegsWords> r;
        auto rr = t.read(sp, std::as_writable_bytes(std::span(r)));
        if (!rr) return stop(StopReason::Fault, rr.error().address().value_or(sp), "pt_regs unreadable");
        st.ip = r[kIp];
        st.sp = r[kSp];
        st.regs = r;
        st.prev_regs.reset();
        st.full_regs = true;
        break;
      }
      case OrcType::RegsPartial: {
        std::array<uint64_t, 5> iret;
        auto rr = t.read(sp, std::as_writable_bytes(std::span(iret)));
        if (!rr) return stop(StopReason::Fault, rr.error().address().value_or(sp), "iret frame unreadable");
        std::array<uint64_t, kPtRegsWords> r{};
        for (int i = 0; i < 5; ++i) r[kIp + i] = iret[i];
        if (st.full_regs) st.prev_regs = st.regs;
        st.ip = r[kIp];
        st.sp = r[kSp];
        st.regs = r;
        st.full_regs = false;
        (void)kIretFrameOffset;
        (void)kIretFrameSize;
        break;
      }
      default: return stop(StopReason::BadOrc, orig_ip, "unexpected ORC type");
    }
    // Whether the frame we reach is a signal frame, whose ip is exact: the entry says so
    // (6.3+ `state->signal = orc->signal`; decode_orc gives V1 entries the kernel's old
    // rule, REGS and REGS_PARTIAL). The guessed entries above are CALL frames, signal 0.
    st.signal = orc.signal;

    switch (orc.bp_reg) {
      case kOrcRegUndefined: {
        uint64_t v;
        if (get_reg(st, kBp, v)) st.bp = v;
        break;
      }
      case kOrcRegPrevSp: {
        uint64_t v;
        if (!deref(new_bp_base + orc.bp_offset, v)) return stop(StopReason::Fault, new_bp_base + orc.bp_offset, "saved bp unreadable");
        st.bp = v;
        break;
      }
      case kOrcRegBp: {
        uint64_t v;
        if (!deref(st.bp + orc.bp_offset, v)) return stop(StopReason::Fault, st.bp + orc.bp_offset, "saved bp unreadable");
        st.bp = v;
        break;
      }
      default: return stop(StopReason::BadOrc, orig_ip, "unknown BP base register " + std::to_string(orc.raw_bp_reg));
    }

    // Prevent loops on bad data: on the same stack sp must grow; a stack once left is
    // never re-entered (the kernel's visit_mask), and switches are bounded.
    StackRange next = stacks.classify(st.sp);
    bool same = next.kind == cur.kind && next.begin == cur.begin && next.end == cur.end;
    if (same && next.kind != StackKind::Unknown && st.sp <= prev_sp)
      return stop(StopReason::WrongDirection, st.sp, "stack pointer did not move up");
    if (same && next.kind == StackKind::Unknown && st.sp <= prev_sp) {
      if (++switches > limits_.max_stack_switches) return stop(StopReason::WrongDirection, st.sp, "too many stack switches");
    }
    if (!same) {
      left.insert({cur.begin, cur.end});
      if (next.kind != StackKind::Unknown && left.count({next.begin, next.end}))
        return stop(StopReason::WrongDirection, st.sp, "returned to a stack already unwound");
      if (++switches > limits_.max_stack_switches) return stop(StopReason::Limit, st.sp, "too many stack switches");
      cur = next;
    }
    if (st.ip == 0 && !st.signal) return stop(StopReason::EndOfStack, 0, "zero return address");
  }
}

}  // namespace kstuck
