// LayerQuantizer: the one mechanism by which a quantization_param acts on any layer. It reads the
// parameter into four tensor formats (inputs, outputs, weights, biases) with Ristretto's meaning of
// every field, quantizes the inputs into its own buffers (never in place on a blob another layer reads),
// swaps quantized copies in for the float shadow weights around each pass, and quantizes the outputs in
// place. Gradients pass straight through — where a value saturated, by default only in the direction
// that brings it back into range — and land on the float weights, which the solver updates. With
// accumulator_bits it also hands a Convolution or InnerProduct the integer accumulator to simulate
// (integer_accumulator.hpp), and reports how many of its sums overflowed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "condense/proto/condense.pb.h"
#include "condense/quant/layer_quantization.hpp"
#include "condense/quant/tensor_format.hpp"

namespace condense {

// What a quantization_param asks of one layer.
struct LayerFormats {
  TensorFormat input;
  TensorFormat output;
  TensorFormat weights;
  TensorFormat bias;
  bool quantize_activations_in_train = true;
  QuantizationParameter::ClippedGradient clipped_gradient = QuantizationParameter::INWARD;
  int accumulator_bits = 0;  // 0: float accumulation (the integer path needs dynamic fixed point)
  bool per_channel = false;
};

// The precision of a layer's weights: params_precision where set, else the layer's precision.
QuantizationParameter::Precision WeightPrecision(const QuantizationParameter& param);

// Reads and checks a layer's quantization_param. `where` prefixes errors ("net.prototxt: layer 'conv1'").
LayerFormats ReadLayerFormats(const QuantizationParameter& param, const std::string& where);

class LayerQuantizer : public LayerQuantization {
 public:
  LayerQuantizer(LayerFormats formats, Phase phase, uint64_t seed, std::string where);

  const LayerFormats& formats() const { return formats_; }

  void SetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top,
             const std::vector<std::shared_ptr<Blob>>& parameters,
             const QuantizableParts& parts) override;
  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;
  const std::vector<Blob*>& QuantizeInputs(const std::vector<Blob*>& bottom) override;
  const std::vector<Blob*>& QuantizedInputs(const std::vector<Blob*>& bottom) override;
  void SwapInQuantizedParameters(std::vector<std::shared_ptr<Blob>>& parameters, bool refresh) override;
  void RestoreParameters(std::vector<std::shared_ptr<Blob>>& parameters) override;
  void QuantizeOutputs(const std::vector<Blob*>& top) override;
  const TensorFormat* FusibleOutputFormat() const override;
  void OutputQuantized(int top_index, int64_t saturated) override;
  const AccumulatorSpec* accumulator() const override;
  QuantizeStats* accumulator_stats() override;
  void MaskClippedOutputGradients(const std::vector<Blob*>& top) override;
  void MaskClippedGradients(const std::vector<Blob*>& bottom, const std::vector<bool>& propagate_down,
                            std::vector<std::shared_ptr<Blob>>& parameters) override;
  void set_collect_stats(bool collect) override { collect_stats_ = collect; }
  std::vector<TensorQuantizationReport> Reports() const override;

 private:
  bool QuantizesActivations() const;
  bool RecordsClipping() const;
  enum class TensorKind { kInput = 1, kOutput = 2, kParameter = 3 };
  uint64_t SeedFor(TensorKind kind, size_t index) const;
  const TensorFormat& ParameterFormat(size_t index) const;

  LayerFormats formats_;
  Phase phase_;
  uint64_t seed_;
  std::string where_;
  uint64_t pass_ = 0;
  bool collect_stats_ = false;

  std::vector<bool> quantizable_inputs_;
  std::vector<bool> quantizable_outputs_;
  std::vector<std::unique_ptr<Blob>> input_buffers_;  // one per quantized bottom
  std::vector<Blob*> inputs_;                         // what the layer reads
  std::vector<std::unique_ptr<Blob>> parameter_buffers_;
  std::vector<uint64_t> quantized_versions_;          // data_version of the float values last quantized
  std::vector<bool> swapped_;

  // Per output, the side (+1 top, -1 bottom, 0 inside) each value was clipped to in the last training
  // forward, kept because a later in-place layer may overwrite the values; empty when nothing
  // saturated, the common case, which costs nothing. Inputs and weights keep their quantized values in
  // the wrapper's buffers, so their counts suffice.
  std::vector<std::vector<int8_t>> output_clipped_;
  std::vector<int64_t> input_saturated_;
  // Per output, the saturated count the layer reported after quantizing it itself in this forward
  // (FusibleOutputFormat), or -1 when QuantizeOutputs must do it.
  std::vector<int64_t> fused_output_saturated_;
  std::vector<int64_t> parameter_saturated_;

  std::vector<QuantizeStats> input_stats_;
  std::vector<QuantizeStats> output_stats_;
  std::vector<QuantizeStats> parameter_stats_;

  std::optional<AccumulatorSpec> accumulator_;  // set up from formats_ when accumulator_bits is set
  QuantizeStats accumulator_stats_;
};

// The wrapper for a layer whose definition carries a quantization_param (null when it has none).
// `source` names the prototxt for error messages.
std::unique_ptr<LayerQuantization> MakeLayerQuantization(const LayerParameter& param,
                                                         const std::string& source);

}  // namespace condense
