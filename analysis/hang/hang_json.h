// SPDX-License-Identifier: GPL-2.0
// Pieces of the hang report's JSON shared by the dump and live renderers.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/hang/wait_graph.h"

namespace kstuck {

// One edge as the kstuck-hang schema writes it: from, to, kind, inferred, confidence, evidence.
nlohmann::ordered_json hang_edge_json(const WaitEdge& e, const std::vector<WaitNode>& nodes);

}  // namespace kstuck
