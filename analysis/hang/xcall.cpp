// SPDX-License-Identifier: GPL-2.0
// Xcall (CSD) queues: call_single_queue walks, locked cfd/csd_data entries, on-stack csds.
#include "analysis/hang/xcall.h"

#include <map>

#include "analysis/list_walk.h"

namespace kstuck {

const char* csd_type_name(uint32_t flags) {
  switch (flags & kCsdTypeMask) {
    case kCsdTypeAsync: return "ASYNC";
    case kCsdTypeSync: return "SYNC";
    case kCsdTypeIrqWork: return "IRQ_WORK";
    case kCsdTypeTtwu: return "TTWU";
  }
  return "UNKNOWN";
}

namespace {

class XcallReader {
 public:
  XcallReader(Target& t, Fields& f, const HangSnapshot& s, size_t limit)
      : t_(t), f_(f), snap_(s), limit_(limit) {}

  XcallScan run() {
    llist_off_ = f_.offset("__call_single_data", "node.llist").value_or(0);
    auto flags_off = f_.offset("__call_single_data", "node.u_flags");
    if (!flags_off) {
      warn("no __call_single_data.node.u_flags in the type information: " + flags_off.error().describe());
      return std::move(out_);
    }
    flags_off_ = *flags_off;
    // src/dst are written only with CONFIG_CSD_LOCK_WAIT_DEBUG; its static key tells.
    trust_src_dst_ = t_.symbol_address("csdlock_debug_enabled").has_value() &&
                     f_.has("__call_single_data", "node.dst");
    queues();
    cfd_data();
    csd_data();
    stacks();
    for (auto& [addr, e] : by_address_) out_.entries.push_back(std::move(e));
    return std::move(out_);
  }

 private:
  void warn(std::string w) {
    out_.partial = true;
    if (out_.warnings.size() < 100) out_.warnings.push_back(std::move(w));
  }

  // Reads the csd-shaped fields of a node; false when its memory is unreadable.
  bool fill(uint64_t node, XcallEntry& e) {
    auto flags = read_u32(t_, node + flags_off_);
    if (!flags) return false;
    e.address = node;
    e.flags = *flags;
    uint32_t type = e.flags & kCsdTypeMask;
    if (type == kCsdTypeTtwu) {
      // TTWU entries are a task's wake_entry: report the task.
      if (auto off = f_.offset("task_struct", "wake_entry")) e.ttwu_task = node - *off;
    } else {
      const char* st = type == kCsdTypeIrqWork ? "irq_work" : "__call_single_data";
      if (auto fn = f_.read_ptr(node, st, "func")) {
        e.func_address = *fn;
        e.func = function_name(t_, *fn);
      }
      if (type != kCsdTypeIrqWork) e.info = f_.read_ptr(node, "__call_single_data", "info").value_or(0);
    }
    if (trust_src_dst_) {
      if (auto src = f_.read_uint(node, "__call_single_data", "node.src")) e.sender_cpu = static_cast<int>(*src);
      if (auto dst = f_.read_uint(node, "__call_single_data", "node.dst")) e.target_cpu = static_cast<int>(*dst);
    }
    return true;
  }

  XcallEntry& at(uint64_t node) {
    auto [it, fresh] = by_address_.try_emplace(node);
    if (fresh) fill(node, it->second);
    return it->second;
  }

  void queues() {
    auto q = t_.symbol_address("call_single_queue");
    if (!q) {
      warn("call_single_queue: " + q.error().describe());
      return;
    }
    for (const auto& c : snap_.cpus) {
      auto off = t_.per_cpu_offset(c.cpu);
      if (!off) continue;
      auto first = read_u64(t_, *q + *off);
      if (!first) {
        warn("cpu " + std::to_string(c.cpu) + ": call_single_queue: " + first.error().describe());
        continue;
      }
      if (*first == 0) continue;
      ListWalk w = walk_singly(t_, *first, 0, llist_off_, limit_);
      if (!w.complete())
        warn("cpu " + std::to_string(c.cpu) + ": call_single_queue: " + walk_status_name(w.status) + " after " +
             std::to_string(w.entries.size()) + " entries");
      for (uint64_t node : w.entries) {
        XcallEntry& e = at(node);
        e.queued = true;
        e.target_cpu = c.cpu;
        e.source = "call_single_queue";
      }
    }
  }

  // A locked csd of a sender's cfd_data for target CPU n.
  void cfd_data() {
    auto cfd = t_.symbol_address("cfd_data");
    if (!cfd) return;  // a kernel without SMP
    bool pcpu = f_.has("call_function_data", "pcpu");
    uint64_t csd_in_pcpu = pcpu ? f_.offset("cfd_percpu", "csd").value_or(0) : 0;
    for (const auto& s : snap_.cpus) {
      auto off = t_.per_cpu_offset(s.cpu);
      if (!off) continue;
      auto base = f_.read_ptr(*cfd + *off, "call_function_data", pcpu ? "pcpu" : "csd");
      if (!base) continue;
      for (const auto& d : snap_.cpus) {
        auto doff = t_.per_cpu_offset(d.cpu);
        if (!doff) continue;
        uint64_t csd = *base + *doff + csd_in_pcpu;
        auto flags = read_u32(t_, csd + flags_off_);
        if (!flags || !(*flags & kCsdFlagLock)) continue;
        XcallEntry& e = at(csd);
        e.sender_cpu = s.cpu;
        e.target_cpu = d.cpu;  // cfd_data's per-target slot says where it goes
        if (e.source.empty()) e.source = "cfd_data";
      }
    }
  }

  void csd_data() {
    auto sym = t_.symbol_address("csd_data");
    if (!sym) return;
    for (const auto& s : snap_.cpus) {
      auto off = t_.per_cpu_offset(s.cpu);
      if (!off) continue;
      auto flags = read_u32(t_, *sym + *off + flags_off_);
      if (!flags || !(*flags & kCsdFlagLock)) continue;
      XcallEntry& e = at(*sym + *off);
      e.sender_cpu = s.cpu;
      if (e.source.empty()) e.source = "csd_data";
    }
  }

  // smp_call_function_single(wait=1) keeps its csd on the caller's stack: a queued
  // entry inside a task's stack names its waiter; a task still in the wait whose csd
  // already left the queue is found by scanning its stack for a locked SYNC csd.
  void stacks() {
    for (auto& [addr, e] : by_address_) attribute(e);
    for (const auto& task : snap_.tasks) {
      if (task.on_cpu < 0 || !frames_have(task.frames, {"smp_call_function_single", "__smp_call_function_single",
                                                          "generic_exec_single"}))
        continue;
      bool have = false;
      for (auto& [addr, e] : by_address_)
        if (e.waiter_pid == task.pid) have = true;
      if (have || !task.stack_base) continue;
      uint64_t lo = task.sp & ~uint64_t{7}, hi = task.stack_base + kThreadSize;
      if (lo < task.stack_base || lo >= hi) continue;
      // Look at most 1 KiB above the stack pointer: the csd is in the waiting frame.
      for (uint64_t a = lo; a + 32 <= hi && a < lo + 1024; a += 8) {
        auto flags = read_u32(t_, a + flags_off_);
        if (!flags || (*flags & (kCsdFlagLock | kCsdTypeMask)) != (kCsdFlagLock | kCsdTypeSync)) continue;
        auto fn = f_.read_ptr(a, "__call_single_data", "func");
        if (!fn || !is_kernel_pointer(*fn)) continue;
        std::string name = function_name(t_, *fn);
        if (name.empty()) continue;
        XcallEntry& e = at(a);
        if (e.source.empty()) e.source = "stack";
        attribute(e);
        break;
      }
    }
  }

  void attribute(XcallEntry& e) {
    if (const TaskView* w = snap_.task_with_stack(e.address)) {
      e.waiter_pid = w->pid;
      if (w->on_cpu >= 0 && !e.sender_cpu) e.sender_cpu = w->on_cpu;
    }
  }

  Target& t_;
  Fields& f_;
  const HangSnapshot& snap_;
  size_t limit_;
  uint64_t llist_off_ = 0, flags_off_ = 0;
  bool trust_src_dst_ = false;
  std::map<uint64_t, XcallEntry> by_address_;
  XcallScan out_;
};

}  // namespace

XcallScan scan_xcalls(Target& target, Fields& fields, const HangSnapshot& snap, size_t per_queue_limit) {
  return XcallReader(target, fields, snap, per_queue_limit).run();
}

}  // namespace kstuck
