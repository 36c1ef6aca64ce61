// SPDX-License-Identifier: GPL-2.0
// CpuActivity: CPU classification from saved registers and stack frames; spinlock word and holder inference.
#include "analysis/hang/cpu_activity.h"

#include <algorithm>

#include <array>
#include <cstdio>
#include <map>

#include "analysis/hang/sleeping_locks.h"

namespace kstuck {

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
  return starts_with_any(f, {"smp_call_function_single", "smp_call_function_many_cond", "csd_lock_wait",
                             "__csd_lock_wait", "smp_call_function_any", "generic_exec_single"});
}

// Entries of maskable hardware interrupts: they arrive only when IF is set, so the
// context they interrupted had interrupts on, whatever the handler's EFLAGS say.
bool is_irq_entry(const std::string& f) {
  return starts_with_any(f, {"asm_sysvec_", "asm_common_interrupt", "asm_spurious_interrupt"});
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

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
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

}  // namespace

std::vector<CpuActivity> classify_cpus(Target& target, const HangSnapshot& snap) {
  std::vector<CpuActivity> out;
  for (const auto& c : snap.cpus) {
    CpuActivity a;
    a.cpu = c.cpu;
    if (c.regs) a.irqs_off = !(c.regs->get(CpuRegisters::eflags) & kEflagsIf);
    // A dump often lands in a timer interrupt (reading the HPET is slow under TCG):
    // what the CPU is stuck on is the context the interrupt came in on.
    size_t first = 0;
    for (size_t i = 0; i < c.frames.size(); ++i)
      if (is_irq_entry(c.frames[i].function)) first = i + 1;
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
    else
      a.irqs_off = false;
    a.where = first < c.frames.size() ? c.frames[first].function : std::string();
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
    if (a.doing == CpuDoing::SpinlockWait && c.regs) {
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
            a.lock_evidence = "stack word at " + hex(base + 8 * i) + " points at a locked lock word";
          }
      }
      if (a.lock) a.lock_symbol = static_name(target, a.lock);
    }
    out.push_back(std::move(a));
  }
  // Holder candidates: CPUs not waiting on the same lock whose registers or stack
  // keep its address (a holder keeps the pointer to unlock it later).
  for (auto& a : out) {
    if (!a.lock) continue;
    for (const auto& c : snap.cpus) {
      if (c.cpu == a.cpu || !c.regs) continue;
      bool same = false;
      for (const auto& b : out)
        if (b.cpu == c.cpu && b.doing == CpuDoing::SpinlockWait && b.lock == a.lock) same = true;
      if (same) continue;
      std::string ev;
      for (int r = 0; r < static_cast<int>(kRegNames.size()) && ev.empty(); ++r)
        if (c.regs->get(static_cast<CpuRegisters::Index>(r)) == a.lock)
          ev = "cpu " + std::to_string(c.cpu) + " keeps the lock address in " + kRegNames[r];
      for (const auto& [base, words] : cpu_stacks(target, c, kThreadSize)) {
        if (!ev.empty()) break;
        for (size_t i = 0; i < words.size(); ++i)
          if (words[i] == a.lock) {
            std::string fn = frame_of(c, base + 8 * i);
            ev = "cpu " + std::to_string(c.cpu) + " keeps the lock address on its stack at " + hex(base + 8 * i) +
                 (fn.empty() ? "" : " (frame of " + fn + ")");
            break;
          }
      }
      if (!ev.empty()) a.holders.push_back(HolderCandidate{c.cpu, ev + "; the lock word is locked"});
    }
  }
  return out;
}

}  // namespace kstuck
