#include "condense/quant/layer_quantizer.hpp"

#include <algorithm>
#include <utility>

#include "condense/core/error.hpp"
#include "condense/core/random.hpp"

namespace condense {

namespace {

Rounding RoundingOf(const QuantizationParameter& param) {
  return param.rounding_scheme() == QuantizationParameter::STOCHASTIC ? Rounding::kStochastic
                                                                      : Rounding::kNearest;
}

TensorFormat FixedPoint(uint32_t bit_width, int32_t fractional_bits, Rounding rounding,
                        const std::string& where, const char* bw_field, const char* fl_field) {
  DynamicFixedPoint format;
  // Widths arrive as uint32: a negative number in the prototxt has wrapped around. Compare before
  // narrowing so that it is still named as out of range.
  CONDENSE_CHECK(bit_width >= 1 && bit_width <= 32, where, ": ", bw_field, " = ",
                 static_cast<int32_t>(bit_width), " is out of range (1..32)");
  format.bit_width = static_cast<int>(bit_width);
  format.fractional_bits = fractional_bits;
  format.Validate(where + ": ", bw_field, fl_field);
  return TensorFormat(format, rounding);
}

TensorFormat AffineActivation(uint32_t bits, const AffineScheme& base, bool has_range, float low,
                              float high, Rounding rounding, const std::string& where,
                              const char* bits_field) {
  AffineScheme scheme = base;
  CONDENSE_CHECK(bits >= 1 && bits <= 32, where, ": ", bits_field, " = ", static_cast<int32_t>(bits),
                 " is out of range");
  scheme.bits = static_cast<int>(bits);
  scheme.Validate(where + ": ", bits_field);
  if (!has_range) return TensorFormat(AffineFromData{scheme, false}, rounding);
  return TensorFormat(ChooseAffineQuantizer(scheme, low, high, where + ": "), rounding);
}

TensorFormat MinifloatFormat(const QuantizationParameter& param, Rounding rounding,
                             const std::string& at) {
  CONDENSE_CHECK(param.exp_bits() <= 32 && param.mant_bits() <= 32, at,
                 ": exp_bits/mant_bits out of range");
  Minifloat format;
  format.exponent_bits = static_cast<int>(param.exp_bits());
  format.mantissa_bits = static_cast<int>(param.mant_bits());
  format.Validate(at + ": ", "exp_bits", "mant_bits");
  return TensorFormat(format, rounding);
}

AffineScheme AffineSchemeOf(const QuantizationParameter& param) {
  AffineScheme scheme;
  scheme.is_signed = param.affine_signed();
  scheme.symmetric = param.affine_symmetric();
  return scheme;
}

// Remembers where the quantized values sit at the ends of the range, when any value saturated.
void RecordClipped(const TensorFormat& format, int64_t saturated, const Blob& quantized,
                   std::vector<int8_t>* sides) {
  sides->clear();
  if (saturated == 0) return;
  sides->resize(quantized.count());
  const float* values = quantized.data();
  for (int64_t k = 0; k < quantized.count(); ++k) (*sides)[k] = static_cast<int8_t>(format.ClipSide(values[k]));
}

// Applies the clipped-gradient rule to a gradient (descent moves a value by -gradient).
void MaskGradient(QuantizationParameter::ClippedGradient rule, const std::vector<int8_t>& sides,
                  Blob* blob) {
  if (sides.empty() || rule == QuantizationParameter::PASS) return;
  if (static_cast<int64_t>(sides.size()) != blob->count()) return;
  float* grads = blob->mutable_diff();
  for (int64_t k = 0; k < blob->count(); ++k) {
    const int side = sides[k];
    if (side == 0) continue;
    const bool outward = (side > 0 && grads[k] < 0.0f) || (side < 0 && grads[k] > 0.0f);
    if (rule == QuantizationParameter::ZERO || outward) grads[k] = 0.0f;
  }
}

// Ristretto ties the weights' format to the activations' through one `precision`; condense's
// params_precision may give the weights their own. Each function reads the fields of the precision it is
// given, so a layer with DYNAMIC_FIXED_POINT activations and INTEGER_AFFINE weights reads
// bw_layer_in/fl_layer_in for the inputs and bw_params/affine_*/per_channel for the weights.
void ReadActivationFormats(QuantizationParameter::Precision precision, const QuantizationParameter& param,
                           Rounding rounding, const std::string& at, LayerFormats* formats) {
  switch (precision) {
    case QuantizationParameter::DYNAMIC_FIXED_POINT:
    // Ristretto holds the activations of power-of-two nets in dynamic fixed point.
    case QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS:
      formats->input = FixedPoint(param.bw_layer_in(), param.fl_layer_in(), rounding, at,
                                  "bw_layer_in", "fl_layer_in");
      formats->output = FixedPoint(param.bw_layer_out(), param.fl_layer_out(), rounding, at,
                                   "bw_layer_out", "fl_layer_out");
      break;
    case QuantizationParameter::MINIFLOAT:
      formats->input = formats->output = MinifloatFormat(param, rounding, at);
      break;
    case QuantizationParameter::INTEGER_AFFINE: {
      const AffineScheme scheme = AffineSchemeOf(param);
      // A range needs both ends: one alone would silently fall back to each batch's range.
      CONDENSE_CHECK(param.has_range_in_min() == param.has_range_in_max(), at,
                     ": range_in_min and range_in_max go together (only one is set)");
      CONDENSE_CHECK(param.has_range_out_min() == param.has_range_out_max(), at,
                     ": range_out_min and range_out_max go together (only one is set)");
      // Widths of tensors left float are not read: their defaults (32) are no affine width.
      if (param.quantize_inputs()) {
        formats->input = AffineActivation(param.bw_layer_in(), scheme, param.has_range_in_min(),
                                          param.range_in_min(), param.range_in_max(), rounding, at,
                                          "bw_layer_in");
      }
      if (param.quantize_outputs()) {
        formats->output = AffineActivation(param.bw_layer_out(), scheme, param.has_range_out_min(),
                                           param.range_out_min(), param.range_out_max(), rounding, at,
                                           "bw_layer_out");
      }
      break;
    }
    default:
      Fail(at, ": unknown precision ", static_cast<int>(precision));
  }
}

void ReadParameterFormats(QuantizationParameter::Precision precision, const QuantizationParameter& param,
                          Rounding rounding, const std::string& at, LayerFormats* formats) {
  switch (precision) {
    case QuantizationParameter::DYNAMIC_FIXED_POINT:
      formats->weights =
          FixedPoint(param.bw_params(), param.fl_params(), rounding, at, "bw_params", "fl_params");
      formats->bias = formats->weights;
      break;
    case QuantizationParameter::MINIFLOAT:
      // Ristretto's minifloat applies one format to everything the layer touches.
      formats->weights = formats->bias = MinifloatFormat(param, rounding, at);
      break;
    case QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS: {
      PowerOfTwo format;
      format.min_exponent = param.exp_min();
      format.max_exponent = param.exp_max();
      format.Validate(at + ": ", "exp_min", "exp_max");
      formats->weights = TensorFormat(format, rounding);
      // Ristretto keeps biases in float here.
      formats->bias = TensorFormat();
      break;
    }
    case QuantizationParameter::INTEGER_AFFINE: {
      if (!param.quantize_params()) break;  // float weights: bw_params is not read
      AffineScheme scheme = AffineSchemeOf(param);
      CONDENSE_CHECK(param.bw_params() >= 1 && param.bw_params() <= 32, at, ": bw_params = ",
                     static_cast<int32_t>(param.bw_params()), " is out of range");
      scheme.bits = static_cast<int>(param.bw_params());
      scheme.Validate(at + ": ", "bw_params");
      formats->weights = TensorFormat(AffineFromData{scheme, param.per_channel()}, rounding);
      formats->bias = TensorFormat();
      formats->per_channel = param.per_channel();
      break;
    }
    default:
      Fail(at, ": unknown params_precision ", static_cast<int>(precision));
  }
}

}  // namespace

QuantizationParameter::Precision WeightPrecision(const QuantizationParameter& param) {
  return param.has_params_precision() ? param.params_precision() : param.precision();
}

LayerFormats ReadLayerFormats(const QuantizationParameter& param, const std::string& where) {
  const std::string at = where + ": quantization_param";
  const Rounding rounding = RoundingOf(param);
  const QuantizationParameter::Precision weight_precision = WeightPrecision(param);
  LayerFormats formats;
  ReadActivationFormats(param.precision(), param, rounding, at, &formats);
  ReadParameterFormats(weight_precision, param, rounding, at, &formats);
  CONDENSE_CHECK(!param.per_channel() || weight_precision == QuantizationParameter::INTEGER_AFFINE,
                 at, ": per_channel applies to INTEGER_AFFINE weights only");
  if (param.has_bw_bias()) {
    formats.bias = FixedPoint(param.bw_bias(), param.fl_bias(), rounding, at, "bw_bias", "fl_bias");
  }
  if (!param.quantize_inputs()) formats.input = TensorFormat();
  if (!param.quantize_outputs()) formats.output = TensorFormat();
  if (!param.quantize_params()) formats.weights = formats.bias = TensorFormat();
  CONDENSE_CHECK(param.accumulator_bits() == 0 ||
                     (param.accumulator_bits() >= 2 && param.accumulator_bits() <= 64),
                 at, ": accumulator_bits = ", param.accumulator_bits(), " is out of range (2..64)");
  if (param.accumulator_bits() != 0) {
    // The integer path multiplies codes: only dynamic fixed point inputs and weights have them.
    CONDENSE_CHECK(param.precision() == QuantizationParameter::DYNAMIC_FIXED_POINT, at,
                   ": accumulator_bits needs precision DYNAMIC_FIXED_POINT (integer codes of inputs and "
                   "weights), not ", QuantizationParameter::Precision_Name(param.precision()));
    CONDENSE_CHECK(weight_precision == QuantizationParameter::DYNAMIC_FIXED_POINT, at,
                   ": accumulator_bits needs DYNAMIC_FIXED_POINT weights (integer codes), not "
                   "params_precision ", QuantizationParameter::Precision_Name(weight_precision));
    CONDENSE_CHECK(param.quantize_inputs(), at, ": accumulator_bits needs quantize_inputs: true ",
                   "(float inputs have no integer codes)");
    CONDENSE_CHECK(param.quantize_params(), at, ": accumulator_bits needs quantize_params: true ",
                   "(float weights have no integer codes)");
  }
  formats.accumulator_bits = static_cast<int>(param.accumulator_bits());
  formats.quantize_activations_in_train = param.quantize_activations_in_train();
  formats.clipped_gradient = param.clipped_gradient();
  return formats;
}

LayerQuantizer::LayerQuantizer(LayerFormats formats, Phase phase, uint64_t seed, std::string where)
    : formats_(std::move(formats)), phase_(phase), seed_(seed), where_(std::move(where)) {}

void LayerQuantizer::SetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top,
                           const std::vector<std::shared_ptr<Blob>>& all_parameters,
                           const QuantizableParts& parts) {
  // Blobs that are not weights (BatchNorm's running statistics) are left alone, as if absent.
  const std::vector<std::shared_ptr<Blob>> no_parameters;
  const std::vector<std::shared_ptr<Blob>>& parameters = parts.parameters ? all_parameters : no_parameters;
  const bool any_output = std::find(parts.outputs.begin(), parts.outputs.end(), true) != parts.outputs.end();
  // Inputs count where the layer computes something from them (ArgMax's scores; not Silence's).
  const bool any_input = !top.empty() &&
                         std::find(parts.inputs.begin(), parts.inputs.end(), true) != parts.inputs.end();
  CONDENSE_CHECK(any_output || any_input || !parameters.empty(), where_,
                 ": quantization_param on a layer with nothing to quantize (no activations in or out "
                 "that it computes with, no weights)");
  if (formats_.per_channel) {
    CONDENSE_CHECK(!parameters.empty() && parameters[0]->num_axes() >= 2, where_,
                   ": quantization_param: per_channel needs weights with an output-channel axis");
    // The per-channel kernels take channels along axis 0; Deconvolution and a transposed InnerProduct
    // keep them on axis 1, where a scale per row would belong to inputs, which no accumulator can apply.
    CONDENSE_CHECK(parts.weight_output_axis == 0, where_,
                   ": quantization_param: per_channel needs the output channels on the weights' first "
                   "axis; this layer keeps them on axis ", parts.weight_output_axis);
  }
  accumulator_.reset();
  if (formats_.accumulator_bits != 0) {
    // Refused rather than ignored elsewhere: a user who asks to see overflow must not get a float
    // result that silently never overflows.
    CONDENSE_CHECK(parts.integer_accumulator, where_,
                   ": quantization_param: accumulator_bits applies to Convolution and InnerProduct "
                   "layers only");
    const auto* input = std::get_if<DynamicFixedPoint>(&formats_.input.format());
    const auto* weights = std::get_if<DynamicFixedPoint>(&formats_.weights.format());
    const auto* bias = std::get_if<DynamicFixedPoint>(&formats_.bias.format());
    CONDENSE_CHECK(input && weights && (bias || parameters.size() < 2), where_,
                   ": quantization_param: accumulator_bits needs dynamic fixed point inputs, weights "
                   "and biases (inputs ", formats_.input.Describe(), ", weights ",
                   formats_.weights.Describe(), ", biases ", formats_.bias.Describe(), ")");
    accumulator_ = AccumulatorSpec{formats_.accumulator_bits, *input, *weights,
                                   bias ? *bias : *weights};
  }
  accumulator_stats_ = QuantizeStats();
  quantizable_inputs_ = parts.inputs;
  quantizable_outputs_ = parts.outputs;
  input_buffers_.clear();
  for (size_t i = 0; i < bottom.size(); ++i) input_buffers_.push_back(std::make_unique<Blob>());
  parameter_buffers_.clear();
  for (size_t i = 0; i < parameters.size(); ++i) parameter_buffers_.push_back(std::make_unique<Blob>());
  quantized_versions_.assign(parameters.size(), ~uint64_t{0});
  swapped_.assign(parameters.size(), false);
  output_clipped_.assign(top.size(), {});
  fused_output_saturated_.assign(top.size(), -1);
  input_saturated_.assign(bottom.size(), 0);
  parameter_saturated_.assign(parameters.size(), 0);
  input_stats_.assign(bottom.size(), QuantizeStats());
  output_stats_.assign(top.size(), QuantizeStats());
  parameter_stats_.assign(parameters.size(), QuantizeStats());
}

void LayerQuantizer::Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  inputs_.assign(bottom.begin(), bottom.end());
  if (formats_.input.is_float() || !QuantizesActivations()) return;
  for (size_t i = 0; i < bottom.size() && i < input_buffers_.size(); ++i) {
    if (!quantizable_inputs_[i]) continue;
    input_buffers_[i]->ReshapeLike(*bottom[i]);
    // The copy's gradient is the bottom's: the quantizer passes gradients straight through.
    input_buffers_[i]->ShareDiff(*bottom[i]);
    inputs_[i] = input_buffers_[i].get();
  }
}

bool LayerQuantizer::RecordsClipping() const {
  // Only a training pass is followed by a backward that needs to know where values saturated.
  return phase_ == TRAIN && formats_.clipped_gradient != QuantizationParameter::PASS;
}

bool LayerQuantizer::QuantizesActivations() const {
  return phase_ == TEST || formats_.quantize_activations_in_train;
}

uint64_t LayerQuantizer::SeedFor(TensorKind kind, size_t index) const {
  // A distinct stream per layer, pass and tensor, so that stochastic rounding draws afresh each time;
  // the kind sits in bits no index reaches, so input 16 and output 0 never share a stream.
  const uint64_t tensor = (static_cast<uint64_t>(kind) << 60) | (static_cast<uint64_t>(index) << 32);
  return seed_ ^ (pass_ * 0x9E3779B97F4A7C15ULL) ^ tensor;
}

const std::vector<Blob*>& LayerQuantizer::QuantizeInputs(const std::vector<Blob*>& bottom) {
  ++pass_;
  std::fill(fused_output_saturated_.begin(), fused_output_saturated_.end(), -1);
  for (size_t i = 0; i < bottom.size(); ++i) {
    if (inputs_[i] == bottom[i]) continue;
    const int64_t saturated =
        formats_.input.Apply(bottom[i]->data(), inputs_[i]->mutable_data(), bottom[i]->count(), 1,
                             SeedFor(TensorKind::kInput, i), collect_stats_ ? &input_stats_[i] : nullptr);
    input_saturated_[i] = saturated;
  }
  return inputs_;
}

const std::vector<Blob*>& LayerQuantizer::QuantizedInputs(const std::vector<Blob*>& bottom) {
  return inputs_;
}

const TensorFormat& LayerQuantizer::ParameterFormat(size_t index) const {
  // Blob 0 holds the weights; a second blob is the bias (Convolution, InnerProduct, Scale, PReLU...).
  return index == 0 ? formats_.weights : formats_.bias;
}

void LayerQuantizer::SwapInQuantizedParameters(std::vector<std::shared_ptr<Blob>>& parameters,
                                               bool refresh) {
  for (size_t i = 0; i < parameters.size() && i < parameter_buffers_.size(); ++i) {
    const TensorFormat& format = ParameterFormat(i);
    if (format.is_float()) continue;
    Blob& shadow = *parameters[i];
    Blob& quantized = *parameter_buffers_[i];
    if (quantized.shape() != shadow.shape()) quantized.ReshapeLike(shadow);
    // Nearest rounding of unchanged weights gives the same values: skip the work (a TEST net, or
    // the backward pass of an iteration).
    const bool stale = shadow.data_version() != quantized_versions_[i] ||
                       (refresh && format.rounding() == Rounding::kStochastic);
    if (stale) {
      const int64_t channels = shadow.num_axes() > 0 ? shadow.shape(0) : 1;
      const int64_t saturated =
          format.Apply(shadow.data(), quantized.mutable_data(), shadow.count(), channels,
                       SeedFor(TensorKind::kParameter, i), collect_stats_ ? &parameter_stats_[i] : nullptr);
      parameter_saturated_[i] = saturated;
      quantized_versions_[i] = shadow.data_version();
    }
    shadow.SwapData(quantized);
    swapped_[i] = true;
  }
}

void LayerQuantizer::RestoreParameters(std::vector<std::shared_ptr<Blob>>& parameters) {
  for (size_t i = 0; i < parameters.size() && i < swapped_.size(); ++i) {
    if (!swapped_[i]) continue;
    parameters[i]->SwapData(*parameter_buffers_[i]);
    swapped_[i] = false;
  }
}

const TensorFormat* LayerQuantizer::FusibleOutputFormat() const {
  const TensorFormat& format = formats_.output;
  if (format.is_float() || !QuantizesActivations() || collect_stats_) return nullptr;
  // A stochastic draw depends on the element's index in the whole tensor: kept to the one pass.
  if (format.rounding() != Rounding::kNearest || format.takes_range_from_data()) return nullptr;
  return &format;
}

void LayerQuantizer::OutputQuantized(int top_index, int64_t saturated) {
  fused_output_saturated_.at(top_index) = saturated;
}

void LayerQuantizer::QuantizeOutputs(const std::vector<Blob*>& top) {
  if (formats_.output.is_float() || !QuantizesActivations()) return;
  for (size_t i = 0; i < top.size(); ++i) {
    if (!quantizable_outputs_[i]) continue;
    float* values = top[i]->mutable_data();
    const bool fused = i < fused_output_saturated_.size() && fused_output_saturated_[i] >= 0;
    const int64_t saturated =
        fused ? fused_output_saturated_[i]
              : formats_.output.Apply(values, values, top[i]->count(), 1,
                                      SeedFor(TensorKind::kOutput, i),
                                      collect_stats_ ? &output_stats_[i] : nullptr);
    if (RecordsClipping()) RecordClipped(formats_.output, saturated, *top[i], &output_clipped_[i]);
  }
}

const AccumulatorSpec* LayerQuantizer::accumulator() const {
  return accumulator_ && QuantizesActivations() ? &*accumulator_ : nullptr;
}

QuantizeStats* LayerQuantizer::accumulator_stats() {
  return collect_stats_ && accumulator() ? &accumulator_stats_ : nullptr;
}

void LayerQuantizer::MaskClippedOutputGradients(const std::vector<Blob*>& top) {
  for (size_t i = 0; i < top.size(); ++i) MaskGradient(formats_.clipped_gradient, output_clipped_[i], top[i]);
}

void LayerQuantizer::MaskClippedGradients(const std::vector<Blob*>& bottom,
                                          const std::vector<bool>& propagate_down,
                                          std::vector<std::shared_ptr<Blob>>& parameters) {
  if (formats_.clipped_gradient == QuantizationParameter::PASS) return;
  // The quantized inputs and weights are still in the wrapper's buffers: where they saturated is read
  // from there, and only for tensors where something did.
  std::vector<int8_t> sides;
  for (size_t i = 0; i < bottom.size(); ++i) {
    if (!propagate_down[i] || inputs_[i] == bottom[i]) continue;
    RecordClipped(formats_.input, input_saturated_[i], *inputs_[i], &sides);
    MaskGradient(formats_.clipped_gradient, sides, bottom[i]);
  }
  for (size_t i = 0; i < parameters.size() && i < parameter_buffers_.size(); ++i) {
    if (ParameterFormat(i).is_float()) continue;
    RecordClipped(ParameterFormat(i), parameter_saturated_[i], *parameter_buffers_[i], &sides);
    MaskGradient(formats_.clipped_gradient, sides, parameters[i].get());
  }
}

std::vector<TensorQuantizationReport> LayerQuantizer::Reports() const {
  std::vector<TensorQuantizationReport> reports;
  for (size_t i = 0; i < input_stats_.size(); ++i) {
    if (input_stats_[i].count > 0) {
      reports.push_back({StrCat("input ", i), formats_.input.Describe(), input_stats_[i]});
    }
  }
  for (size_t i = 0; i < parameter_stats_.size(); ++i) {
    if (parameter_stats_[i].count > 0) {
      reports.push_back({i == 0 ? "weights" : (i == 1 ? "bias" : StrCat("param ", i)),
                         ParameterFormat(i).Describe(), parameter_stats_[i]});
    }
  }
  if (accumulator_ && accumulator_stats_.count > 0) {
    reports.push_back({"accumulator", accumulator_->Describe(), accumulator_stats_});
  }
  for (size_t i = 0; i < output_stats_.size(); ++i) {
    if (output_stats_[i].count > 0) {
      reports.push_back({StrCat("output ", i), formats_.output.Describe(), output_stats_[i]});
    }
  }
  return reports;
}

std::unique_ptr<LayerQuantization> MakeLayerQuantization(const LayerParameter& param,
                                                         const std::string& source) {
  if (!param.has_quantization_param()) return nullptr;
  const std::string where =
      StrCat(source.empty() ? "" : source + ": ", "layer '", param.name(), "'");
  LayerFormats formats = ReadLayerFormats(param.quantization_param(), where);
  return std::make_unique<LayerQuantizer>(std::move(formats), param.phase(), GlobalRandom()(), where);
}

}  // namespace condense
