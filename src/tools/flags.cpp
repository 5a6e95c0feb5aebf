#include "flags.hpp"

#include "condense/core/error.hpp"

DEFINE_int32(threads, 0, "Compute threads (OpenBLAS and condense's kernels together); 0 = all cores.");
DEFINE_string(gpu, "", "Not supported: condense is a CPU-only build.");
DEFINE_string(model, "", "The net definition (.prototxt).");
DEFINE_string(weights, "",
              "Trained weights to start from: .caffemodel or .caffemodel.h5 files, comma-separated "
              "(later files overwrite layers of earlier ones).");
DEFINE_int32(iterations, 50, "How many batches to run.");
DEFINE_string(phase, "", "Net phase, TRAIN or TEST (each verb has its own default, as Caffe's).");
DEFINE_int32(level, 0, "Net state level, for include/exclude rules with min_level/max_level.");
DEFINE_string(stage, "", "Net state stages, comma-separated, for include/exclude rules.");
DEFINE_string(json, "", "Also write a machine-readable summary to this JSON file.");

namespace condense::tools {

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) parts.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

Phase PhaseFromFlag(Phase fallback) {
  if (FLAGS_phase.empty()) return fallback;
  if (FLAGS_phase == "TRAIN") return TRAIN;
  if (FLAGS_phase == "TEST") return TEST;
  Fail("--phase must be TRAIN or TEST, not '", FLAGS_phase, "'");
}

std::vector<std::string> StagesFromFlag() { return SplitCommas(FLAGS_stage); }

void RequireFlag(const std::string& value, const char* flag_name, const char* verb) {
  CONDENSE_CHECK(!value.empty(), "condense ", verb, " needs --", flag_name);
}

}  // namespace condense::tools
DEFINE_string(model_quantized, "", "Where quantize/analyze write the quantized net (.prototxt).");
DEFINE_double(error_margin, 2, "Accuracy the quantized net may lose, in percentage points.");
DEFINE_string(range_method, "", "How ranges become formats: max, percentile, kl or mse (quantize: max, analyze: mse).");

namespace condense::tools {

void CheckSearchFlags(const char* verb) {
  RequireFlag(FLAGS_model, "model", verb);
  RequireFlag(FLAGS_weights, "weights", verb);
  // The search scores one trained net: unlike train, test and time, these verbs read one file.
  CONDENSE_CHECK(FLAGS_weights.find(',') == std::string::npos, "condense ", verb,
                 " reads one weights file, but --weights='", FLAGS_weights,
                 "' lists several (comma-separated lists are for train, test and time)");
  RequireFlag(FLAGS_model_quantized, "model_quantized", verb);
  CONDENSE_CHECK(FLAGS_iterations > 0, "--iterations must be positive, not ", FLAGS_iterations);
  CONDENSE_CHECK(FLAGS_error_margin > 0 && FLAGS_error_margin < 100,
                 "--error_margin must lie between 0 and 100 (points of accuracy), got ",
                 FLAGS_error_margin);
}

RangeMethod RangeMethodFlag(const char* default_name) {
  const std::string name = FLAGS_range_method.empty() ? default_name : FLAGS_range_method;
  try {
    return ParseRangeMethod(name);
  } catch (const Error& error) {
    Fail("--range_method: ", error.what());
  }
}

}  // namespace condense::tools
