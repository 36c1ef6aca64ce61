// SPDX-License-Identifier: GPL-2.0
// Loading CPUs: online mask, per-CPU runqueues, current tasks, clocks and the dump's registers by CPU identity.
#include "analysis/kernel/cpus.h"

#include <algorithm>
#include <cstring>

#include "analysis/kernel/percpu_hot.h"
#include "analysis/kernel/unwind.h"

namespace kstuck {
namespace {
constexpr int kMaxCpus = 8192;  // CONFIG_NR_CPUS_RANGE_END on x86-64

// ELF NT_PRSTATUS note as crash_save_cpu() writes it (append_elf_note(): Elf64_Nhdr,
// the name padded to 4 bytes, then struct elf_prstatus): pr_pid at 32, pr_reg
// (user_regs_struct, pt_regs order for its first 21 registers) at 112.
constexpr size_t kNhdrSize = 12;
constexpr size_t kCoreNameSize = 8;  // "CORE\0" rounded up to 4
constexpr size_t kPrPidOffset = 32;
constexpr size_t kPrRegOffset = 112;
constexpr uint32_t kNtPrstatus = 1;
constexpr uint32_t kMinDescSize = kPrRegOffset + 27 * 8;  // up to the whole user_regs_struct

std::string cpu_name(int cpu) { return "CPU " + std::to_string(cpu); }

bool same_note(const CpuRegisters& a, const CpuRegisters& b) { return a.note_pid == b.note_pid && a.regs == b.regs; }

// A kernel's rq->clock counts ns since boot; a machine up 30 years is not one we meet.
constexpr uint64_t kMaxPlausibleUptimeNs = uint64_t{30} * 365 * 24 * 3600 * 1'000'000'000;

// pid of a task_struct, -1 when unreadable.
int64_t task_pid(Fields& f, uint64_t task) {
  if (!task || !is_kernel_pointer(task)) return -1;
  auto v = f.read_int(task, "task_struct", "pid");
  return v ? *v : -1;
}

// Whether the kernel still counted a CPU that is not online as one it had not unplugged:
// hotplug clears its __cpu_active_mask bit first (sched_cpu_deactivate()) and its
// rq->online (set_rq_offline() in sched_cpu_dying()); stop_this_cpu() clears neither.
// Unknown when both are unreadable.
std::optional<bool> still_active(Fields& f, const CpuInfo& c, std::string& how) {
  Target& t = f.target();
  if (auto a = t.symbol_address("__cpu_active_mask")) {
    if (auto w = read_u64(t, *a + 8 * uint64_t(c.cpu / 64))) {
      bool on = *w >> (c.cpu % 64) & 1;
      how = on ? "still in __cpu_active_mask" : "not in __cpu_active_mask";
      return on;
    }
  }
  if (c.rq && f.has("rq", "online")) {
    if (auto v = f.read_uint(c.rq, "rq", "online")) {
      how = *v ? "its rq->online still set" : "its rq->online cleared";
      return *v != 0;
    }
  }
  return std::nullopt;
}

// Ties the dump's register notes (in the dump's order) to the online CPUs and to the
// candidates for stopped CPUs (present, not online); a candidate takes only a note that
// is its own by identity (its crash_notes, or QEMU's vCPU order), never one by order.
void match_register_notes(Fields& f, CpuSet& set, std::vector<CpuInfo>& candidates,
                          const std::vector<std::pair<int, CpuRegisters>>& notes) {
  std::vector<bool> used(notes.size(), false);
  std::vector<CpuInfo*> all;
  for (auto& c : set.cpus) all.push_back(&c);
  for (auto& c : candidates) all.push_back(&c);
  std::vector<std::optional<CpuRegisters>> memory(all.size());
  bool any_memory = false;
  for (size_t i = 0; i < all.size(); ++i) {
    if (auto r = crash_notes_registers(f, all[i]->cpu)) {
      memory[i] = *r;
      any_memory = true;
    }
  }
  // 1. Identity: the note a CPU wrote into its own crash_notes buffer is the note the
  //    capture kernel copied into the dump, byte for byte.
  for (size_t i = 0; i < all.size(); ++i) {
    if (!memory[i]) continue;
    CpuInfo& c = *all[i];
    for (size_t n = 0; n < notes.size(); ++n) {
      if (used[n] || !same_note(notes[n].second, *memory[i])) continue;
      used[n] = true;
      c.regs = notes[n].second;
      c.regs_match = RegsMatch::CrashNotes;
      c.regs_note = notes[n].first;
      break;
    }
    if (!c.regs) {
      c.regs = *memory[i];
      c.regs_match = RegsMatch::CrashMemory;
      c.problems.push_back("registers from this CPU's crash_notes buffer: the dump's note list has no copy of it");
    }
  }
  // 2. QEMU's dump-guest-memory writes one note per vCPU in vCPU order, with pid =
  //    vCPU + 1 instead of a task's pid, and the guest wrote no crash_notes.
  bool qemu = !any_memory && !notes.empty();
  for (size_t n = 0; n < notes.size() && qemu; ++n)
    qemu = notes[n].second.note_pid == notes[n].first + 1;
  if (qemu) {
    for (size_t n = 0; n < notes.size(); ++n) {
      int cpu = notes[n].first;
      for (CpuInfo* c : all) {
        if (c->cpu != cpu || c->regs) continue;
        c->regs = notes[n].second;
        c->regs_match = RegsMatch::QemuOrder;
        c->regs_note = cpu;
        used[n] = true;
      }
    }
  } else if (!any_memory && !notes.empty()) {
    // 3. Nothing identifies the notes (crash_notes unreadable or absent): the n-th note
    //    goes to the n-th online CPU, as crash does, but only while its pid is the pid of
    //    the task current on that CPU; the first disagreement stops the pairing.
    size_t n = 0;
    for (auto& c : set.cpus) {
      if (c.regs) continue;
      while (n < notes.size() && used[n]) ++n;
      if (n >= notes.size()) break;
      int64_t want = task_pid(f, c.current_task ? c.current_task : c.curr);
      int64_t got = notes[n].second.note_pid;
      if (want >= 0 && got != want) {
        set.problems.push_back("register note " + std::to_string(notes[n].first) + " names pid " + std::to_string(got) +
                               ", but " + cpu_name(c.cpu) + " runs pid " + std::to_string(want) +
                               ": notes from here on are not assigned (a CPU before it saved no note)");
        break;
      }
      c.regs = notes[n].second;
      c.regs_match = RegsMatch::DumpOrder;
      c.regs_note = notes[n].first;
      used[n] = true;
      if (want < 0) c.problems.push_back("registers assigned by the dump's note order, unchecked (current task unreadable)");
    }
  }
  // A note whose pid is not the CPU's current task is worth saying, however it matched
  // (QEMU's pids are vCPU numbers, not tasks).
  for (auto& c : set.cpus) {
    if (!c.regs || c.regs_match == RegsMatch::QemuOrder || c.regs_match == RegsMatch::DumpOrder) continue;
    int64_t cur = task_pid(f, c.current_task ? c.current_task : c.curr);
    if (cur >= 0 && c.regs->note_pid != cur)
      c.problems.push_back("register note names pid " + std::to_string(c.regs->note_pid) + ", the current task is pid " +
                           std::to_string(cur));
  }
  for (auto& c : set.cpus) {
    if (c.regs) continue;
    c.problems.push_back(notes.empty() ? "registers: the dump saved no CPU registers"
                                       : "registers: the dump saved none for this CPU (it did not answer the crash "
                                         "NMI, or its note could not be identified)");
  }
  // The candidates: a CPU whose own note fits what the kernel says of it was stopped,
  // not unplugged. Anything else stays offline, and a note that does not fit is nobody's.
  for (CpuInfo& c : candidates) {
    if (!c.regs) continue;
    std::string how;
    std::optional<bool> active = still_active(f, c, how);
    int64_t cur = task_pid(f, c.current_task ? c.current_task : c.curr);
    bool own = true;  // the note is this CPU's (else it is dropped)
    bool stopped = false;
    std::string why = how;
    if (c.regs_match == RegsMatch::CrashNotes || c.regs_match == RegsMatch::CrashMemory) {
      // crash_save_cpu() ran on it (the crash NMI reaches a parked CPU too): it ran the
      // note's pid then, its rq->curr.
      own = cur >= 0 && c.regs->note_pid == cur;
      if (!own)
        set.problems.push_back(cpu_name(c.cpu) + " is offline; its crash_notes name pid " +
                               std::to_string(c.regs->note_pid) + " but its rq->curr is pid " + std::to_string(cur) +
                               ": the note is not used");
      stopped = own && active.value_or(true);
      why = "its crash_notes name its rq->curr, pid " + std::to_string(cur) + (how.empty() ? "" : "; " + how);
    } else if (c.regs_match == RegsMatch::QemuOrder) {
      // QEMU writes a note for every vCPU, an unplugged one too: the kernel decides.
      if (active) {
        stopped = *active;
      } else {
        // An unplugged CPU dies in its idle task (do_idle() -> cpuhp_report_idle_dead()).
        stopped = c.curr && c.idle && c.curr != c.idle;
        why = "its rq->curr is not its idle task (cpu_active_mask and rq->online unreadable)";
        own = stopped;
        if (!stopped)
          set.problems.push_back(cpu_name(c.cpu) +
                                 " is offline and cannot be told unplugged or stopped (cpu_active_mask and "
                                 "rq->online unreadable, rq->curr its idle task): QEMU's register note " +
                                 std::to_string(c.cpu) + " is not used");
      }
    }
    if (stopped) {
      c.state = CpuState::Stopped;
      c.state_detail = std::string("stopped: not in cpu_online_mask, registers from its note (") +
                       regs_match_name(c.regs_match) + "; " + why + ")";
      continue;
    }
    c.state = CpuState::Offline;
    c.problems.clear();
    if (own) {
      // Unplugged, with its own note: where its idle task sits in play_dead().
      c.state_detail = "offline: unplugged (" + how + "), registers from its note (" + regs_match_name(c.regs_match) + ")";
      continue;
    }
    // A crash note that does not fit is nobody's; QEMU's is this vCPU's, unused.
    for (size_t n = 0; n < notes.size(); ++n)
      if (notes[n].first == c.regs_note && c.regs_match != RegsMatch::QemuOrder) used[n] = false;
    c.regs.reset();
    c.regs_match = RegsMatch::None;
    c.regs_note = -1;
  }
  int unused = 0;
  for (size_t n = 0; n < notes.size(); ++n) unused += !used[n];
  if (unused)
    set.problems.push_back(std::to_string(unused) + " of " + std::to_string(notes.size()) +
                           " register notes belong to no online CPU they could be matched to");
}

// The address of the core struct timekeeper. Where it lives:
//  - Since Linux commit 22c62b9a84b8 ("timekeeping: Introduce auxiliary timekeepers")
//    (in v6.17): timekeeper_data[TIMEKEEPER_CORE = 0], an array of struct tk_data;
//  - Since Linux commit 206db8b13619 ("timekeeping: Define a struct type for tk_core to
//    make it reusable") (in v6.13): tk_core, a struct tk_data;
//  - before: tk_core, an anonymous struct { seqcount_raw_spinlock_t seq; struct
//    timekeeper timekeeper; }: the timekeeper follows the seqcount, 8-byte aligned.
Result<uint64_t> core_timekeeper(Fields& f) {
  Target& t = f.target();
  uint64_t tk = 0;
  if (auto data = t.symbol_address("timekeeper_data")) {
    auto off = f.offset("tk_data", "timekeeper");
    if (!off) return tl::unexpected(off.error().with_context("timekeeper_data"));
    tk = *data + *off;
  } else if (auto core = t.symbol_address("tk_core")) {
    if (f.has("tk_data", "timekeeper")) {
      tk = *core + *f.offset("tk_data", "timekeeper");
    } else {
      auto seq = f.size("seqcount_raw_spinlock");
      if (!seq) seq = f.size("seqcount");
      if (!seq) return tl::unexpected(seq.error().with_context("tk_core's seqcount"));
      tk = *core + ((*seq + 7) & ~uint64_t{7});
    }
  } else {
    return fail(ErrorKind::NotFound, "neither timekeeper_data nor tk_core in the symbols");
  }
  return tk;
}

// The core timekeeper's CLOCK_BOOTTIME at its last update (every tick): tkr_mono.base
// (CLOCK_MONOTONIC, ns) + offs_boot (time suspended).
Result<uint64_t> timekeeper_boottime(Fields& f) {
  auto tk_at = core_timekeeper(f);
  if (!tk_at) return tl::unexpected(tk_at.error());
  uint64_t tk = *tk_at;
  auto base = f.read_int(tk, "timekeeper", "tkr_mono.base");
  if (!base) return tl::unexpected(base.error().with_context("timekeeper"));
  int64_t boot = f.read_int(tk, "timekeeper", "offs_boot").value_or(0);
  if (*base <= 0 || boot < 0 || uint64_t(*base) > kMaxPlausibleUptimeNs)
    return fail(ErrorKind::Format, "timekeeper's tkr_mono.base " + std::to_string(*base) + " ns is implausible");
  return uint64_t(*base) + uint64_t(boot);
}

// Ages need a "now": the newest rq->clock. A value no running machine reaches (a wrong
// per-CPU base, an unreadable runqueue) must not become an uptime: say it is unknown.
void decide_clocks(Fields& f, CpuSet& set) {
  uint64_t newest = 0, newest_task = 0;
  std::string bad;
  for (const auto& c : set.cpus) {
    if (c.clock > kMaxPlausibleUptimeNs) {
      if (bad.empty()) bad = cpu_name(c.cpu) + "'s rq->clock " + std::to_string(c.clock) + " ns is beyond 30 years";
      continue;
    }
    newest = std::max(newest, c.clock);
    if (c.clock_task <= kMaxPlausibleUptimeNs) newest_task = std::max(newest_task, c.clock_task);
  }
  if (!bad.empty()) set.problems.push_back("implausible scheduler clock: " + bad + " (ignored)");
  // A second clock to check rq->clock against: the timekeeper's boot time at its last tick.
  std::optional<uint64_t> by_tk;
  std::string tk_problem;
  if (auto v = timekeeper_boottime(f)) by_tk = *v;
  else tk_problem = v.error().describe();
  set.now_clock = newest;
  set.now_clock_task = newest_task;
  set.timekeeper_ns = by_tk;
  set.timekeeper_problem = tk_problem;
  // The wall clock at the timekeeper's last tick: what the kernel wrote into CRASHTIME.
  if (auto tk = core_timekeeper(f))
    if (auto sec = f.read_int(*tk, "timekeeper", "xtime_sec"); sec && *sec > 0) set.wall_seconds = *sec;
  std::string unknown = bad.empty() ? "no CPU's rq->clock could be read" : bad;
  if (newest) {
    set.uptime_ns = newest;
    set.uptime_source = "rq->clock";
    // sched_clock and the timekeeper drift apart by little; a factor of two means one
    // of them is wrong, and the timekeeper's is the one /proc/uptime shows.
    if (by_tk && *by_tk > 10'000'000'000 && (newest > 2 * *by_tk || 2 * newest < *by_tk)) {
      set.uptime_ns = by_tk;
      set.uptime_source = "timekeeper";
      set.problems.push_back("rq->clock (" + std::to_string(newest / 1'000'000'000) + " s) and the timekeeper (" +
                             std::to_string(*by_tk / 1'000'000'000) +
                             " s) disagree: uptime from the timekeeper, task ages from rq->clock");
    }
  } else if (by_tk) {
    set.uptime_ns = by_tk;
    set.uptime_source = "timekeeper";
    set.clock_problem = unknown;
  } else {
    set.clock_problem = unknown + "; timekeeper: " + tk_problem;
  }
}

// One CPU's per-CPU data: runqueue, clocks, the arch's current task (no registers yet).
CpuInfo read_cpu(Fields& fields, int cpu, const Result<uint64_t>& rq_sym) {
  Target& t = fields.target();
  CpuInfo c;
  c.cpu = cpu;
  auto off = t.per_cpu_offset(cpu);
  if (!off) {
    c.problems.push_back("per-CPU offset: " + off.error().describe());
    return c;
  }
  c.per_cpu_offset = *off;
  if (rq_sym) {
    c.rq = *rq_sym + *off;
    if (auto v = fields.read_ptr(c.rq, "rq", "curr")) c.curr = *v;
    else c.problems.push_back("runqueue: " + v.error().describe());
    if (auto v = fields.read_ptr(c.rq, "rq", "idle")) c.idle = *v;
    if (auto v = fields.read_uint(c.rq, "rq", "clock")) c.clock = *v;
    if (auto v = fields.read_uint(c.rq, "rq", "clock_task")) c.clock_task = *v;
    if (c.curr && !is_kernel_pointer(c.curr)) {
      c.problems.push_back("rq->curr " + std::to_string(c.curr) + " is not a kernel pointer");
      c.curr = 0;
    }
  } else {
    c.problems.push_back("runqueues: " + rq_sym.error().describe());
  }
  // The arch's `current`. It differs from rq->curr only inside a context switch (rq->curr
  // is set before switch_to()); decide_register_owner() says whose stack the registers are on.
  if (auto a = percpu_hot_address(fields, cpu, "current_task")) {
    if (auto v = read_u64(t, *a); v && is_kernel_pointer(*v)) c.current_task = *v;
  }
  if (c.current_task && c.curr && c.current_task != c.curr)
    c.problems.push_back("in a context switch: rq->curr is not the CPU's current task");
  return c;
}

// The stopped candidates join the listed CPUs (ascending); the rest stay offline, their
// idle task and rq->curr kept for the task list.
void settle_offline(CpuSet& set, std::vector<CpuInfo>& candidates) {
  set.offline.clear();
  for (auto& c : candidates) {
    if (c.state == CpuState::Stopped && c.regs) {
      set.stopped.push_back(c.cpu);
      set.cpus.push_back(std::move(c));
      continue;
    }
    c.state = CpuState::Offline;
    if (c.state_detail.empty()) c.state_detail = "offline: no register note of its own";
    set.offline.push_back(c.cpu);
    // An offline CPU keeps its idle task (swapper/N), which is on no task list.
    if (c.idle && is_kernel_pointer(c.idle)) set.offline_idle.push_back(c.idle);
    set.offline_cpus.push_back(std::move(c));
  }
  std::sort(set.cpus.begin(), set.cpus.end(), [](const CpuInfo& a, const CpuInfo& b) { return a.cpu < b.cpu; });
}

// Whose stack the registers run on. current_task and rq->curr differ only inside a
// context switch: rq->curr is set in __schedule() before context_switch(); the stack
// pointer moves to the next task's stack in __switch_to_asm; __switch_to() sets
// current_task after that (while loading the next task's segments, FPU state, ...).
// A CPU stopped in that last window runs on rq->curr's stack with current_task still the
// previous task, whose thread.sp was just saved: the registers are rq->curr's.
void decide_register_owner(Fields& f, CpuInfo& c) {
  if (!c.regs) return;
  c.regs_task = c.current_task ? c.current_task : c.curr;
  if (!c.current_task || !c.curr || c.current_task == c.curr) return;
  auto stack = f.read_ptr(c.curr, "task_struct", "stack");
  uint64_t sp = c.regs->get(CpuRegisters::rsp);
  if (!stack || !is_kernel_pointer(*stack) || sp < *stack || sp - *stack >= kThreadSize) return;
  c.regs_task = c.curr;
  c.problems.push_back("registers on rq->curr's stack (pid " + std::to_string(task_pid(f, c.curr)) +
                       "): stopped in __switch_to(), before current_task (pid " +
                       std::to_string(task_pid(f, c.current_task)) + ") was switched; the registers are rq->curr's");
}

void decide_register_owners(Fields& f, CpuSet& set) {
  for (auto& c : set.cpus) decide_register_owner(f, c);
  for (auto& c : set.offline_cpus) decide_register_owner(f, c);
}

}  // namespace

const char* regs_match_name(RegsMatch m) {
  switch (m) {
    case RegsMatch::None: return "none";
    case RegsMatch::CrashNotes: return "crash_notes";
    case RegsMatch::CrashMemory: return "crash_notes memory";
    case RegsMatch::QemuOrder: return "QEMU vCPU order";
    case RegsMatch::DumpOrder: return "note order";
    case RegsMatch::NmiCapture: return "NMI capture";
  }
  return "?";
}

const char* cpu_state_name(CpuState s) {
  switch (s) {
    case CpuState::Online: return "online";
    case CpuState::Stopped: return "stopped";
    case CpuState::Offline: return "offline";
  }
  return "?";
}

const CpuInfo* CpuSet::find(int cpu) const {
  for (const auto& c : cpus)
    if (c.cpu == cpu) return &c;
  return nullptr;
}

const CpuInfo* CpuSet::find_offline(int cpu) const {
  for (const auto& c : offline_cpus)
    if (c.cpu == cpu) return &c;
  return nullptr;
}

Result<uint64_t> per_cpu_address(Fields& fields, std::string_view symbol, int cpu) {
  auto sym = fields.target().symbol_address(symbol);
  if (!sym) return tl::unexpected(sym.error());
  auto off = fields.target().per_cpu_offset(cpu);
  if (!off) return tl::unexpected(off.error());
  return *sym + *off;
}

Result<CpuRegisters> crash_notes_registers(Fields& fields, int cpu) {
  Target& t = fields.target();
  // note_buf_t __percpu *crash_notes (kernel/crash_core.c, kernel/kexec_core.c before 5.x)
  auto sym = t.symbol_address("crash_notes");
  if (!sym) return tl::unexpected(sym.error());
  auto base = read_u64(t, *sym);
  if (!base) return tl::unexpected(base.error().with_context("crash_notes"));
  if (!*base) return fail(ErrorKind::NotFound, "crash_notes is not allocated");
  auto off = t.per_cpu_offset(cpu);
  if (!off) return tl::unexpected(off.error());
  std::byte buf[kNhdrSize + kCoreNameSize + kPrRegOffset + CpuRegisters::count * 8];
  uint64_t at = *base + *off;
  if (auto r = t.read(at, buf); !r) return tl::unexpected(r.error().with_context("crash_notes of cpu " + std::to_string(cpu)));
  uint32_t namesz, descsz, type;
  std::memcpy(&namesz, buf, 4);
  std::memcpy(&descsz, buf + 4, 4);
  std::memcpy(&type, buf + 8, 4);
  if (namesz != 5 || type != kNtPrstatus || descsz < kMinDescSize || std::memcmp(buf + kNhdrSize, "CORE", 5) != 0)
    return fail(ErrorKind::NotFound, "cpu " + std::to_string(cpu) + "'s crash_notes hold no NT_PRSTATUS note", at);
  const std::byte* desc = buf + kNhdrSize + kCoreNameSize;
  CpuRegisters regs;
  int32_t pid = 0;
  std::memcpy(&pid, desc + kPrPidOffset, 4);
  regs.note_pid = pid;
  std::memcpy(regs.regs.data(), desc + kPrRegOffset, CpuRegisters::count * 8);
  return regs;
}

Result<CpuSet> load_cpus(Fields& fields) {
  Target& t = fields.target();
  CpuSet set;
  int nr_cpu_ids = kMaxCpus;
  if (auto a = t.symbol_address("nr_cpu_ids")) {
    if (auto v = read_u32(t, *a); v && *v > 0 && *v <= kMaxCpus) nr_cpu_ids = int(*v);
  }
  auto mask_addr = t.symbol_address("__cpu_online_mask");
  if (!mask_addr) return tl::unexpected(mask_addr.error().with_context("online CPUs"));
  // Word by word: the mask is NR_CPUS bits (8192 on Debian) but nr_cpu_ids may be
  // unknown; bits past what is readable are taken as offline.
  std::vector<uint64_t> words((nr_cpu_ids + 63) / 64);
  bool assumed = false;
  for (size_t i = 0; i < words.size(); ++i) {
    auto w = read_u64(t, *mask_addr + 8 * i);
    if (!w) {
      if (i == 0) {
        // A truncated or filtered dump: fall back to the CPUs the dump saved registers
        // for, and say so, rather than giving up on the whole report.
        int n = 0;
        while (n < 64 && t.cpu_registers(n)) ++n;
        if (n == 0) return tl::unexpected(w.error().with_context("__cpu_online_mask"));
        set.problems.push_back("__cpu_online_mask unreadable (" + w.error().describe() + "): assuming CPUs 0-" +
                               std::to_string(n - 1) + " from the dump's register notes");
        words.assign(1, n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1);
        nr_cpu_ids = n;
        assumed = true;
        break;
      }
      words.resize(i);
      nr_cpu_ids = int(i * 64);
      break;
    }
    words[i] = *w;
  }
  // Offline CPUs: present (else possible) but not online. Only for the report.
  if (!assumed) {
    auto present = t.symbol_address("__cpu_present_mask");
    if (!present) present = t.symbol_address("__cpu_possible_mask");
    for (size_t i = 0; present && i < words.size(); ++i) {
      auto w = read_u64(t, *present + 8 * i);
      if (!w) break;
      uint64_t off = *w & ~words[i];
      for (int b = 0; b < 64 && off; ++b)
        if (off >> b & 1 && int(i * 64) + b < nr_cpu_ids) set.offline.push_back(int(i * 64) + b);
    }
  }
  auto rq_sym = t.symbol_address("runqueues");
  for (int cpu = 0; cpu < nr_cpu_ids; ++cpu)
    if (words[cpu / 64] >> (cpu % 64) & 1) set.cpus.push_back(read_cpu(fields, cpu, rq_sym));
  // The offline CPUs may yet be stopped ones (CpuState::Stopped): their notes decide.
  std::vector<CpuInfo> candidates;
  for (int cpu : set.offline) {
    candidates.push_back(read_cpu(fields, cpu, rq_sym));
    candidates.back().state = CpuState::Stopped;  // tentatively; match_register_notes decides
  }
  if (set.cpus.empty()) set.problems.push_back("no CPU is online in __cpu_online_mask");

  // A live target's NMI capture names each record's CPU: no notes to match. The CPU
  // runs on the captured task's stack, which may differ from `current` read a moment
  // later (a busy CPU switched tasks in between): the registers decide.
  if (t.captured_registers(set.cpus.empty() ? 0 : set.cpus.front().cpu)) {
    for (auto& c : set.cpus) {
      auto r = t.captured_registers(c.cpu);
      if (!r || !*r) {
        c.problems.push_back("registers: " + (r ? r->error().describe() : std::string("not captured")));
        continue;
      }
      c.regs = **r;
      c.regs_match = RegsMatch::NmiCapture;
      uint64_t now = c.current_task ? c.current_task : c.curr;
      if (c.regs->task && is_kernel_pointer(c.regs->task) && c.regs->task != now) {
        if (now)
          c.problems.push_back("changed while reading: the NMI capture saw pid " + std::to_string(c.regs->note_pid) +
                               " on this CPU, its current task is pid " + std::to_string(task_pid(fields, now)) +
                               " now");
        c.current_task = c.regs->task;
      }
    }
    settle_offline(set, candidates);
    decide_register_owners(fields, set);
    decide_clocks(fields, set);
    return set;
  }
  // The dump's register notes, in the dump's order; kdump leaves out CPUs that saved none.
  int bound = nr_cpu_ids;
  for (const auto& c : set.cpus) bound = std::max(bound, c.cpu + 1);
  std::vector<std::pair<int, CpuRegisters>> notes;
  for (int i = 0; i < std::min(bound, kMaxCpus); ++i)
    if (auto r = t.cpu_registers(i)) notes.emplace_back(i, *r);
  set.register_notes = int(notes.size());
  match_register_notes(fields, set, candidates, notes);
  settle_offline(set, candidates);
  decide_register_owners(fields, set);
  decide_clocks(fields, set);
  return set;
}

}  // namespace kstuck
