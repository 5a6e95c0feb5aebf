// Flags shared by several verbs, with Caffe's names; each is defined once in flags.cpp. A verb's own
// flags are defined in that verb's file.
#pragma once

#include <gflags/gflags.h>

#include <string>
#include <vector>

#include "condense/analyze/range_statistics.hpp"
#include "condense/proto/condense.pb.h"

DECLARE_int32(threads);      // compute threads, 0 = all cores
DECLARE_string(gpu);         // refused: this build is CPU-only
DECLARE_string(model);       // net prototxt
DECLARE_string(weights);     // comma-separated .caffemodel / .caffemodel.h5 files
DECLARE_int32(iterations);   // batches to run
DECLARE_string(phase);       // TRAIN or TEST
DECLARE_int32(level);        // NetState level
DECLARE_string(stage);       // comma-separated NetState stages
DECLARE_string(json);        // machine-readable summary file
DECLARE_string(model_quantized);  // quantized net written by quantize/analyze
DECLARE_double(error_margin);      // accuracy points a quantized net may lose
DECLARE_string(range_method);      // max, percentile, kl, mse

namespace condense::tools {

// The phase named by --phase, or `fallback` when the flag is empty; throws on other words.
Phase PhaseFromFlag(Phase fallback);
std::vector<std::string> StagesFromFlag();
std::vector<std::string> SplitCommas(const std::string& text);
// Throws "condense VERB needs --FLAG" when `value` is empty.
void RequireFlag(const std::string& value, const char* flag_name, const char* verb);
// The flags quantize and analyze share: --model, --weights (one file, not a comma-separated list),
// --model_quantized given, --iterations positive, --error_margin strictly between 0 and 100 points.
void CheckSearchFlags(const char* verb);
// --range_method, or the verb's default where it is not given; an unknown name is an error that names
// the flag.
RangeMethod RangeMethodFlag(const char* default_name);

}  // namespace condense::tools
