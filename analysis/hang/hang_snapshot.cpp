// SPDX-License-Identifier: GPL-2.0
// HangSnapshot: reads CPUs, tasks and conservatively scanned stacks from a Target.
#include "analysis/hang/hang_snapshot.h"

#include <algorithm>
#include <array>
#include <set>

#include "analysis/list_walk.h"

namespace kstuck {

const TaskView* HangSnapshot::task_at(uint64_t task) const {
  for (const auto& t : tasks)
    if (t.task == task) return &t;
  return nullptr;
}

const TaskView* HangSnapshot::task_with_stack(uint64_t address) const {
  for (const auto& t : tasks)
    if (t.stack_base && address >= t.stack_base && address < t.stack_base + kThreadSize) return &t;
  return nullptr;
}

const CpuView* HangSnapshot::cpu(int n) const {
  for (const auto& c : cpus)
    if (c.cpu == n) return &c;
  return nullptr;
}

std::string function_name(Target& target, uint64_t address, std::string* module) {
  auto sym = target.symbol_at(address);
  if (!sym) return {};
  if (module) *module = sym->module;
  std::string name = sym->name;
  // "__mutex_lock.constprop.0" and "foo.isra.0" are the same function for a reader.
  if (auto dot = name.find('.'); dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

namespace {

// Kernel text and modules live in the top 2 GiB (-2 GiB .. -16 MiB on x86-64).
bool may_be_text(uint64_t a) { return a >= 0xffffffff80000000ULL && a < 0xffffffffff000000ULL; }

// Whether the bytes before a return address end with a call instruction: e8 rel32,
// ff /2 with a register, [reg], [reg+disp8] or [rip+disp32] operand.
bool follows_call(const std::array<uint8_t, 8>& b) {
  // b[7] is the byte just before the return address.
  if (b[3] == 0xe8) return true;                                         // call rel32
  if (b[6] == 0xff && (b[7] & 0xf8) == 0xd0) return true;                // call *%reg
  if (b[5] == 0x41 && b[6] == 0xff && (b[7] & 0xf8) == 0xd0) return true;  // call *%r8-15
  if (b[5] == 0xff && ((b[6] & 0xf8) == 0x50) ) return true;             // call *disp8(%reg)
  if (b[2] == 0xff && (b[3] == 0x15 || (b[3] & 0xf8) == 0x90)) return true;  // rip/disp32
  return false;
}

char state_char(uint64_t s) {
  if ((s & 0x402) == 0x402) return 'I';
  if (s & 0x2) return 'D';
  if (s & 0x1) return 'S';
  if (s & 0x4) return 'T';
  if (s & 0x8) return 't';
  if (s & 0x40) return 'P';
  if (s & 0x80) return 'X';
  return s == 0 ? 'R' : '?';
}

}  // namespace

std::vector<StackFrame> scan_stack_frames(Target& target, uint64_t sp, uint64_t end, size_t max_frames) {
  std::vector<StackFrame> out;
  if (sp == 0 || end <= sp || end - sp > kThreadSize) return out;
  sp &= ~uint64_t{7};
  // One read per page instead of one per word: stacks are dense.
  std::vector<uint64_t> words((end - sp) / 8);
  for (uint64_t at = sp; at < end;) {
    uint64_t chunk = std::min<uint64_t>(end - at, 0x1000 - (at & 0xfff));
    auto r = target.read(at, std::as_writable_bytes(std::span(words).subspan((at - sp) / 8, chunk / 8)));
    if (!r) break;  // a missing stack page ends the scan, not the analysis
    at += chunk;
  }
  for (size_t i = 0; i < words.size() && out.size() < max_frames; ++i) {
    uint64_t w = words[i];
    if (!may_be_text(w)) continue;
    std::array<uint8_t, 8> before{};
    if (!target.read(w - 8, std::as_writable_bytes(std::span(before)))) continue;
    if (!follows_call(before)) continue;
    StackFrame f;
    f.pc = w;
    f.sp = sp + 8 * i;
    f.function = function_name(target, w - 1, &f.module);
    if (f.function.empty()) continue;
    out.push_back(std::move(f));
  }
  return out;
}

bool frames_have(const std::vector<StackFrame>& frames, std::initializer_list<std::string_view> prefixes) {
  for (const auto& f : frames)
    for (auto p : prefixes)
      if (f.function.starts_with(p)) return true;
  return false;
}

Result<HangSnapshot> take_snapshot(Target& target, Fields& fields, const SnapshotLimits& limits) {
  HangSnapshot snap;
  auto warn = [&](std::string w) {
    snap.partial = true;
    if (snap.warnings.size() < 200) snap.warnings.push_back(std::move(w));
  };

  // CPUs: every CPU with a per-CPU area and a bit in cpu_online_mask.
  auto rq_sym = target.symbol_address("runqueues");
  if (!rq_sym) return tl::unexpected(rq_sym.error().with_context("runqueues"));
  uint64_t online_mask_addr = target.symbol_address("__cpu_online_mask").value_or(0);
  for (int cpu = 0; cpu < static_cast<int>(limits.max_cpus); ++cpu) {
    auto off = target.per_cpu_offset(cpu);
    if (!off) break;
    if (online_mask_addr) {
      auto word = read_u64(target, online_mask_addr + 8 * (cpu / 64));
      if (word && !((*word >> (cpu % 64)) & 1)) continue;
    }
    CpuView c;
    c.cpu = cpu;
    uint64_t rq = *rq_sym + *off;
    auto curr = fields.read_ptr(rq, "rq", "curr");
    if (!curr) {
      warn("cpu " + std::to_string(cpu) + ": rq->curr: " + curr.error().describe());
      continue;
    }
    c.curr = *curr;
    auto idle = fields.read_ptr(rq, "rq", "idle");
    c.idle = idle && *idle == c.curr;
    c.clock = fields.read_uint(rq, "rq", "clock").value_or(0);
    c.clock_task = fields.read_uint(rq, "rq", "clock_task").value_or(0);
    if (auto regs = target.cpu_registers(cpu)) c.regs = *regs;
    if (c.regs) {
      uint64_t rip = c.regs->get(CpuRegisters::rip), rsp = c.regs->get(CpuRegisters::rsp);
      StackFrame top;
      top.pc = rip;
      top.function = function_name(target, rip, &top.module);
      if (!top.function.empty()) c.frames.push_back(top);
      if (is_kernel_pointer(rsp)) {
        uint64_t end = (rsp | (kThreadSize - 1)) + 1;
        auto more = scan_stack_frames(target, rsp, end, limits.max_frames);
        c.frames.insert(c.frames.end(), more.begin(), more.end());
      }
      // The idle loop runs with the idle task, but a dump taken while an idle CPU
      // handles an interrupt shows a different RIP: trust the task.
    }
    snap.cpus.push_back(std::move(c));
  }

  // Tasks: the thread-group leaders on init_task.tasks, then each group's threads.
  auto init = target.symbol_address("init_task");
  if (!init) return tl::unexpected(init.error().with_context("init_task"));
  auto tasks_off = fields.offset("task_struct", "tasks");
  if (!tasks_off) return tl::unexpected(tasks_off.error());
  ListWalk leaders = walk_list(target, *init + *tasks_off, *tasks_off, limits.max_tasks);
  if (!leaders.complete()) warn(std::string("task list: ") + walk_status_name(leaders.status));
  std::vector<uint64_t> all{*init};
  std::set<uint64_t> seen{*init};
  bool thread_lists = fields.has("signal_struct", "thread_head") && fields.has("task_struct", "thread_node");
  auto add = [&](uint64_t t) {
    if (all.size() < limits.max_tasks && seen.insert(t).second) all.push_back(t);
  };
  for (uint64_t t : leaders.entries) add(t);
  if (thread_lists) {
    uint64_t node_off = fields.offset("task_struct", "thread_node").value_or(0);
    uint64_t head_off = fields.offset("signal_struct", "thread_head").value_or(0);
    for (uint64_t leader : leaders.entries) {
      auto sig = fields.read_ptr(leader, "task_struct", "signal");
      if (!sig || !is_kernel_pointer(*sig)) continue;
      ListWalk th = walk_list(target, *sig + head_off, node_off, limits.max_tasks);
      for (uint64_t t : th.entries) add(t);
    }
  }
  // Idle tasks of secondary CPUs are on no list: take them from the runqueues.
  for (const auto& c : snap.cpus) add(c.curr);

  const char* state_member = fields.has("task_struct", "__state") ? "__state" : "state";
  // "Now" for the ages of runnable tasks: the newest clock of any CPU (a wedged CPU's is stale).
  uint64_t now_clock = 0, now_clock_task = 0;
  for (const auto& c : snap.cpus) {
    now_clock = std::max(now_clock, c.clock);
    now_clock_task = std::max(now_clock_task, c.clock_task);
  }
  for (uint64_t t : all) {
    TaskView v;
    v.task = t;
    auto pid = fields.read_int(t, "task_struct", "pid");
    if (!pid) {
      warn("task " + std::to_string(t) + ": " + pid.error().describe());
      continue;
    }
    v.pid = static_cast<int>(*pid);
    v.comm = fields.read_chars(t, "task_struct", "comm").value_or("?");
    v.state = fields.read_uint(t, "task_struct", state_member).value_or(0);
    v.state_char = state_char(v.state);
    v.stack_base = fields.read_ptr(t, "task_struct", "stack").value_or(0);
    for (const auto& c : snap.cpus)
      if (c.curr == t) v.on_cpu = c.cpu;
    // task_struct.cpu since 5.16 (bcf9033e5449), thread_info.cpu before.
    if (auto cpu = fields.read_uint(t, "task_struct", fields.has("task_struct", "cpu") ? "cpu" : "thread_info.cpu"))
      v.cpu = static_cast<int>(*cpu);
    v.on_rq = fields.read_uint(t, "task_struct", "on_rq").value_or(0) == 1;  // TASK_ON_RQ_QUEUED
    if (v.on_cpu >= 0) {
      const CpuView* c = snap.cpu(v.on_cpu);
      if (c->regs) v.sp = c->regs->get(CpuRegisters::rsp);
      v.frames = c->frames;
    } else {
      // The same ages as read_task() gives `kstuck analyze`.
      auto exec_start = fields.read_uint(t, "task_struct", "se.exec_start");
      if (exec_start && *exec_start && now_clock_task >= *exec_start) v.since_ran_ns = now_clock_task - *exec_start;
      auto last_queued = fields.read_uint(t, "task_struct", "sched_info.last_queued");
      if (v.on_rq && last_queued && *last_queued && now_clock >= *last_queued) v.queued_ns = now_clock - *last_queued;
      v.sp = fields.read_ptr(t, "task_struct", "thread.sp").value_or(0);
      if (v.stack_base && v.sp > v.stack_base && v.sp < v.stack_base + kThreadSize)
        v.frames = scan_stack_frames(target, v.sp, v.stack_base + kThreadSize, limits.max_frames);
    }
    snap.tasks.push_back(std::move(v));
  }
  return snap;
}

}  // namespace kstuck
