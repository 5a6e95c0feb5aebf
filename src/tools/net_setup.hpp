// Building the net a verb works on from the shared flags: --model in the phase the verb asks for, with
// --level and --stage, then every file of --weights copied in order.
#pragma once

#include <memory>

#include "condense/net/net.hpp"

namespace condense::tools {

std::unique_ptr<Net> NetFromFlags(const char* verb, Phase default_phase);
// Copies each comma-separated weights file into the net, later files overriding earlier ones.
void CopyWeightsFromFlag(const std::string& weights, Net* net);
// Images in one batch: the first axis of the net's first blob (its data).
int64_t BatchSize(const Net& net);

}  // namespace condense::tools
