// SPDX-License-Identifier: GPL-2.0
// Xcall and sleeping-lock views: the hang scans filtered and rendered, no analysis of their own.
#include "analysis/hang/scan_views.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/hang/model_snapshot.h"
#include "analysis/hex_text.h"

namespace kstuck {
namespace {

using Json = nlohmann::ordered_json;

const char* lock_kind_name(SleepingLockKind k) { return sleeping_lock_kind_name(k); }

// pid and comm of a task_struct address, from the snapshot.
Json task_json(const HangSnapshot& snap, uint64_t task) {
  Json j;
  j["task"] = hex_text(task);
  if (const auto* t = snap.task_at(task)) {
    j["pid"] = t->pid;
    j["comm"] = t->comm;
    j["state"] = std::string(1, t->state_char);
  }
  return j;
}

std::string task_text(const HangSnapshot& snap, uint64_t task) {
  if (task == 0) return "none";
  const auto* t = snap.task_at(task);
  return t ? "pid " + std::to_string(t->pid) + " (" + t->comm + ")" : "task " + hex_text(task);
}

bool xcall_selected(const XcallEntry& e, std::optional<int> cpu) {
  return !cpu || e.target_cpu == cpu || e.sender_cpu == cpu;
}

Json warnings_json(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  Json w = Json::array();
  for (const auto& s : a) w.push_back(s);
  for (const auto& s : b) w.push_back(s);
  return w;
}

Json lock_json(const HangScans& scans, const SleepingLock& l) {
  Json j;
  j["kind"] = lock_kind_name(l.kind);
  j["address"] = hex_text(l.address);
  if (!l.symbol.empty()) j["symbol"] = l.symbol;
  j["owner"] = l.owner_task ? task_json(scans.snap, l.owner_task) : Json(nullptr);
  // How far the owner field can be believed: confirmed, an inferred hint, or (null) not
  // an owner at all (a reader-owned rwsem whose readers have all left).
  j["owner_confidence"] = !l.owner_edge ? Json(nullptr) : Json(l.owner_inferred ? "inferred" : "confirmed");
  if (!l.owner_evidence.empty()) j["owner_evidence"] = l.owner_evidence;
  if (l.rt) {
    j["rt"] = true;
    j["rt_mutex_base"] = hex_text(l.rt_base);
    j["note"] = l.note;
  }
  if (l.kind == SleepingLockKind::Rwsem || l.kind == SleepingLockKind::Rwlock) {
    j["owner_is_reader_hint"] = l.owner_is_reader_hint;
    j["readers"] = l.readers;
    j["writer_locked"] = l.writer_locked;
  }
  j["flags"] = l.flags;
  Json waiters = Json::array();
  for (uint64_t w : l.waiters) {
    Json wj = task_json(scans.snap, w);
    for (const auto& b : scans.locks.blocked)
      if (b.task == w && b.lock == l.address) wj["evidence"] = b.evidence;
    waiters.push_back(wj);
  }
  j["waiters"] = waiters;
  j["waiters_complete"] = l.waiters_complete;
  return j;
}

// A mutex no scanned task waits on: its owner word and waiters read directly (on
// PREEMPT_RT through its rt_mutex).
Result<SleepingLock> read_mutex(KernelModel& model, const HangScans& scans, uint64_t address) {
  return read_sleeping_lock(model.target(), model.fields(), scans.snap, SleepingLockKind::Mutex, address);
}

Result<std::vector<SleepingLock>> selected_locks(KernelModel& model, const HangScans& scans,
                                                 std::optional<uint64_t> address) {
  std::vector<SleepingLock> out;
  if (!address) return scans.locks.locks;
  if (const auto* l = scans.locks.lock_at(*address)) return std::vector<SleepingLock>{*l};
  auto l = read_mutex(model, scans, *address);
  if (!l) return tl::unexpected(l.error());
  out.push_back(*l);
  return out;
}

}  // namespace

HangScans scan_hang_with_model(KernelModel& model) {
  // The steps of analyse_hang_with_model(), keeping the scans instead of the graph.
  HangScans s;
  ModelSymbolTarget symbols(model);
  Fields fields(symbols);
  s.snap = snapshot_from_model(model, symbols);
  s.xcalls = scan_xcalls(symbols, fields, s.snap);
  s.locks = scan_sleeping_locks(symbols, fields, s.snap);
  return s;
}

std::string render_xcalls_json(const HangScans& scans, std::optional<int> cpu) {
  Json root;
  root["schema"] = "kstuck-xcall/1";
  if (cpu) root["cpu"] = *cpu;
  Json list = Json::array();
  for (const auto& e : scans.xcalls.entries) {
    if (!xcall_selected(e, cpu)) continue;
    Json j;
    j["address"] = hex_text(e.address);
    j["type"] = csd_type_name(e.flags);
    j["flags"] = hex_text(e.flags);
    j["locked"] = e.locked();
    j["queued"] = e.queued;
    j["source"] = e.source;
    if (!e.func.empty()) j["func"] = e.func;
    if (e.func_address) j["func_address"] = hex_text(e.func_address);
    j["info"] = hex_text(e.info);
    j["target_cpu"] = e.target_cpu ? Json(*e.target_cpu) : Json(nullptr);
    j["sender_cpu"] = e.sender_cpu ? Json(*e.sender_cpu) : Json(nullptr);
    j["waiter"] = e.waiter_pid ? Json(*e.waiter_pid) : Json(nullptr);
    if (e.ttwu_task) j["ttwu_task"] = task_json(scans.snap, e.ttwu_task);
    list.push_back(j);
  }
  root["xcalls"] = list;
  root["partial"] = scans.xcalls.partial || scans.snap.partial;
  root["warnings"] = warnings_json(scans.snap.warnings, scans.xcalls.warnings);
  return root.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string render_xcalls_text(const HangScans& scans, std::optional<int> cpu) {
  std::string out;
  size_t n = 0;
  for (const auto& e : scans.xcalls.entries) {
    if (!xcall_selected(e, cpu)) continue;
    ++n;
    auto c = [](const std::optional<int>& v) { return v ? "CPU " + std::to_string(*v) : std::string("CPU ?"); };
    out += std::string(csd_type_name(e.flags)) + " " + hex_text(e.address) + " " + c(e.sender_cpu) + " -> " +
           c(e.target_cpu) + (e.queued ? ", queued" : "") + (e.locked() ? ", locked" : ", unlocked") + " (" +
           e.source + ")\n";
    if (!e.func.empty()) out += "    func " + e.func + " info " + hex_text(e.info) + "\n";
    if (e.waiter_pid) out += "    waited for by pid " + std::to_string(*e.waiter_pid) + "\n";
    if (e.ttwu_task) out += "    wakes " + task_text(scans.snap, e.ttwu_task) + "\n";
  }
  if (n == 0) out += cpu ? "no xcalls to or from CPU " + std::to_string(*cpu) + "\n" : "no pending or locked xcalls\n";
  for (const auto& w : scans.xcalls.warnings) out += "warning: " + w + "\n";
  return out;
}

Result<std::string> render_mutexes_json(KernelModel& model, const HangScans& scans, std::optional<uint64_t> address) {
  auto locks = selected_locks(model, scans, address);
  if (!locks) return tl::unexpected(locks.error());
  Json root;
  root["schema"] = "kstuck-mutex/1";
  Json list = Json::array();
  for (const auto& l : *locks) list.push_back(lock_json(scans, l));
  root["locks"] = list;
  root["partial"] = scans.locks.partial || scans.snap.partial;
  root["warnings"] = warnings_json(scans.snap.warnings, scans.locks.warnings);
  return root.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Result<std::string> render_mutexes_text(KernelModel& model, const HangScans& scans, std::optional<uint64_t> address) {
  auto locks = selected_locks(model, scans, address);
  if (!locks) return tl::unexpected(locks.error());
  std::string out;
  for (const auto& l : *locks) {
    out += std::string(lock_kind_name(l.kind)) + " " + hex_text(l.address) + (l.symbol.empty() ? "" : " (" + l.symbol + ")") +
           " owner " + task_text(scans.snap, l.owner_task) + (l.flags.empty() ? "" : " [" + l.flags + "]") +
           (l.note.empty() ? "" : " (" + l.note + ")") + "\n";
    if (l.owner_task && (!l.owner_edge || l.owner_inferred))
      out += std::string("    owner: ") + (l.owner_edge ? l.owner_evidence : "stale (no reader or writer is in)") + "\n";
    for (uint64_t w : l.waiters) {
      out += "    waiter " + task_text(scans.snap, w) + "\n";
      for (const auto& b : scans.locks.blocked)
        if (b.task == w && b.lock == l.address) out += "      found: " + b.evidence + "\n";
    }
    if (!l.waiters_complete) out += "    (wait list cut short)\n";
  }
  if (locks->empty()) out += "no task sleeps on a mutex or rwsem\n";
  for (const auto& w : scans.locks.warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace kstuck
