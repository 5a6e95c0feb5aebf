// The hook through which a layer's quantization_param acts on it. Layer::Forward asks it for the inputs
// to compute on (quantized copies in the wrapper's own buffers, whose gradients are shared with the real
// bottoms: a straight-through estimator), swaps quantized copies of the parameters in for the float
// shadow weights around the computation, and quantizes the outputs in place afterwards. Any layer type can
// carry one; the number formats themselves live beside this file. A Convolution or InnerProduct may
// also be asked to run its multiply-accumulate on integer codes (integer_accumulator.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/quant/integer_accumulator.hpp"
#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/tensor_format.hpp"

namespace condense {

// What one quantized tensor of a layer did over the passes since statistics were switched on.
struct TensorQuantizationReport {
  std::string tensor;  // "input 0", "output 0", "weights", "bias", "accumulator"
  std::string format;  // e.g. "fixed<8,6>"
  QuantizeStats stats;
};

// What of a layer a quantization_param may act on, as the layer declares it: values, not labels,
// indices or running statistics.
struct QuantizableParts {
  std::vector<bool> inputs;   // per bottom: carries activations (labels and indices stay exact)
  std::vector<bool> outputs;  // per top: carries activations (a pooling mask or an argmax does not)
  bool parameters = true;     // the blobs are weights the solver updates (not BatchNorm's statistics)
  int weight_output_axis = 0;  // the weights' axis of output channels, for per_channel
  bool integer_accumulator = false;  // the layer can take the path accumulator() asks for
};

class LayerQuantization {
 public:
  virtual ~LayerQuantization() = default;
  // Called once after the layer's LayerSetUp, when its parameter blobs exist.
  virtual void SetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top,
                     const std::vector<std::shared_ptr<Blob>>& parameters,
                     const QuantizableParts& parts) = 0;
  // Called after the layer's Reshape, whenever shapes may have changed.
  virtual void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) = 0;
  // Forward: the bottoms the layer should read, quantized now into the wrapper's own buffers (or the
  // bottoms themselves where inputs stay float). Their gradients are the bottoms' gradients.
  virtual const std::vector<Blob*>& QuantizeInputs(const std::vector<Blob*>& bottom) = 0;
  // Backward: the very values the last forward computed on, not quantized again (stochastic rounding
  // must see one draw per iteration).
  virtual const std::vector<Blob*>& QuantizedInputs(const std::vector<Blob*>& bottom) = 0;
  // Puts quantized values in place of the float shadow weights for one pass; `refresh` quantizes them
  // anew (forward), otherwise the last forward's values come back (backward). RestoreParameters puts
  // the float values back; gradients always stay with the float blobs.
  virtual void SwapInQuantizedParameters(std::vector<std::shared_ptr<Blob>>& parameters,
                                         bool refresh) = 0;
  virtual void RestoreParameters(std::vector<std::shared_ptr<Blob>>& parameters) = 0;
  virtual void QuantizeOutputs(const std::vector<Blob*>& top) = 0;
  // The output format a layer may apply itself in the last pass it makes over its outputs anyway (the
  // bias add), while they are still in cache, sparing QuantizeOutputs a pass of its own over memory;
  // null where this pass cannot take it (float outputs, stochastic rounding, a range taken from the
  // whole tensor, statistics on). A layer that applies it reports, during its forward, the number of
  // values that saturated in each top with OutputQuantized; QuantizeOutputs then leaves that top be.
  virtual const TensorFormat* FusibleOutputFormat() const = 0;
  virtual void OutputQuantized(int top_index, int64_t saturated) = 0;
  // The accumulator the layer's forward should simulate on the integer codes of its quantized inputs
  // and weights, or null for the float path: no accumulator_bits, or a pass whose activations stay
  // float (TRAIN with quantize_activations_in_train false), which has no codes. The backward stays the
  // float straight-through path either way.
  virtual const AccumulatorSpec* accumulator() const = 0;
  // Where the integer path adds what its sums did (AccumulateSaturating's stats); null while
  // statistics are off.
  virtual QuantizeStats* accumulator_stats() = 0;
  // Where the quantization_param asks for it (a variant of the straight-through estimator), zero the
  // gradients of values that lay outside the format's range: of the outputs before the layer's
  // backward, of the inputs and parameters after it.
  virtual void MaskClippedOutputGradients(const std::vector<Blob*>& top) = 0;
  virtual void MaskClippedGradients(const std::vector<Blob*>& bottom,
                                    const std::vector<bool>& propagate_down,
                                    std::vector<std::shared_ptr<Blob>>& parameters) = 0;

  // Statistics of saturation and quantization noise, gathered while switched on (they cost a pass).
  virtual void set_collect_stats(bool collect) = 0;
  virtual std::vector<TensorQuantizationReport> Reports() const = 0;
};

}  // namespace condense
