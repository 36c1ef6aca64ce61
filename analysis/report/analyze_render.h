// SPDX-License-Identifier: GPL-2.0
// Renderers of the analyze report: text for people, JSON (schema kstuck.analyze/1) for tools.
#pragma once

#include <string>

#include "analysis/report/analyze_report.h"

namespace kstuck {

// The JSON schema's name and version; docs/json-schema.md documents every field.
// Minor additions keep the major version; removing or changing a field bumps it.
inline constexpr const char* kAnalyzeSchema = "kstuck.analyze";
inline constexpr int kAnalyzeSchemaMajor = 1;
inline constexpr int kAnalyzeSchemaMinor = 2;  // 1.1: system.uptime_unknown; 1.2: cpus[].state, .state_detail

std::string render_analyze_text(const AnalyzeReport& report);
std::string render_analyze_json(const AnalyzeReport& report);

// `kstuck tasks`: one line per task (pid, tgid, state, cpu, since-ran, comm, top function).
std::string render_tasks_text(const AnalyzeReport& report);
std::string render_tasks_json(const AnalyzeReport& report);

// `kstuck bt`: one stack with a heading.
std::string render_stack_text(const ReportStack& stack, const std::string& heading);
std::string render_stack_json(const ReportStack& stack, const std::string& kind, int id);

// "1.5s", "3m12s", "2h05m" for a nanosecond duration.
std::string format_duration(uint64_t ns);

}  // namespace kstuck
