#include "condense/analyze/bit_width_search.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>

#include "condense/core/error.hpp"
#include "condense/quant/layer_quantizer.hpp"

namespace condense {
namespace {

using Formats = std::map<std::string, QuantizationParameter>;

RangeStatistics ParameterRanges(const LayerRanges& ranges) {
  RangeStatistics all = ranges.weights;
  if (ranges.bias.count() > 0) all.Merge(ranges.bias);
  return all;
}

void SetActivations(const LayerRanges& ranges, int bits, RangeMethod method,
                    QuantizationParameter* q) {
  q->set_bw_layer_in(bits);
  q->set_fl_layer_in(ChooseFractionLength(ranges.input, method, bits));
  q->set_bw_layer_out(bits);
  q->set_fl_layer_out(ChooseFractionLength(ranges.output, method, bits));
}

void SetParameters(const RangeStatistics& ranges, int bits, RangeMethod method,
                   QuantizationParameter* q) {
  q->set_bw_params(bits);
  q->set_fl_params(ChooseFractionLength(ranges, method, bits));
}

// Integer affine activations cover the measured range, clipped where the range method says so; the
// weights take their range from the tensor itself (per output channel where asked). Weights are
// always quantized in this scheme, at 16 bits until the search narrows them.
QuantizationParameter AffineFormat(const LayerRanges& ranges, int activation_bits, int weight_bits,
                                   RangeMethod method, bool per_channel) {
  QuantizationParameter q;
  q.set_precision(QuantizationParameter::INTEGER_AFFINE);
  q.set_per_channel(per_channel);
  q.set_bw_params(weight_bits > 0 ? weight_bits : 16);
  auto covered = [&](const RangeStatistics& stats, float* low, float* high) {
    const float clip = ChooseClipRange(stats, method, activation_bits);
    *low = std::max(stats.min(), -clip);
    *high = std::min(stats.max(), clip);
    if (*high <= *low) *high = *low + 1;  // a constant tensor still needs a non-empty range
  };
  float low, high;
  q.set_bw_layer_in(activation_bits);
  covered(ranges.input, &low, &high);
  q.set_range_in_min(low);
  q.set_range_in_max(high);
  q.set_bw_layer_out(activation_bits);
  covered(ranges.output, &low, &high);
  q.set_range_out_min(low);
  q.set_range_out_max(high);
  return q;
}

// A trial's definition: the TEST net with these formats on their layers.
NetParameter TrialNet(const NetEvaluator& evaluator, const Formats& formats) {
  return ApplyFormats(evaluator.test_net(), formats);
}

// Pass or fail against the margin, scored with early stopping; recorded as a trial.
struct Scorer {
  NetEvaluator& evaluator;
  double threshold;
  std::vector<TrialPoint>* trials;

  double operator()(const Formats& formats, const std::string& label) {
    const double accuracy = evaluator.Score(TrialNet(evaluator, formats), threshold);
    trials->push_back({label, WeightBits(evaluator, formats), accuracy, false});
    LOG(INFO) << "  " << label << ": accuracy " << accuracy
              << (accuracy < threshold ? "  (below the margin, stopped early)" : "");
    return accuracy;
  }
};

int MinifloatExponentBits(double max_abs, int bits) {
  // The largest finite value is about 2^(bias + 1) with bias = 2^(e-1) - 1.
  const int needed_bias = std::max(1, static_cast<int>(std::ceil(std::log2(std::max(max_abs, 1.0)))));
  int exponent_bits = static_cast<int>(std::ceil(std::log2(needed_bias + 1.0))) + 1;
  exponent_bits = std::max(exponent_bits, bits >= 16 ? 5 : 4);
  return std::clamp(exponent_bits, 2, std::min(8, bits - 1));
}

// The widths stay as chosen; what moves is where each layer puts its bits. Range rules are blind to
// what a layer's values mean for the result: one integer bit fewer clips a few rare large activations
// but halves the rounding noise of all the others, and for minifloat the exponent/mantissa split of a
// layer trades range for precision the same way. Each layer's alternatives are scored in turn and
// kept where the whole net scores better.
void RefineSplits(NetEvaluator& evaluator, TrimmingMode mode, SearchResult* result) {
  auto alternatives = [&](const QuantizationParameter& q) {
    std::vector<QuantizationParameter> options;
    if (mode == TrimmingMode::kMinifloat) {
      for (int delta : {-1, 1}) {
        // The fields are unsigned: compute in int so that a mantissa below zero is seen, not wrapped.
        const int exp_bits = static_cast<int>(q.exp_bits()) + delta;
        const int mant_bits = static_cast<int>(q.mant_bits()) - delta;
        if (exp_bits < 2 || exp_bits > 8 || mant_bits < 0) continue;
        QuantizationParameter option = q;
        option.set_exp_bits(exp_bits);
        option.set_mant_bits(mant_bits);
        options.push_back(option);
      }
      return options;
    }
    if (q.has_bw_layer_in()) {
      QuantizationParameter option = q;
      option.set_fl_layer_in(q.fl_layer_in() + 1);
      options.push_back(option);
    }
    if (q.has_bw_layer_out()) {
      QuantizationParameter option = q;
      option.set_fl_layer_out(q.fl_layer_out() + 1);
      options.push_back(option);
    }
    if (mode == TrimmingMode::kPowerOfTwoWeights) {
      for (int delta : {-1, 1}) {
        QuantizationParameter option = q;
        option.set_exp_min(q.exp_min() + delta);
        option.set_exp_max(q.exp_max() + delta);
        options.push_back(option);
      }
    }
    return options;
  };
  LOG(INFO) << "Refining each layer's integer/fraction split:";
  // A second sweep only where the first moved something: a layer's best split can depend on its
  // neighbours'.
  bool improved = true;
  for (int sweep = 0; sweep < 2 && improved; ++sweep) {
  improved = false;
  for (const QuantizableLayer& layer : evaluator.quantizable_layers()) {
    auto found = result->formats.find(layer.name);
    if (found == result->formats.end()) continue;
    for (const QuantizationParameter& option : alternatives(found->second)) {
      std::map<std::string, QuantizationParameter> formats = result->formats;
      formats[layer.name] = option;
      // Only a strictly better net is kept, so a trial may stop once it cannot beat the current one.
      const double accuracy =
          evaluator.Score(ApplyFormats(evaluator.test_net(), formats), result->accuracy + 1e-9);
      result->trials.push_back({layer.name + " split", WeightBits(evaluator, formats), accuracy, false});
      if (accuracy > result->accuracy) {
        LOG(INFO) << "  " << layer.name << ": " << result->accuracy << " -> " << accuracy;
        result->formats = formats;
        result->accuracy = accuracy;
        improved = true;
      }
    }
  }
  }
}

}  // namespace

TrimmingMode ParseTrimmingMode(const std::string& name) {
  if (name == "dynamic_fixed_point") return TrimmingMode::kDynamicFixedPoint;
  if (name == "minifloat") return TrimmingMode::kMinifloat;
  if (name == "integer_power_of_2_weights") return TrimmingMode::kPowerOfTwoWeights;
  Fail("--trimming_mode must be dynamic_fixed_point, minifloat or integer_power_of_2_weights, not '",
       name, "'");
}

NetParameter ApplyFormats(const NetParameter& model, const Formats& formats) {
  NetParameter result = model;
  for (LayerParameter& layer : *result.mutable_layer()) {
    auto found = formats.find(layer.name());
    if (found == formats.end()) {
      layer.clear_quantization_param();
    } else {
      *layer.mutable_quantization_param() = found->second;
    }
  }
  return result;
}

namespace {

// The bits a layer's stored parameters take in format `q`: each weight at the weights' width, an
// integer affine format's scales (32-bit floats) and zero points per tensor or per channel, and the
// biases at theirs (the weights' format unless bw_bias gives one; float beside power-of-two or affine
// weights, as the layer computes them).
int64_t LayerWeightBits(const QuantizableLayer& layer, const QuantizationParameter& q) {
  if (!q.quantize_params()) return layer.params * 32;
  int64_t weight_bits = 32;
  int64_t bias_bits = 32;  // without bw_bias: the weights' format for DFP and minifloat, else float
  int64_t format_bits = 0;  // what the format itself stores beside the values
  switch (WeightPrecision(q)) {
    case QuantizationParameter::MINIFLOAT:
      weight_bits = bias_bits = 1 + q.exp_bits() + q.mant_bits();
      break;
    case QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS:
      // A sign and an exponent index, with one code more for the exact zero.
      weight_bits = 1 + static_cast<int>(std::ceil(std::log2(q.exp_max() - q.exp_min() + 2.0)));
      break;
    case QuantizationParameter::INTEGER_AFFINE:
      weight_bits = q.bw_params();
      // A 32-bit float scale, and a zero point unless symmetric, per tensor or per channel.
      format_bits =
          (q.per_channel() ? layer.channels : 1) * (32 + (q.affine_symmetric() ? 0 : q.bw_params()));
      break;
    default:
      if (!q.has_bw_params()) return layer.params * 32;
      weight_bits = bias_bits = q.bw_params();
      break;
  }
  if (q.bw_bias() > 0) bias_bits = q.bw_bias();
  return layer.weights * weight_bits + (layer.params - layer.weights) * bias_bits + format_bits;
}

}  // namespace

int64_t WeightBits(const NetEvaluator& evaluator, const Formats& formats) {
  int64_t total = 0;
  for (const QuantizableLayer& layer : evaluator.quantizable_layers()) {
    auto found = formats.find(layer.name);
    total += found == formats.end() ? layer.params * 32 : LayerWeightBits(layer, found->second);
  }
  return total;
}

SearchResult RistrettoSearch(NetEvaluator& evaluator, TrimmingMode mode, double error_margin,
                             RangeMethod method) {
  CONDENSE_CHECK(error_margin > 0 && error_margin < 100,
                 "--error_margin must lie between 0 and 100 (points of accuracy), got ", error_margin);
  SearchResult result;
  const double baseline = evaluator.float_accuracy();
  const double threshold = baseline - error_margin / 100;
  Scorer score{evaluator, threshold, &result.trials};
  const auto& layers = evaluator.quantizable_layers();
  auto summary = [&](const std::string& line) {
    result.summary.push_back(line);
    LOG(INFO) << line;
  };
  summary("Baseline 32-bit float: " + std::to_string(baseline));

  auto dfp = [&](int conv_bits, int fc_bits, int activation_bits) {
    Formats formats;
    for (const QuantizableLayer& layer : layers) {
      const LayerRanges& ranges = evaluator.ranges(layer.name);
      QuantizationParameter q;
      q.set_precision(QuantizationParameter::DYNAMIC_FIXED_POINT);
      const int param_bits = layer.type == "InnerProduct" ? fc_bits : conv_bits;
      if (param_bits > 0) SetParameters(ParameterRanges(ranges), param_bits, method, &q);
      if (activation_bits > 0) SetActivations(ranges, activation_bits, method, &q);
      if (param_bits > 0 || activation_bits > 0) formats[layer.name] = q;
    }
    return formats;
  };
  // Halves the width while the margin holds; 0 (float) when even 16 bits fail. Ristretto starts at 16;
  // starting at 8 and trying 16 only where 8 fails chooses the same widths with fewer scorings.
  auto narrowest = [&](const std::string& what, auto formats_at) {
    const std::string label = what + " 8 bits";
    if (score(formats_at(8), label) < threshold) {
      return score(formats_at(16), what + " 16 bits") < threshold ? 0 : 16;
    }
    int chosen = 8;
    for (int bits = 4; bits >= 2; bits /= 2) {
      const double accuracy = score(formats_at(bits), what + " " + std::to_string(bits) + " bits");
      if (accuracy < threshold) break;
      chosen = bits;
    }
    return chosen;
  };

  if (mode == TrimmingMode::kDynamicFixedPoint) {
    int conv = narrowest("conv weights", [&](int b) { return dfp(b, 0, 0); });
    int fc = narrowest("fc weights", [&](int b) { return dfp(0, b, 0); });
    int activations = narrowest("activations", [&](int b) { return dfp(0, 0, b); });
    // Each part passed alone; together they may not. Widen the part that had the least room first.
    for (;;) {
      result.formats = dfp(conv, fc, activations);
      const double accuracy = score(result.formats, "combined conv " + std::to_string(conv) + ", fc " +
                                                        std::to_string(fc) + ", activations " +
                                                        std::to_string(activations));
      if (accuracy >= threshold) break;
      if (activations > 0 && activations < 16) activations *= 2;
      else if (conv > 0 && conv < 16) conv *= 2;
      else if (fc > 0 && fc < 16) fc *= 2;
      else { result.formats = dfp(0, 0, 0); break; }
    }
    summary("Dynamic fixed point: " + std::to_string(conv) + "-bit conv weights, " +
            std::to_string(fc) + "-bit fc weights, " + std::to_string(activations) +
            "-bit activations (0 = float)");
  } else if (mode == TrimmingMode::kMinifloat) {
    double max_abs = 0;
    for (const QuantizableLayer& layer : layers) {
      const LayerRanges& r = evaluator.ranges(layer.name);
      max_abs = std::max({max_abs, double(r.input.max_abs()), double(r.output.max_abs()),
                          double(ParameterRanges(r).max_abs())});
    }
    auto minifloat = [&](int bits) {
      Formats formats;
      const int exponent_bits = MinifloatExponentBits(max_abs, bits);
      for (const QuantizableLayer& layer : layers) {
        QuantizationParameter q;
        q.set_precision(QuantizationParameter::MINIFLOAT);
        q.set_exp_bits(exponent_bits);
        q.set_mant_bits(bits - 1 - exponent_bits);
        formats[layer.name] = q;
      }
      return formats;
    };
    int chosen = 32;
    for (int bits = 16; bits >= 4; bits /= 2) {
      const double accuracy = score(minifloat(bits), "minifloat " + std::to_string(bits) + " bits");
      if (accuracy < threshold) break;
      chosen = bits;
    }
    if (chosen < 32) result.formats = minifloat(chosen);
    summary("Minifloat: " + std::to_string(chosen) + " bits");
  } else {
    auto power_of_two = [&](int activation_bits) {
      Formats formats;
      for (const QuantizableLayer& layer : layers) {
        const LayerRanges& ranges = evaluator.ranges(layer.name);
        QuantizationParameter q;
        q.set_precision(QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS);
        // The quantizer rounds log2|w| to the nearest integer, so the top exponent is max-abs's nearest.
        const double top = std::max(double(ranges.weights.max_abs()), 1e-30);
        const int exp_max = static_cast<int>(std::floor(std::log2(top) + 0.5));
        q.set_exp_max(exp_max);
        q.set_exp_min(exp_max - 7);  // 4-bit codes: a sign and eight exponents (and the zero)
        SetActivations(ranges, activation_bits, method, &q);
        formats[layer.name] = q;
      }
      return formats;
    };
    int activations = 8;
    for (;;) {
      result.formats = power_of_two(activations);
      const double accuracy = score(result.formats, "power-of-two weights, activations " +
                                                        std::to_string(activations) + " bits");
      if (accuracy >= threshold || activations >= 16) break;
      activations *= 2;
    }
    summary("Power-of-two weights with " + std::to_string(activations) + "-bit activations");
  }
  result.accuracy = evaluator.Score(TrialNet(evaluator, result.formats));
  summary("Accuracy at the chosen widths: " + std::to_string(result.accuracy));
  RefineSplits(evaluator, mode, &result);
  result.trials.push_back({"chosen", WeightBits(evaluator, result.formats), result.accuracy, true});
  summary("Accuracy of the quantized net: " + std::to_string(result.accuracy));
  return result;
}

MixedPrecisionResult MixedPrecisionSearch(NetEvaluator& evaluator,
                                          const MixedPrecisionOptions& options) {
  CONDENSE_CHECK(options.error_margin > 0 && options.error_margin < 100,
                 "--error_margin must lie between 0 and 100 (points of accuracy), got ",
                 options.error_margin);
  MixedPrecisionResult result;
  SearchResult& search = result.search;
  const double baseline = evaluator.float_accuracy();
  const double threshold = baseline - options.error_margin / 100;
  Scorer score{evaluator, threshold, &search.trials};
  const auto& layers = evaluator.quantizable_layers();
  const RangeMethod method = options.range_method;

  auto formats_for = [&](int activation_bits, const std::map<std::string, int>& weight_bits) {
    Formats formats;
    for (const QuantizableLayer& layer : layers) {
      const LayerRanges& ranges = evaluator.ranges(layer.name);
      const bool per_channel = options.per_channel && layer.channels_lead_weights;
      QuantizationParameter q;
      if (options.integer_affine) {
        formats[layer.name] = AffineFormat(ranges, activation_bits, weight_bits.count(layer.name)
                                                                       ? weight_bits.at(layer.name)
                                                                       : 0,
                                           method, per_channel);
        continue;
      }
      q.set_precision(QuantizationParameter::DYNAMIC_FIXED_POINT);
      SetActivations(ranges, activation_bits, method, &q);
      auto bits = weight_bits.find(layer.name);
      if (bits != weight_bits.end()) {
        if (per_channel) {
          // Dynamic fixed point activations with a scale and zero point per output channel for the
          // weights, which take their ranges from the tensor itself.
          q.set_params_precision(QuantizationParameter::INTEGER_AFFINE);
          q.set_per_channel(true);
          q.set_bw_params(bits->second);
        } else {
          SetParameters(ranges.weights, bits->second, method, &q);
        }
        // Biases are added to the wide accumulator: they keep 16 bits of their own.
        if (ranges.bias.count() > 0) {
          q.set_bw_bias(16);
          q.set_fl_bias(ChooseFractionLength(ranges.bias, RangeMethod::kMax, 16));
        }
      }
      formats[layer.name] = q;
    }
    return formats;
  };

  // 1. Activations: the narrowest common width that spends at most a quarter of the margin.
  LOG(INFO) << "Activations alone:";
  const double activation_floor = baseline - options.error_margin / 400;
  int activation_bits = options.max_activation_bits;
  for (int bits : {8, 6, 4}) {
    if (bits >= options.max_activation_bits) continue;
    const double accuracy = score(formats_for(bits, {}), "activations " + std::to_string(bits) + " bits");
    if (accuracy < activation_floor) break;
    activation_bits = bits;
  }
  result.activation_bits = activation_bits;

  // 2. Sensitivity of each layer's weights alone, at the chosen activations.
  std::vector<int> widths;
  for (int bits : {8, 6, 4, 3, 2}) {
    if (bits <= options.max_weight_bits) widths.push_back(bits);
  }
  CONDENSE_CHECK(!widths.empty(), "the widest weights must be at least 2 bits, not ",
                 options.max_weight_bits);
  std::map<std::string, std::map<int, double>> drop;  // points
  LOG(INFO) << "Sensitivity of each layer's weights (activations at " << activation_bits << " bits):";
  const double activations_accuracy =
      evaluator.Score(TrialNet(evaluator, formats_for(activation_bits, {})));
  for (const QuantizableLayer& layer : layers) {
    for (int bits : widths) {
      const double accuracy = score(formats_for(activation_bits, {{layer.name, bits}}),
                                    layer.name + " weights " + std::to_string(bits) + " bits");
      drop[layer.name][bits] = 100 * (activations_accuracy - accuracy);
      if (accuracy < threshold) break;
    }
  }

  // 3. Narrow greedily: the step that saves the most cost per point of predicted loss, verified.
  std::map<std::string, int> current;
  std::map<std::string, bool> frozen;
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool edge = i == 0 || i + 1 == layers.size();
    current[layers[i].name] =
        options.keep_first_last_bits > 0 && edge ? options.keep_first_last_bits : widths.front();
    frozen[layers[i].name] = options.keep_first_last_bits > 0 && edge;
  }
  auto cost_of = [&](const QuantizableLayer& layer) {
    return options.cost_is_mac_bits ? layer.macs : layer.params;
  };
  LOG(INFO) << "Narrowing layer by layer:";
  for (;;) {
    const QuantizableLayer* best = nullptr;
    int best_bits = 0;
    double best_ratio = -1;
    for (const QuantizableLayer& layer : layers) {
      if (frozen[layer.name]) continue;
      auto next = std::find(widths.begin(), widths.end(), current[layer.name]);
      if (next == widths.end() || next + 1 == widths.end()) continue;
      const int bits = *(next + 1);
      auto measured = drop[layer.name].find(bits);
      if (measured == drop[layer.name].end()) continue;  // failed alone already
      const double saved = double(cost_of(layer)) * (current[layer.name] - bits);
      const double ratio = saved / std::max(measured->second, 0.01);
      if (ratio > best_ratio) {
        best_ratio = ratio;
        best = &layer;
        best_bits = bits;
      }
    }
    if (!best) break;
    std::map<std::string, int> candidate = current;
    candidate[best->name] = best_bits;
    const double accuracy = score(formats_for(activation_bits, candidate),
                                  best->name + " weights " + std::to_string(current[best->name]) +
                                      " -> " + std::to_string(best_bits) + " bits");
    if (accuracy >= threshold) {
      current = candidate;
    } else {
      frozen[best->name] = true;
    }
  }

  search.formats = formats_for(activation_bits, current);
  search.accuracy = evaluator.Score(TrialNet(evaluator, search.formats));
  search.trials.push_back({"chosen", WeightBits(evaluator, search.formats), search.accuracy, true});
  result.weight_bits = current;
  for (const QuantizableLayer& layer : layers) {
    auto measured = drop[layer.name].find(current[layer.name]);
    result.sensitivity[layer.name] = measured == drop[layer.name].end() ? 0 : measured->second;
  }
  return result;
}

}  // namespace condense
