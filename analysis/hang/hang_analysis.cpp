// SPDX-License-Identifier: GPL-2.0
// HangAnalysis: graph construction from the scans, verdict and signature.
#include "analysis/hang/hang_analysis.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "analysis/hang/cpu_evidence.h"
#include "analysis/hex_text.h"

namespace kstuck {
namespace {

// Frames that say how a context waits, not who it is: skipped when naming a waiter.
bool generic_frame(const std::string& f) {
  static const char* const kGeneric[] = {
      "schedule", "__schedule", "schedule_preempt_disabled", "schedule_timeout", "io_schedule",
      "__mutex_lock", "mutex_lock", "__mutex_lock_slowpath", "rwsem_down_", "down_read", "down_write",
      "native_queued_spin_lock_slowpath", "queued_spin_lock_slowpath", "__pv_queued_spin_lock_slowpath",
      "_raw_spin_lock", "do_raw_spin_lock", "smp_call_function", "__smp_call_function", "generic_exec_single", "csd_lock_wait",
      "asm_sysvec", "sysvec_", "__sysvec", "asm_common_interrupt", "common_interrupt", "irq_exit",
      "__irq_exit", "__do_softirq", "ret_from_fork", "kthread", "wait_for_completion", "__wait_for_common",
      "do_wait_for_common", "asm_exc_nmi", "exc_nmi", "default_do_nmi", "nmi_handle", "__x86_return_thunk",
      "__x86_indirect_thunk", "preempt_count_", "finish_task_switch", "__switch_to",
      // Clock and delay helpers a busy loop calls: where a sample lands among them is chance.
      "read_hpet", "ktime_get", "read_tsc", "native_read_tsc", "delay_tsc", "delay_halt", "__const_udelay",
      "__udelay", "__delay", "native_sched_clock", "sched_clock"};
  for (const char* g : kGeneric)
    if (f.starts_with(g)) return true;
  return false;
}

std::vector<std::string> names(const std::vector<StackFrame>& frames, size_t max = 24) {
  std::vector<std::string> out;
  for (const auto& f : frames) {
    if (out.size() >= max) break;
    out.push_back(f.function + (f.module.empty() ? "" : " [" + f.module + "]"));
  }
  return out;
}

// The first frame that says who waits: below any interrupt being handled on top, and
// past the generic wait/lock/clock helpers.
std::string first_specific(const std::vector<StackFrame>& frames) {
  size_t first = 0;
  for (size_t i = 0; i < frames.size(); ++i)
    if (frames[i].function.starts_with("asm_sysvec_") || frames[i].function.starts_with("asm_common_interrupt"))
      first = i + 1;
  for (size_t i = first; i < frames.size(); ++i)
    if (!generic_frame(frames[i].function)) return frames[i].function;
  return first < frames.size() ? frames[first].function : std::string();
}

const char* lock_kind_id(SleepingLockKind k) { return sleeping_lock_kind_name(k); }

// PREEMPT_RT's sleeping spinlock_t/rwlock_t are spinlocks of the graph; an rt_mutex a mutex.
NodeKind lock_node_kind(SleepingLockKind k) {
  if (k == SleepingLockKind::Rwsem) return NodeKind::Rwsem;
  if (k == SleepingLockKind::Spinlock || k == SleepingLockKind::Rwlock) return NodeKind::Spinlock;
  return NodeKind::Mutex;
}

class Builder {
 public:
  Builder(const HangSnapshot& s, const XcallScan& x, const SleepingLockScan& l, const std::vector<CpuActivity>& c,
          const HangOptions& o)
      : snap_(s), xcalls_(x), locks_(l), cpus_(c), options_(o), evidence_(cpu_evidence(s)) {
    find_starved_tasks();
  }

  HangReport run() {
    for (const auto& a : cpus_) cpu_node(a.cpu);
    sleeping_locks();
    xcalls();
    spinlocks();
    runnable_tasks();
    report_.verdict = report_.graph.analyse();
    for (const auto* w : {&snap_.warnings, &xcalls_.warnings, &locks_.warnings})
      report_.warnings.insert(report_.warnings.end(), w->begin(), w->end());
    // "Unknown" is an answer; NONE is a claim that nothing waits (DESIGN.md §6). A
    // cycle or a stuck chain found in what could be read stands, but a NONE without the
    // data it rests on is UNKNOWN.
    std::string missing = missing_data();
    if (!missing.empty()) {
      report_.warnings.push_back(missing);
      if (report_.verdict.verdict == Verdict::None) {
        report_.verdict.verdict = Verdict::Unknown;
        report_.verdict.reason = missing + "; " + report_.verdict.reason;
      }
    }
    report_.signature = hang_signature(report_.graph, report_.verdict);
    report_.starved_after_ns = options_.starved_after_ns;
    report_.stall_evidence_ns = options_.stall_evidence_ns;
    report_.partial = snap_.partial || xcalls_.partial || locks_.partial || report_.graph.full() ||
                      report_.verdict.limited || !missing.empty();
    return std::move(report_);
  }

 private:
  const CpuActivity* activity(int cpu) const {
    for (const auto& a : cpus_)
      if (a.cpu == cpu) return &a;
    return nullptr;
  }

  // Why no verdict can be claimed, or "" when the data a verdict needs is there.
  std::string missing_data() const {
    std::vector<std::string> why;
    if (!snap_.task_list_read) why.push_back("no task list (blocked tasks and lock owners are unknown)");
    bool regs = false;
    for (const auto& c : snap_.cpus) regs = regs || c.regs.has_value();
    if (snap_.cpus.empty())
      why.push_back("no CPUs (what they were doing is unknown)");
    else if (!regs)
      why.push_back("no CPU's saved registers in the dump (what the CPUs were doing is unknown)");
    std::string out;
    for (const auto& w : why) out += (out.empty() ? "" : "; ") + w;
    return out.empty() ? out : "not enough data for a verdict: " + out;
  }

  const CpuEvidence* evidence(int cpu) const {
    for (const auto& e : evidence_)
      if (e.cpu == cpu) return &e;
    return nullptr;
  }

  bool witness(int cpu) const {
    const CpuEvidence* e = evidence(cpu);
    return e && e->is_witness();
  }

  // Whether a CPU runs something other than its idle loop.
  bool cpu_busy(int cpu) const {
    const CpuView* c = snap_.cpu(cpu);
    const CpuActivity* a = activity(cpu);
    return c && c->curr && !c->idle && !(a && a->doing == CpuDoing::Idle);
  }

  // Per CPU, the runnable task it has kept waiting on its runqueue the longest, when
  // that is past the threshold and the CPU is busy with another task. The wait is
  // counted from sched_info.last_queued (when the task became runnable), not from when
  // it last ran: a task that slept an hour and was woken a moment ago is not starved.
  void find_starved_tasks() {
    for (const auto& t : snap_.tasks) {
      if (!t.runnable_not_running() || !t.queued_ns || *t.queued_ns < options_.starved_after_ns) continue;
      if (!cpu_busy(t.cpu)) continue;
      auto [it, fresh] = starved_.try_emplace(t.cpu, &t);
      if (!fresh && *it->second->queued_ns < *t.queued_ns) it->second = &t;
    }
  }

  // The label of a runnable task's wait for its CPU.
  static std::string runqueue_wait_text(const TaskView& t) {
    std::string s = "runnable on CPU " + std::to_string(t.cpu) + "'s runqueue, not running";
    if (t.since_ran_ns) s += " for " + seconds_text(*t.since_ran_ns);
    if (t.queued_ns) s += " (queued " + seconds_text(*t.queued_ns) + " ago)";
    return s;
  }

  // Which runnable tasks wait for their CPU in the graph. A task queued on a runqueue
  // but not running is normal: every wakeup makes one, and on a busy machine many wait
  // a few milliseconds, so an edge for each would bury the real waits and make chains
  // out of a healthy system. Only two kinds get task -waits_for-> cpu:N:
  //  - a task something in the graph already waits on (a lock owner, a woken lock
  //    waiter): it cannot release or go on until its CPU runs it, however short its
  //    wait so far; the CPU decides whether that chain is STUCK (interrupts off,
  //    starving) or merely long;
  //  - a task starved past HangOptions::starved_after_ns on a busy CPU (found above):
  //    the CPU becomes a stuck end even with interrupts on.
  // A just-woken task nobody waits on gets no edge, so a healthy idle dump stays NONE.
  // A task woken from another CPU whose wakeup is still a TTWU entry on its CPU's
  // call_single_queue (ttwu_queue_wakelist) is on no runqueue yet: it waits for that
  // CPU to take the entry, which a CPU with interrupts off never does.
  void runnable_tasks() {
    const size_t existing = report_.graph.nodes().size();
    for (size_t i = 0; i < existing; ++i) {
      if (report_.graph.nodes()[i].kind != NodeKind::Task || !report_.graph.nodes()[i].address) continue;
      const uint64_t task = *report_.graph.nodes()[i].address;
      if (auto w = pending_wakeups_.find(task); w != pending_wakeups_.end()) {
        report_.graph.add_edge(i, w->second.xcall_node, EdgeKind::WaitsFor, w->second.evidence);
        continue;
      }
      if (const TaskView* t = snap_.task_at(task); t && t->runnable_not_running()) wait_for_cpu(i, *t);
    }
    for (const auto& [cpu, t] : starved_)
      if (auto i = task_node(t->task)) wait_for_cpu(*i, *t);
  }

  void wait_for_cpu(size_t task_index, const TaskView& t) {
    if (auto c = cpu_node(t.cpu)) report_.graph.add_edge(task_index, *c, EdgeKind::WaitsFor, runqueue_wait_text(t));
  }

  std::optional<size_t> cpu_node(int cpu) {
    std::string id = "cpu:" + std::to_string(cpu);
    if (auto i = report_.graph.find(id)) return i;
    WaitNode n;
    n.id = id;
    n.kind = NodeKind::Cpu;
    n.cpu = cpu;
    if (const CpuView* c = snap_.cpu(cpu)) {
      if (const TaskView* t = snap_.task_at(c->curr)) {
        n.pid = t->pid;
        n.comm = t->comm;
      }
      n.stack = names(c->frames);
      n.idle = c->idle;
      n.func = first_specific(c->frames);
    }
    if (const CpuActivity* a = activity(cpu)) {
      // What the CPU waits in is the interrupted context's (a timer interrupt or an NMI
      // backtrace on top is where the sample landed, not the bug: same signature).
      if (const CpuView* c = snap_.cpu(cpu); c && a->context_frame > 0 && a->context_frame < c->frames.size())
        n.func = first_specific(std::vector<StackFrame>(c->frames.begin() + static_cast<long>(a->context_frame),
                                                        c->frames.end()));
      n.irqs_off = a->irqs_off;
      n.spinning = a->spinning();
      n.idle = a->doing == CpuDoing::Idle;  // an idle task serving an xcall is busy
      n.doing = cpu_doing_name(a->doing);
    }
    if (auto s = starved_.find(cpu); s != starved_.end()) {
      n.starved_pid = s->second->pid;
      n.starved_comm = s->second->comm;
      n.starved_ns = s->second->queued_ns;
    }
    if (const CpuEvidence* e = evidence(cpu)) {
      n.panicking = e->panicking;
      n.stopped_by_panic = e->stopped_by_panic;
      n.witness = e->witness;
      n.stalled_ns = e->stalled_ns;
      n.stall_evidence = e->stall_evidence;
      n.stall_evidenced = e->stalled_ns && *e->stalled_ns >= options_.stall_evidence_ns;
    }
    const CpuActivity* act = activity(cpu);
    n.label = "CPU " + std::to_string(cpu) + ": " + n.doing +
              (n.irqs_off ? (*n.irqs_off ? ", IRQs off" : ", IRQs on") : "") +
              (act && !act->interrupted_by.empty() ? " (handling an interrupt, in " + act->interrupted_by + ")" : "") +
              (n.pid ? " (pid " + std::to_string(*n.pid) + " " + n.comm + ")" : "") +
              (n.starved_pid ? ", starving pid " + std::to_string(*n.starved_pid) + " " + n.starved_comm + " for " +
                                   seconds_text(n.starved_ns.value_or(0))
                             : "") +
              (n.stall_evidenced ? ", no timer interrupt for at least " + seconds_text(*n.stalled_ns) : "") +
              (n.panicking ? ", the panicking CPU (a witness)" : n.stopped_by_panic ? ", stopped by the panic" : "");
    return report_.graph.add_node(std::move(n));
  }

  std::optional<size_t> task_node(uint64_t task) {
    const TaskView* t = snap_.task_at(task);
    std::string id = t ? "task:" + std::to_string(t->pid) : "task:" + hex_text(task);
    if (auto i = report_.graph.find(id)) return i;
    WaitNode n;
    n.id = id;
    n.kind = NodeKind::Task;
    n.address = task;
    if (t) {
      n.pid = t->pid;
      n.comm = t->comm;
      n.state = std::string(1, t->state_char);
      n.stack = names(t->frames);
      n.func = first_specific(t->frames);
      if (t->on_cpu >= 0) n.cpu = t->on_cpu;
      if (t->runnable_not_running()) n.runnable_on = t->cpu;
      n.since_ran_ns = t->since_ran_ns;
      n.queued_ns = t->queued_ns;
      n.label = "pid " + std::to_string(t->pid) + " " + t->comm + " [" + n.state + "]";
    } else {
      n.label = "task " + hex_text(task) + " (not in the task list)";
    }
    auto i = report_.graph.add_node(std::move(n));
    // A running owner progresses only as far as its CPU does.
    if (i && t && t->on_cpu >= 0)
      if (auto c = cpu_node(t->on_cpu)) report_.graph.add_edge(*i, *c, EdgeKind::RunsOn, "current on its CPU");
    return i;
  }

  void sleeping_locks() {
    for (const auto& b : locks_.blocked) {
      const SleepingLock* l = locks_.lock_at(b.lock);
      if (!l) continue;
      WaitNode n;
      n.kind = lock_node_kind(l->kind);
      n.doing = l->note;
      n.id = std::string(lock_kind_id(l->kind)) + ":" + hex_text(l->address);
      n.address = l->address;
      n.symbol = l->symbol;
      n.state = l->flags;
      n.locked = l->owner_task != 0 || l->writer_locked || l->readers > 0;
      for (uint64_t w : l->waiters) {
        const TaskView* wt = snap_.task_at(w);
        n.waiter_pids.push_back(wt ? wt->pid : 0);
      }
      n.waiters_complete = l->waiters_complete;
      n.notes = l->notes;
      n.label = std::string(lock_kind_id(l->kind)) + " " + (l->symbol.empty() ? hex_text(l->address) : l->symbol) +
                (l->flags.empty() ? "" : " [" + l->flags + "]") +
                (l->kind == SleepingLockKind::Rwsem || l->kind == SleepingLockKind::Rwlock
                     ? " readers=" + std::to_string(l->readers)
                     : "") +
                " waiters=" + std::to_string(l->waiters.size()) + (l->note.empty() ? "" : ", " + l->note);
      auto ln = report_.graph.add_node(std::move(n));
      auto tn = task_node(b.task);
      if (!ln || !tn) continue;
      report_.graph.add_edge(*tn, *ln, EdgeKind::WaitsFor, b.evidence,
                             b.confirmed ? Confidence::Confirmed : Confidence::Inferred);
      if (l->owner_edge && is_kernel_pointer(l->owner_task)) {
        if (auto on = task_node(l->owner_task))
          report_.graph.add_edge(*ln, *on, EdgeKind::OwnedBy, l->owner_evidence,
                                 l->owner_inferred ? Confidence::Inferred : Confidence::Confirmed);
      }
      // Readers the kernel does not track, found from their code: inferred owners.
      for (const auto& r : l->code_readers)
        if (is_kernel_pointer(r.task))
          if (auto rn = task_node(r.task))
            report_.graph.add_edge(*ln, *rn, EdgeKind::OwnedBy, r.evidence, Confidence::Inferred);
    }
  }

  void xcalls() {
    std::set<int> sync_waiters;                                 // CPUs waiting on a sync csd
    std::vector<std::pair<const XcallEntry*, size_t>> async_locked;  // (entry, its node)
    for (const auto& e : xcalls_.entries) {
      if (!e.queued && !e.locked()) continue;
      WaitNode n;
      n.kind = NodeKind::Xcall;
      n.id = "xcall:" + hex_text(e.address);
      n.address = e.address;
      n.func = e.func;
      n.xcall_type = csd_type_name(e.flags);
      n.target_cpu = e.target_cpu;
      n.waiter_cpu = e.sender_cpu;
      n.waiter_pid = e.waiter_pid;
      n.queued = e.queued;
      n.locked = e.locked();
      n.state = e.source;
      if (e.ttwu_task) {
        if (const TaskView* t = snap_.task_at(e.ttwu_task)) n.func = "wake up pid " + std::to_string(t->pid);
      }
      n.label = std::string(n.xcall_type) + " xcall " + (n.func.empty() ? "?" : n.func) +
                (e.target_cpu ? " -> CPU " + std::to_string(*e.target_cpu) : "") + (e.queued ? ", queued" : "") +
                (e.locked() ? ", locked" : "");
      auto xn = report_.graph.add_node(std::move(n));
      if (!xn) continue;
      if (e.ttwu_task && e.queued)
        pending_wakeups_[e.ttwu_task] = {*xn, "its wakeup is a TTWU entry on " +
                                                  (e.target_cpu ? "CPU " + std::to_string(*e.target_cpu) + "'s"
                                                                : std::string("a")) +
                                                  " call_single_queue"};
      if (e.target_cpu)
        if (auto c = cpu_node(*e.target_cpu)) {
          std::string where = e.queued ? "on CPU " + std::to_string(*e.target_cpu) + "'s call_single_queue"
                                       : "locked in the sender's per-target slot (" + e.source + ")";
          // The panicking CPU runs no queued entry again: they wait because of the panic.
          if (witness(*e.target_cpu)) where += "; CPU " + std::to_string(*e.target_cpu) + " is the panic's witness";
          report_.graph.add_edge(*xn, *c, EdgeKind::QueuedOn, where);
        }
      // Who waits: a sender CPU stuck in the csd wait (a synchronous call).
      if (e.sender_cpu && (e.flags & kCsdTypeMask) == kCsdTypeSync && e.locked()) {
        const CpuActivity* a = activity(*e.sender_cpu);
        if (a && a->doing == CpuDoing::XcallWait)
          if (auto c = cpu_node(*e.sender_cpu)) {
            report_.graph.add_edge(*c, *xn, EdgeKind::WaitsFor,
                                   e.waiter_pid ? "the csd lives on the stack of pid " + std::to_string(*e.waiter_pid) +
                                                      ", which spins in " + a->where
                                                : "sender spins in " + a->where + " on a locked csd");
            sync_waiters.insert(*e.sender_cpu);
          }
      }
      if (e.sender_cpu && (e.flags & kCsdTypeMask) == kCsdTypeAsync && e.locked() &&
          (e.source == "csd_data" || e.source == "cfd_data" || e.queued))
        async_locked.emplace_back(&e, *xn);
    }
    // An asynchronous call leaves its sender's csd_data (or cfd_data slot) locked until the
    // target runs it; the sender's next call through the same csd spins in csd_lock() ->
    // csd_lock_wait() (both inlined into smp_call_function_single and
    // smp_call_function_many_cond) until then. A sender in that wait with no synchronous
    // csd of its own waits for the locked asynchronous one; which csd a CPU spins on is
    // not recorded anywhere, so the edge is inferred.
    for (const auto& [e, xn] : async_locked) {
      if (sync_waiters.count(*e->sender_cpu)) continue;
      const CpuActivity* a = activity(*e->sender_cpu);
      if (!a || a->doing != CpuDoing::XcallWait) continue;
      if (auto c = cpu_node(*e->sender_cpu))
        report_.graph.add_edge(*c, xn, EdgeKind::WaitsFor,
                               "spins in " + a->where + " (csd_lock) while the asynchronous csd it sent" +
                                   (e->target_cpu ? " to CPU " + std::to_string(*e->target_cpu) : std::string()) +
                                   " is still locked (" + e->source + ")",
                               Confidence::Inferred);
    }
  }

  void spinlocks() {
    std::map<size_t, std::vector<int>> holders;  // lock node -> holder candidate CPUs
    std::map<size_t, bool> spun_irqs_off;        // lock node -> some spinner has IRQs off
    for (const auto& a : cpus_) {
      if (a.doing != CpuDoing::SpinlockWait) continue;
      WaitNode n;
      n.kind = NodeKind::Spinlock;
      n.locked = true;
      if (a.lock) {
        n.id = "spinlock:" + hex_text(a.lock);
        n.address = a.lock;
        n.symbol = a.lock_symbol;
        n.label = "spinlock " + (a.lock_symbol.empty() ? hex_text(a.lock) : a.lock_symbol);
      } else {
        // In the slowpath, but neither a register nor a stack word names a locked lock word.
        n.id = "spinlock:unknown@cpu:" + std::to_string(a.cpu);
        n.label = "spinlock ? (CPU " + std::to_string(a.cpu) + "'s, address not recovered)";
      }
      auto ln = report_.graph.add_node(std::move(n));
      auto cn = cpu_node(a.cpu);
      if (!ln || !cn) continue;
      // The CPU is in the slowpath (its frames say so); which lock is deduced from a
      // register or a stack word: inferred.
      report_.graph.add_edge(*cn, *ln, EdgeKind::WaitsFor,
                             a.lock ? a.lock_evidence : "in " + a.where + "; the lock's address is not recovered",
                             Confidence::Inferred);
      if (a.irqs_off.value_or(false) && !witness(a.cpu)) spun_irqs_off[*ln] = true;
      // qspinlock stores no owner: every holder is a deduction.
      for (const auto& h : a.holders)
        if (auto hn = cpu_node(h.cpu)) {
          report_.graph.add_edge(*ln, *hn, EdgeKind::OwnedBy, h.evidence, Confidence::Inferred);
          holders[*ln].push_back(h.cpu);
        }
    }
    // A CPU spinning with IRQs off on a lock nobody is known to hold is not "can still
    // progress": it is the end of its chain, holder unknown. Two candidates are both
    // edges, each inferred, and the label says the holder is ambiguous.
    for (const auto& [ln, off] : spun_irqs_off) {
      WaitNode& n = report_.graph.nodes()[ln];
      auto h = holders.find(ln);
      bool owned = h != holders.end() && !h->second.empty();
      for (const auto& e : report_.graph.edges()) owned = owned || (e.from == ln && e.kind == EdgeKind::OwnedBy);
      if (!owned) {
        n.holder_unknown = true;
        n.label += " (holder unknown)";
      }
    }
    for (auto& [ln, cpus] : holders) {
      std::sort(cpus.begin(), cpus.end());
      cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
      if (cpus.size() < 2) continue;
      std::string list;
      for (int c : cpus) list += (list.empty() ? "" : ", ") + std::string("CPU ") + std::to_string(c);
      report_.graph.nodes()[ln].label += " (ambiguous holder: " + list + ")";
    }
  }

  const HangSnapshot& snap_;
  const XcallScan& xcalls_;
  const SleepingLockScan& locks_;
  const std::vector<CpuActivity>& cpus_;
  const HangOptions& options_;
  std::vector<CpuEvidence> evidence_;       // per CPU: panic witness, stall lower bound
  std::map<int, const TaskView*> starved_;  // CPU -> its longest-starved runnable task
  struct PendingWakeup {
    size_t xcall_node;
    std::string evidence;
  };
  std::map<uint64_t, PendingWakeup> pending_wakeups_;  // task -> its queued TTWU entry
  HangReport report_;
};

std::string signature_token(const WaitNode& n) {
  switch (n.kind) {
    case NodeKind::Cpu: return "cpu/" + n.doing + "/" + n.func;
    case NodeKind::Task: return "task/" + n.func;
    case NodeKind::Xcall: return "xcall/" + n.xcall_type + "/" + n.func;
    default: {
      // A heap lock has no stable name; a static one does.
      std::string sym = n.symbol;
      if (auto plus = sym.find('+'); plus != std::string::npos) sym.resize(plus);
      return std::string(node_kind_name(n.kind)) + "/" + sym;
    }
  }
}

}  // namespace

std::string hang_signature(const WaitGraph& graph, const GraphVerdict& verdict) {
  // A deadlock is its cycle. A stuck machine is its root cause: which other CPUs happen
  // to be queued behind it (a TLB flush, a timer) varies from dump to dump.
  std::vector<size_t> seq = verdict.verdict == Verdict::Deadlock ? verdict.cycle : verdict.chain;
  if (verdict.verdict == Verdict::Stuck && verdict.root_cause) seq = {*verdict.root_cause};
  if (seq.empty()) return {};
  std::vector<std::string> tokens;
  for (size_t i : seq) tokens.push_back(signature_token(graph.nodes()[i]));
  if (verdict.verdict == Verdict::Deadlock) {
    // The smallest rotation: the same cycle entered anywhere hashes the same.
    std::vector<std::string> best = tokens;
    for (size_t r = 1; r < tokens.size(); ++r) {
      std::vector<std::string> rot(tokens.begin() + static_cast<long>(r), tokens.end());
      rot.insert(rot.end(), tokens.begin(), tokens.begin() + static_cast<long>(r));
      if (rot < best) best = rot;
    }
    tokens = best;
  }
  // FNV-1a, 64 bits: small, stable, no library needed for a bucket key.
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 0x100000001b3ULL;
    }
  };
  mix(verdict_name(verdict.verdict));
  for (const auto& t : tokens) {
    mix("|");
    mix(t);
  }
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

HangReport build_hang_report(const HangSnapshot& snap, const XcallScan& xcalls, const SleepingLockScan& locks,
                             const std::vector<CpuActivity>& cpus, const HangOptions& options) {
  return Builder(snap, xcalls, locks, cpus, options).run();
}

}  // namespace kstuck
