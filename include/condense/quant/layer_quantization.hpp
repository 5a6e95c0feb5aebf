// The hook through which a layer's quantization_param acts on it. Layer::Forward asks it for the inputs
// to compute on (quantized copies in the wrapper's own buffers, whose gradients are shared with the real
// bottoms: a straight-through estimator), swaps quantized copies of the parameters in for the float
// shadow weights around the computation, and quantizes the outputs in place afterwards. Any layer type can
// carry one; the number formats themselves live beside this file.
#pragma once

#include <memory>
#include <vector>

#include "condense/core/blob.hpp"

namespace condense {

class LayerQuantization {
 public:
  virtual ~LayerQuantization() = default;
  // Called after the layer's Reshape, whenever shapes may have changed.
  virtual void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) = 0;
  // The bottoms the layer should read: quantized copies, or the bottoms themselves when inputs stay float.
  virtual const std::vector<Blob*>& QuantizeInputs(const std::vector<Blob*>& bottom) = 0;
  // Replaces the parameter blobs' values by quantized ones for one forward/backward, keeping the float
  // values aside; RestoreParameters puts the float shadow values back (the gradients stay).
  virtual void QuantizeParameters(std::vector<std::shared_ptr<Blob>>& parameters) = 0;
  virtual void RestoreParameters(std::vector<std::shared_ptr<Blob>>& parameters) = 0;
  virtual void QuantizeOutputs(const std::vector<Blob*>& top) = 0;
};

}  // namespace condense
