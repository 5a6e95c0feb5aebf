// The searches that choose word widths for a net, scored with a NetEvaluator. RistrettoSearch is
// Ristretto's `quantize`: one width for all convolution weights, one for all inner-product weights and
// one for all activations, halving the width while the accuracy stays within the margin — kept so
// that results compare with Ristretto's, but with the sign bit in the activations' integer length and a
// combined net that is widened again until it meets the margin. MixedPrecisionSearch is condense's
// analyzer: it measures each layer's sensitivity alone, then narrows the layer that saves the most cost
// per point of accuracy, verifying every step by scoring, until no layer can narrow further.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "condense/analyze/analysis_report.hpp"
#include "condense/analyze/net_evaluator.hpp"
#include "condense/analyze/range_statistics.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {

enum class TrimmingMode { kDynamicFixedPoint, kMinifloat, kPowerOfTwoWeights };
// Ristretto's names: dynamic_fixed_point, minifloat, integer_power_of_2_weights.
TrimmingMode ParseTrimmingMode(const std::string& name);

struct SearchResult {
  std::map<std::string, QuantizationParameter> formats;  // by layer name
  double accuracy = 0;   // of the final, fully scored net
  std::vector<TrialPoint> trials;
  std::vector<std::string> summary;  // lines for the log, Ristretto-style
};

// `error_margin` in points (1 = one percentage point of accuracy).
SearchResult RistrettoSearch(NetEvaluator& evaluator, TrimmingMode mode, double error_margin,
                             RangeMethod range_method);

struct MixedPrecisionOptions {
  double error_margin = 1;          // points
  RangeMethod range_method = RangeMethod::kMse;
  bool cost_is_mac_bits = false;    // cost Σ MACs × weight bits instead of Σ params × weight bits
  int keep_first_last_bits = 0;     // > 0: first and last quantized layer keep this weight width
  int max_weight_bits = 8;          // the widest weights the search starts from (2..8)
  int max_activation_bits = 8;      // the widest activations it may choose (4..16)
  // Integer affine (scale and zero point, as gemmlowp/TFLite) instead of dynamic fixed point.
  // per_channel: integer affine weights with a range per output channel; with dynamic fixed point the
  // activations stay dynamic fixed point (params_precision).
  bool integer_affine = false;
  bool per_channel = false;
};

struct MixedPrecisionResult {
  SearchResult search;
  int activation_bits = 0;
  std::map<std::string, int> weight_bits;      // by layer
  std::map<std::string, double> sensitivity;   // points lost when only this layer is at its width
};

MixedPrecisionResult MixedPrecisionSearch(NetEvaluator& evaluator, const MixedPrecisionOptions& options);

// A copy of `model` (all phases) with each named layer's quantization_param set.
NetParameter ApplyFormats(const NetParameter& model,
                          const std::map<std::string, QuantizationParameter>& formats);

// The bits the quantizable layers' parameters take: weights at their width, biases at theirs, and an
// integer affine format's scales and zero points (32 bits each value where float).
int64_t WeightBits(const NetEvaluator& evaluator,
                   const std::map<std::string, QuantizationParameter>& formats);

}  // namespace condense
