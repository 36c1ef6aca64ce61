// SPDX-License-Identifier: GPL-2.0
// JSON rendering of the analyze report (nlohmann-json), schema kstuck.analyze/1.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/report/analyze_render.h"

#include "analysis/hex_text.h"

namespace kstuck {
namespace {

using nlohmann::json;

json stack_json(const ReportStack& s) {
  json frames = json::array();
  for (const auto& f : s.frames) {
    frames.push_back({{"ip", hex_text(f.ip)},
                      {"symbol", f.symbol},
                      {"function", f.function},
                      {"module", f.module},
                      {"stack", f.stack},
                      {"reliable", f.reliable},
                      {"exact", f.exact}});
    if (!f.source.empty()) frames.back()["source"] = f.source;
  }
  json j = {{"frames", frames}, {"complete", s.complete}, {"stop", s.stop}};
  if (s.stop_address) j["stop_address"] = hex_text(s.stop_address);
  if (!s.detail.empty()) j["stop_detail"] = s.detail;
  return j;
}

json task_json(const ReportTask& t) {
  json j = {{"pid", t.pid},       {"tgid", t.tgid},     {"comm", t.comm},
            {"state", std::string(1, t.state)},         {"state_name", t.state_name},
            {"cpu", t.cpu},       {"on_cpu", t.on_cpu}, {"current_on", t.current_on},
            {"kthread", t.kthread}, {"address", hex_text(t.address)}, {"group", t.group}};
  j["since_ran_ns"] = t.since_ran_ns ? json(*t.since_ran_ns) : json(nullptr);
  if (!t.problems.empty()) j["problems"] = t.problems;
  return j;
}

json header() {
  return {{"schema", kAnalyzeSchema}, {"version", {{"major", kAnalyzeSchemaMajor}, {"minor", kAnalyzeSchemaMinor}}}};
}

}  // namespace

std::string render_analyze_json(const AnalyzeReport& r) {
  json j = header();
  json log = json::array();
  for (const auto& rec : r.system.log_tail)
    log.push_back({{"seq", rec.seq}, {"ts_nsec", rec.ts_nsec}, {"level", rec.level}, {"text", rec.text}});
  j["system"] = {{"release", r.system.release},
                 {"version", r.system.version},
                 {"machine", r.system.machine},
                 {"nodename", r.system.nodename},
                 {"uptime_ns", r.system.uptime_ns},
                 {"uptime_unknown", r.system.uptime_unknown.empty() ? json(nullptr) : json(r.system.uptime_unknown)},
                 {"crash_time", r.system.crash_time ? json(*r.system.crash_time) : json(nullptr)},
                 {"panic_message", r.system.panic_message},
                 {"log_tail", log},
                 {"source", r.system.source}};
  json cpus = json::array();
  for (const auto& c : r.cpus) {
    json jc = {{"cpu", c.cpu},     {"has_registers", c.has_registers}, {"rip", hex_text(c.rip)}, {"rsp", hex_text(c.rsp)},
               {"eflags", hex_text(c.eflags)}, {"irqs_off", c.irqs_off}, {"task", hex_text(c.task)}, {"pid", c.pid},
               {"comm", c.comm},   {"stack", stack_json(c.stack)}};
    jc["state"] = c.state;
    if (!c.state_detail.empty()) jc["state_detail"] = c.state_detail;
    if (!c.problems.empty()) jc["problems"] = c.problems;
    cpus.push_back(jc);
  }
  j["cpus"] = cpus;
  json tasks = json::array();
  for (const auto& t : r.tasks) tasks.push_back(task_json(t));
  j["tasks"] = tasks;
  json groups = json::array();
  for (const auto& g : r.groups) {
    json states = json::object();
    for (auto [letter, n] : g.states) states[std::string(1, letter)] = n;
    json pids = json::array();
    for (size_t i : g.tasks) pids.push_back(r.tasks[i].pid);
    groups.push_back({{"count", g.tasks.size()}, {"states", states}, {"pids", pids}, {"stack", stack_json(g.stack)}});
  }
  j["groups"] = groups;
  json d = json::array();
  for (size_t i : r.d_state) {
    const auto& t = r.tasks[i];
    d.push_back({{"pid", t.pid}, {"comm", t.comm}, {"since_ran_ns", t.since_ran_ns ? json(*t.since_ran_ns) : json(nullptr)},
                 {"group", t.group}});
  }
  j["d_state"] = d;
  json mods = json::array();
  for (const auto& m : r.modules) mods.push_back({{"name", m.name}, {"base", hex_text(m.base)}, {"size", m.size}});
  j["modules"] = mods;
  json nmi = json::array();
  for (const auto& snap : r.nmi) {
    json cpus_j = json::array();
    for (const auto& c : snap.cpus) {
      json frames = json::array();
      for (const auto& f : c.frames) {
        frames.push_back({{"ip", hex_text(f.ip)}, {"symbol", f.symbol}, {"function", f.function}, {"module", f.module}});
        if (!f.source.empty()) frames.back()["source"] = f.source;
      }
      cpus_j.push_back({{"cpu", c.cpu}, {"answered", c.answered}, {"irqs_off", c.irqs_off}, {"context", c.context},
                        {"pid", c.pid}, {"comm", c.comm}, {"timestamp_ns", c.timestamp_ns}, {"frames", frames}});
    }
    nmi.push_back({{"seq", snap.seq}, {"trigger", snap.trigger}, {"complete", snap.complete},
                   {"initiator_cpu", snap.initiator_cpu}, {"requested", snap.requested}, {"answered", snap.answered},
                   {"start_ns", snap.start_ns}, {"cpus", cpus_j}});
  }
  j["nmi"] = {{"module_loaded", r.nmi_module_loaded}, {"status", r.nmi_status}, {"snapshots", nmi}};
  j["problems"] = r.problems;
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_tasks_json(const AnalyzeReport& r) {
  json j = header();
  j["schema"] = "kstuck.tasks";
  json tasks = json::array();
  for (const auto& t : r.tasks) {
    json jt = task_json(t);
    const auto& s = r.groups[t.group].stack;
    jt["stack"] = stack_json(s);
    tasks.push_back(jt);
  }
  j["tasks"] = tasks;
  j["problems"] = r.problems;
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_stack_json(const ReportStack& stack, const std::string& kind, int id) {
  json j = header();
  j["schema"] = "kstuck.bt";
  j[kind] = id;
  j["stack"] = stack_json(stack);
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace kstuck
