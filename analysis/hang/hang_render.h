// SPDX-License-Identifier: GPL-2.0
// Hang report renderers: text (verdict first, then chains with stacks), JSON (stable schema) and Graphviz DOT.
#pragma once

#include <string>

#include "analysis/hang/hang_analysis.h"

namespace kstuck {

// The JSON schema's name and version: bump the version when a field changes meaning;
// fields are only ever added.
// 2: `verdict` may be UNKNOWN; DEADLOCK and STUCK carry a `confidence` (a cycle with an
// inferred edge was a plain DEADLOCK in 1).
inline constexpr const char* kHangJsonSchema = "kstuck-hang/2";

std::string render_hang_text(const HangReport& report);
std::string render_hang_json(const HangReport& report);
std::string render_hang_dot(const HangReport& report);

}  // namespace kstuck
