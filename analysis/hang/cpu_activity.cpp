// SPDX-License-Identifier: GPL-2.0
// CpuActivity: CPU classification from saved registers and stack frames; spinlock word and holder inference.
#include "analysis/hang/cpu_activity.h"

#include <algorithm>

#include <array>
#include <cstdio>
#include <map>

#include "analysis/code/disasm.h"
#include "analysis/code/held_locks.h"
#include "analysis/hang/sleeping_locks.h"
#include "analysis/hex_text.h"
#include "analysis/kernel/cpus.h"
#include "analysis/kernel/percpu_hot.h"

namespace kstuck {

const char* holder_basis_name(HolderBasis b) {
  switch (b) {
    case HolderBasis::Code: return "code";
    case HolderBasis::CodeMaybeReleased: return "code, maybe released";
    case HolderBasis::StackWord: return "address in a register or on the stack";
  }
  return "?";
}

const char* cpu_doing_name(CpuDoing d) {
  switch (d) {
    case CpuDoing::Unknown: return "unknown";
    case CpuDoing::Idle: return "idle";
    case CpuDoing::Running: return "running";
    case CpuDoing::SpinlockWait: return "spinlock slowpath";
    case CpuDoing::XcallWait: return "xcall wait";
    case CpuDoing::IrqsOffLoop: return "busy with IRQs off";
  }
  return "unknown";
}

namespace {

constexpr std::array kRegNames = {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                                  "rax", "rcx", "rdx", "rsi", "rdi"};
// The first argument first: the slowpath's `lock` arrives in rdi and often stays there;
// then callee-saved registers, where a caller keeps a pointer it needs later.
constexpr std::array<CpuRegisters::Index, 15> kLockRegOrder = {
    CpuRegisters::rdi, CpuRegisters::rbx, CpuRegisters::rbp, CpuRegisters::r12, CpuRegisters::r13,
    CpuRegisters::r14, CpuRegisters::r15, CpuRegisters::rsi, CpuRegisters::rdx, CpuRegisters::rcx,
    CpuRegisters::r8,  CpuRegisters::r9,  CpuRegisters::r10, CpuRegisters::r11, CpuRegisters::rax};

bool starts_with_any(const std::string& s, std::initializer_list<std::string_view> ps) {
  for (auto p : ps)
    if (s.starts_with(p)) return true;
  return false;
}

bool is_spin_slowpath(const std::string& f) {
  return starts_with_any(f, {"native_queued_spin_lock_slowpath", "queued_spin_lock_slowpath",
                             "__pv_queued_spin_lock_slowpath", "queued_read_lock_slowpath",
                             "queued_write_lock_slowpath", "do_raw_spin_lock", "__raw_spin_lock"});
}

bool is_xcall_wait(const std::string& f) {
  // 7.x's smp_call_function_single tail-calls __smp_call_function_single, which waits.
  return starts_with_any(f, {"smp_call_function_single", "__smp_call_function_single", "smp_call_function_many_cond",
                             "csd_lock_wait", "__csd_lock_wait", "smp_call_function_any", "generic_exec_single"});
}

// Entries of maskable hardware interrupts: they arrive only when IF is set, so the
// context they interrupted had interrupts on, whatever the handler's EFLAGS say.
bool is_irq_entry(const std::string& f) {
  return starts_with_any(f, {"asm_sysvec_", "asm_common_interrupt", "asm_spurious_interrupt"});
}

// Entries of an NMI (the RCU-stall or hung-task backtrace, a perf NMI): it arrives with
// IF clear or set, so what the interrupted context had is not known from the frames.
bool is_nmi_entry(const std::string& f) {
  return starts_with_any(f, {"asm_exc_nmi", "end_repeat_nmi", "repeat_nmi", "first_nmi", "nmi_restore"});
}

// An interrupt that runs cross-CPU calls' functions (smp_call_function*, irq_work, TTWU).
bool is_xcall_handler(const std::string& f) {
  return starts_with_any(f, {"__flush_smp_call_function_queue", "flush_smp_call_function_queue",
                             "generic_smp_call_function_single_interrupt", "__sysvec_call_function"});
}

bool is_idle_function(const std::string& f) {
  return starts_with_any(f, {"native_safe_halt", "default_idle", "arch_cpu_idle", "mwait_idle", "acpi_idle",
                             "intel_idle", "cpuidle_enter", "do_idle", "cpu_startup_entry", "poll_idle"});
}

// A qspinlock word is locked when its locked byte is set (1, or 3 when hashed by pv).
bool locked_word(Target& t, uint64_t a) {
  if (!is_kernel_pointer(a) || (a & 3)) return false;
  auto v = read_u32(t, a);
  return v && (*v & 0xff) != 0;
}

// The stack words from sp to the top of its (THREAD_SIZE aligned) stack, at most max_bytes.
std::vector<uint64_t> stack_from(Target& t, uint64_t sp, uint64_t* base, uint64_t max_bytes) {
  std::vector<uint64_t> words;
  sp &= ~uint64_t{7};
  if (!is_kernel_pointer(sp)) return words;
  uint64_t end = std::min((sp | (kThreadSize - 1)) + 1, sp + max_bytes);
  words.resize((end - sp) / 8);
  for (uint64_t at = sp; at < end;) {
    uint64_t chunk = std::min<uint64_t>(end - at, 0x1000 - (at & 0xfff));
    if (!t.read(at, std::as_writable_bytes(std::span(words).subspan((at - sp) / 8, chunk / 8)))) {
      words.resize((at - sp) / 8);
      break;
    }
    at += chunk;
  }
  *base = sp;
  return words;
}

// The live parts of every stack a CPU is on: from its stack pointer up, and, when it
// runs an interrupt on a separate stack, the interrupted stack from the lowest frame
// the unwinder found there.
std::vector<std::pair<uint64_t, std::vector<uint64_t>>> cpu_stacks(Target& t, const CpuView& c, uint64_t max_bytes) {
  std::vector<std::pair<uint64_t, std::vector<uint64_t>>> out;
  std::map<uint64_t, uint64_t> lowest;  // stack (aligned base) -> lowest sp seen
  if (c.regs) lowest[c.regs->get(CpuRegisters::rsp) & ~(kThreadSize - 1)] = c.regs->get(CpuRegisters::rsp);
  for (const auto& f : c.frames) {
    if (!f.sp || !is_kernel_pointer(f.sp)) continue;
    auto [it, fresh] = lowest.try_emplace(f.sp & ~(kThreadSize - 1), f.sp);
    if (!fresh && f.sp < it->second) it->second = f.sp;
  }
  for (const auto& [region, sp] : lowest) {
    if (out.size() >= 4) break;  // task, IRQ, and at most two exception stacks
    uint64_t base = 0;
    auto words = stack_from(t, sp, &base, max_bytes);
    if (!words.empty()) out.emplace_back(base, std::move(words));
  }
  return out;
}

// The function whose frame holds a stack slot: the innermost scanned return address
// above the slot belongs to that function's caller, so name the frame below it.
std::string frame_of(const CpuView& c, uint64_t slot) {
  std::string inner = c.frames.empty() ? std::string() : c.frames.front().function;
  for (const auto& f : c.frames) {
    if (f.sp == 0) continue;
    if (f.sp > slot) return inner;
    inner = f.function;
  }
  return inner;
}


// A frame entered through an interrupt or exception entry: its pc is the interrupted
// instruction, not a return address.
bool is_entry_function(const std::string& f) { return f.starts_with("asm_") || f.starts_with("entry_"); }

constexpr size_t kMaxCodeFrames = 32;

// Every lock call before each frame's pc, frame 0's registers given (see StackLocks).
StackLocks read_stack_locks(LockCode& code, const std::vector<StackFrame>& stack, bool first_exact, FrameRegs first) {
  StackLocks out;
  std::vector<CodeFrame> frames;
  for (size_t i = 0; i < stack.size() && i < kMaxCodeFrames; ++i)
    frames.push_back(CodeFrame{stack[i].pc, stack[i].sp,
                               i == 0 ? first_exact : is_entry_function(stack[i - 1].function)});
  auto regs = code.recover_registers(std::move(first), frames);
  bool clean = stack.size() <= kMaxCodeFrames;
  for (size_t i = 0; i < frames.size() && i < regs.size(); ++i) {
    FrameLocks fl = code.frame_locks(frames[i], regs[i]);
    if (!fl.problem.empty()) {
      clean = false;
      if (out.notes.size() < 8)
        out.notes.push_back("frame #" + std::to_string(i) + " (" + stack[i].function + "): " + fl.problem);
    } else {
      ++out.frames_read;
    }
    for (const auto& u : fl.locks) {
      HeldLock h;
      h.address = u.address.value_or(0);
      h.api = u.fn->api;
      h.type = u.fn->type;
      h.irqs = u.fn->irqs;
      h.read = u.fn->type == LockType::Read;
      h.write = u.fn->type == LockType::Write;
      h.may_fail = u.fn->trylock;
      h.function = stack[i].function;
      h.where = u.where;
      h.how = u.how;
      h.state = lock_state_name(u.state);
      h.unlock_where = u.unlock_where;
      h.method = fl.method;
      h.frame = i;
      out.locks.push_back(std::move(h));
    }
  }
  if (stack.size() > kMaxCodeFrames && out.notes.size() < 8)
    out.notes.push_back("only the innermost " + std::to_string(kMaxCodeFrames) + " of " +
                        std::to_string(stack.size()) + " frames read");
  out.every_frame_read = clean && !stack.empty();
  return out;
}

// The spinlocks/rwlocks each frame of a CPU's stack took and has not released (or is
// acquiring), with their address. Sleeping locks (a mutex or rwsem a running task
// holds) are not what a CPU spins on: they stay out of the spinlock reasoning.
void read_held_locks(LockCode& code, const CpuView& c, CpuActivity& a) {
  if (!c.regs || c.frames.empty()) return;
  StackLocks sl = read_stack_locks(code, c.frames, true, FrameRegs::from(*c.regs, "from the dump's saved registers"));
  for (auto& n : sl.notes)
    if (a.code_notes.size() < 8) a.code_notes.push_back(std::move(n));
  for (auto& h : sl.locks)
    if (h.state != "released" && h.address && !h.sleeping()) a.held.push_back(std::move(h));
}

// A qspinlock is held when its locked byte is set; a qrwlock when any bit is (readers
// count from bit 9, a writer sets the low byte).
bool lock_word_held(Target& t, uint64_t a, bool rwlock) {
  if (!is_kernel_pointer(a) || (a & 3)) return false;
  auto v = read_u32(t, a);
  return v && (rwlock ? *v != 0 : (*v & 0xff) != 0);
}

// The CPU's preempt count: pcpu_hot.preempt_count where struct pcpu_hot has it (Since
// Linux commit 64701838bf05 ("x86/percpu: Move preempt_count next to current_task")
// (in v6.2)), the per-CPU __preempt_count otherwise.
std::optional<uint32_t> read_preempt_count(Fields& fields, int cpu) {
  Result<uint64_t> at = percpu_hot_place(fields, "preempt_count") == PercpuHotPlace::PcpuHotMember
                            ? percpu_hot_address(fields, cpu, "preempt_count")
                            : per_cpu_address(fields, "__preempt_count", cpu);
  if (!at) return std::nullopt;
  auto v = read_u32(fields.target(), *at);
  if (!v) return std::nullopt;
  return *v;
}

std::string lock_call_text(const HeldLock& h, const std::string& name) {
  return h.api + "(" + (name.empty() ? hex_text(h.address) : "&" + name) + ") at " + h.where;
}

}  // namespace

StackLocks read_task_locks(LockCode& code, Target& target, const HangSnapshot& snap, const TaskView& t) {
  StackLocks out;
  if (t.frames.empty()) {
    out.regs_from = "no frames";
    return out;
  }
  FrameRegs first;
  bool exact = false;
  if (t.on_cpu >= 0) {
    const CpuView* c = snap.cpu(t.on_cpu);
    if (c && c->regs) {
      first = FrameRegs::from(*c->regs, "from CPU " + std::to_string(t.on_cpu) + "'s saved registers");
      out.regs_from = "CPU " + std::to_string(t.on_cpu) + "'s saved registers";
    } else {
      out.regs_from = "current on CPU " + std::to_string(t.on_cpu) + ", which has no saved registers";
    }
    exact = true;
  } else if (auto f = FrameRegs::from_switch_frame(target, t.sp)) {
    first = std::move(*f);
    out.regs_from = "its switch frame at thread.sp " + hex_text(t.sp);
  } else {
    out.regs_from = "switch frame: " + f.error().message();
  }
  StackLocks sl = read_stack_locks(code, t.frames, exact, std::move(first));
  sl.regs_from = std::move(out.regs_from);
  sl.every_frame_read = sl.every_frame_read && t.frames_complete;
  if (!t.frames_complete && sl.notes.size() < 8) sl.notes.push_back("the unwind stopped before the stack's end");
  return sl;
}

std::vector<CpuActivity> classify_cpus(Target& target, const HangSnapshot& snap) {
  std::vector<CpuActivity> out;
  for (const auto& c : snap.cpus) {
    CpuActivity a;
    a.cpu = c.cpu;
    if (c.regs) a.irqs_off = !(c.regs->get(CpuRegisters::eflags) & kEflagsIf);
    // A dump often lands in a timer interrupt (reading the HPET is slow under TCG):
    // what the CPU is stuck on is the context the interrupt came in on.
    size_t first = 0;
    bool through_nmi = false;
    for (size_t i = 0; i < c.frames.size(); ++i) {
      if (is_irq_entry(c.frames[i].function)) first = i + 1;
      if (is_nmi_entry(c.frames[i].function)) {
        first = i + 1;
        through_nmi = true;
      }
    }
    const bool in_irq = first > 0 && first < c.frames.size();
    if (in_irq) a.interrupted_by = c.frames.front().function;
    // An idle CPU serving a cross-CPU call is busy in that call's function, not idle: the
    // idle loop it interrupted waits for nothing, and a function that never returns (a
    // callback spinning with IRQs off) keeps every later xcall and wakeup queued behind it.
    // Its own frames and registers say what it does.
    const bool serving_xcall_from_idle =
        in_irq && (c.idle || is_idle_function(c.frames[first].function)) &&
        std::any_of(c.frames.begin(), c.frames.begin() + static_cast<long>(first),
                    [](const StackFrame& f) { return is_xcall_handler(f.function); });
    if (!in_irq || serving_xcall_from_idle)
      first = 0;
    else if (through_nmi)
      // The registers are the NMI handler's (IF clear), not the context's: the NMI's own
      // pt_regs say whether the context it interrupted (a stopped CPU's, say) had them on.
      a.irqs_off = c.frames[first].flags ? std::optional<bool>(!(*c.frames[first].flags & kEflagsIf)) : std::nullopt;
    else
      a.irqs_off = false;
    a.where = first < c.frames.size() ? c.frames[first].function : std::string();
    a.context_frame = first < c.frames.size() ? first : 0;
    // Only the innermost frames say what the CPU does now; deeper ones are its callers.
    bool slow = false, xcall = false;
    for (size_t i = first; i < c.frames.size() && i < first + 3; ++i) {
      slow = slow || is_spin_slowpath(c.frames[i].function);
      xcall = xcall || (i == first && is_xcall_wait(c.frames[i].function));
    }
    if ((c.idle && !serving_xcall_from_idle) || is_idle_function(a.where))
      a.doing = CpuDoing::Idle;
    else if (slow)
      a.doing = CpuDoing::SpinlockWait;
    else if (xcall)
      a.doing = CpuDoing::XcallWait;
    else if (a.irqs_off.value_or(false))
      a.doing = CpuDoing::IrqsOffLoop;
    else if (c.regs)
      a.doing = CpuDoing::Running;
    out.push_back(std::move(a));
  }

  // What each CPU's code says it holds. One disassembler for the whole analysis; without
  // one (capstone failed to open) only the register/stack evidence below remains.
  auto dis = Disassembler::open();
  Fields fields(target);
  const bool preempt_counts_locks = static_cast<bool>(target.symbol_address("preempt_schedule"));
  if (dis) {
    LockCode code(target, *dis);
    for (size_t i = 0; i < out.size() && i < snap.cpus.size(); ++i) read_held_locks(code, snap.cpus[i], out[i]);
  } else {
    for (auto& a : out) a.code_notes.push_back("no disassembler: " + dis.error().message());
  }
  for (size_t i = 0; i < out.size() && i < snap.cpus.size(); ++i)
    if (snap.cpus[i].regs) out[i].preempt_count = read_preempt_count(fields, out[i].cpu);

  // The lock each spinning CPU waits for: the lock call its frame has not returned from
  // (near the top of the stack), else a register or a stack word pointing at a locked word.
  for (size_t ci = 0; ci < out.size() && ci < snap.cpus.size(); ++ci) {
    CpuActivity& a = out[ci];
    const CpuView& c = snap.cpus[ci];
    if (a.doing != CpuDoing::SpinlockWait || !c.regs) continue;
    for (const auto& h : a.held) {
      if (h.state != "acquiring" || h.frame > 6) continue;
      std::string name = static_name(target, h.address);
      bool held = lock_word_held(target, h.address, h.read || h.write);
      a.lock = h.address;
      a.lock_symbol = name;
      a.lock_evidence = lock_call_text(h, name) + " has not returned (" +
                        (h.frame > 0 ? c.frames[h.frame - 1].function : std::string("?")) + " spins), address " +
                        h.how + (held ? "; the lock word is locked" : "; but the lock word reads unlocked");
      if (held) break;
      a.lock = 0;
    }
    if (a.lock) continue;
    for (auto r : kLockRegOrder) {
      uint64_t v = c.regs->get(r);
      if (locked_word(target, v)) {
        a.lock = v;
        a.lock_evidence = std::string(kRegNames[r]) + " points at a locked lock word";
        break;
      }
    }
    if (!a.lock) {
      uint64_t base = 0;
      auto words = stack_from(target, c.regs->get(CpuRegisters::rsp), &base, 512);
      for (size_t i = 0; i < words.size() && !a.lock; ++i)
        if (locked_word(target, words[i]) && !(words[i] >= base && words[i] < base + kThreadSize)) {
          a.lock = words[i];
          a.lock_evidence = "stack word at " + hex_text(base + 8 * i) + " points at a locked lock word";
        }
    }
    if (a.lock) a.lock_symbol = static_name(target, a.lock);
  }

  // Holder candidates among the other CPUs. Code first: a frame that took the lock and
  // has no unlock before its pc, weighed with the CPU's preempt count (every spinlock
  // held adds one) and, for _irqsave/_irq, its IRQ flag. Only when no CPU's code shows
  // the lock: a CPU whose registers or stack keep its address (weaker).
  for (auto& a : out) {
    if (!a.lock) continue;
    std::vector<HolderCandidate> by_code, by_word;
    for (size_t bi = 0; bi < out.size() && bi < snap.cpus.size(); ++bi) {
      const CpuActivity& b = out[bi];
      const CpuView& c = snap.cpus[bi];
      if (c.cpu == a.cpu || !c.regs) continue;
      if (b.doing == CpuDoing::SpinlockWait && b.lock == a.lock) continue;
      const std::string who = "cpu " + std::to_string(c.cpu);
      const HeldLock* hit = nullptr;
      for (const auto& h : b.held)
        if (h.address == a.lock && h.state != "acquiring" && (!hit || (hit->state != "held" && h.state == "held")))
          hit = &h;
      if (hit) {
        size_t spinlocks = 0;
        for (const auto& h : b.held) spinlocks += h.state == "held";
        HolderCandidate hc;
        hc.cpu = c.cpu;
        hc.function = hit->function;
        hc.basis = hit->state == "held" ? HolderBasis::Code : HolderBasis::CodeMaybeReleased;
        std::string ev = who + ": " + lock_call_text(*hit, a.lock_symbol) + ", address " + hit->how + "; " +
                         (hit->state == "held" ? "no unlock before the return address"
                                               : "maybe released: " + hit->unlock_where) +
                         " (" + hit->method + ")";
        if (b.preempt_count) {
          uint32_t depth = *b.preempt_count & 0xff;  // PREEMPT_MASK; bit 31 is x86's inverted NEED_RESCHED
          char pc[96];
          std::snprintf(pc, sizeof(pc), "preempt_count 0x%x (depth %u)", *b.preempt_count, depth);
          ev += "; " + std::string(pc);
          if (preempt_counts_locks && depth == 0) {
            ev += ", which no held spinlock leaves at 0: maybe released";
            hc.basis = HolderBasis::CodeMaybeReleased;
          } else if (preempt_counts_locks) {
            ev += depth >= spinlocks ? " covers the " + std::to_string(spinlocks) + " lock(s) its code holds"
                                     : " is below the " + std::to_string(spinlocks) + " lock(s) its code holds";
          }
        }
        if (hit->irqs && b.irqs_off.has_value())
          ev += *b.irqs_off ? "; IRQs off, as " + hit->api + " leaves them"
                            : "; IRQs on (in its own context) although taken with " + hit->api;
        hc.evidence = ev + "; the lock word is locked";
        by_code.push_back(std::move(hc));
        continue;
      }
      std::string ev;
      for (int r = 0; r < static_cast<int>(kRegNames.size()) && ev.empty(); ++r)
        if (c.regs->get(static_cast<CpuRegisters::Index>(r)) == a.lock)
          ev = who + " keeps the lock address in " + kRegNames[r];
      for (const auto& [base, words] : cpu_stacks(target, c, kThreadSize)) {
        if (!ev.empty()) break;
        for (size_t i = 0; i < words.size(); ++i)
          if (words[i] == a.lock) {
            std::string fn = frame_of(c, base + 8 * i);
            ev = who + " keeps the lock address on its stack at " + hex_text(base + 8 * i) +
                 (fn.empty() ? "" : " (frame of " + fn + ")");
            break;
          }
      }
      if (!ev.empty()) {
        HolderCandidate hc;
        hc.cpu = c.cpu;
        hc.basis = HolderBasis::StackWord;
        hc.evidence = ev + "; no frame's code shows it taking the lock; the lock word is locked";
        by_word.push_back(std::move(hc));
      }
    }
    std::stable_sort(by_code.begin(), by_code.end(),
                     [](const HolderCandidate& x, const HolderCandidate& y) { return x.basis < y.basis; });
    a.holders = by_code.empty() ? std::move(by_word) : std::move(by_code);
    if (a.holders.size() > 1)
      for (auto& h : a.holders) h.evidence += "; one of " + std::to_string(a.holders.size()) + " candidates";
  }
  return out;
}

}  // namespace kstuck
