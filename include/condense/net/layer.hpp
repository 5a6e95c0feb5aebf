// Layer: the interface every layer implements, as in Caffe: set-up once, reshape when inputs change
// shape, forward, backward. The public Forward/Backward are not virtual: they are where condense wraps
// any layer with the word widths of its quantization_param (inputs into the layer's own buffers,
// parameters as quantized copies of the float shadow weights, outputs in place), so no layer type needs
// a quantized subclass. Layers implement ForwardCpu/BackwardCpu on plain float blobs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {

class LayerQuantization;  // the quantization_param wrapper (part quant), null when a layer has none

class Layer {
 public:
  explicit Layer(const LayerParameter& param);
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Checks the blob counts, then LayerSetUp, Reshape and the loss weights. Called once by the Net.
  void SetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top);
  // Reads the layer's parameter message and creates its parameter blobs (filled by its fillers).
  virtual void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {}
  // Shapes the tops (and internal buffers) from the bottoms' shapes.
  virtual void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) = 0;

  // Reshape plus the quantization wrapper's buffers; Forward calls it first, as Caffe does, so that a
  // batch of a new shape flows through without a separate pass.
  void ReshapeAll(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top);
  // Computes the tops and returns the weighted loss of the loss tops (0 for other layers).
  float Forward(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top);
  // Computes bottom diffs where propagate_down says so, and accumulates parameter diffs.
  void Backward(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                const std::vector<Blob*>& bottom);

  virtual const char* type() const = 0;
  virtual int ExactNumBottomBlobs() const { return -1; }
  virtual int MinBottomBlobs() const { return -1; }
  virtual int MaxBottomBlobs() const { return -1; }
  virtual int ExactNumTopBlobs() const { return -1; }
  virtual int MinTopBlobs() const { return -1; }
  virtual int MaxTopBlobs() const { return -1; }
  virtual bool EqualNumBottomTopBlobs() const { return false; }
  // Whether the Net should create anonymous tops up to the minimum count (e.g. a loss with no top).
  virtual bool AutoTopBlobs() const { return false; }
  // Whether force_backward may ask for a gradient w.r.t. this bottom (false for labels).
  virtual bool AllowForceBackward(int bottom_index) const { return true; }
  // Whether ForwardCpu computes on integer codes when quantization()->accumulator() asks it to
  // (Convolution, InnerProduct); the wrapper refuses accumulator_bits on any other layer.
  virtual bool SupportsIntegerAccumulator() const { return false; }
  // What a quantization_param may quantize: bottoms and tops that carry activations (not labels,
  // indices or masks), and the parameter blobs if they are weights (not running statistics).
  virtual bool QuantizableInput(int bottom_index) const { return AllowForceBackward(bottom_index); }
  virtual bool QuantizableOutput(int top_index) const { return true; }
  virtual bool QuantizableParameters() const { return true; }
  // The axis of the weights (blob 0) that runs over output channels, where per-channel scales go.
  virtual int WeightOutputAxis() const { return 0; }
  // Loss weight of a top when the prototxt sets none: 1 for a loss layer's first top, else 0.
  virtual float DefaultLossWeight(int top_index) const { return 0.0f; }

  const LayerParameter& layer_param() const { return layer_param_; }
  const std::string& name() const { return layer_param_.name(); }
  Phase phase() const { return phase_; }
  std::vector<std::shared_ptr<Blob>>& blobs() { return blobs_; }
  const std::vector<std::shared_ptr<Blob>>& blobs() const { return blobs_; }
  float loss(int top_index) const {
    return top_index < static_cast<int>(loss_.size()) ? loss_[top_index] : 0.0f;
  }
  void set_loss(int top_index, float value);
  bool param_propagate_down(int param_index) const {
    return param_index < static_cast<int>(param_propagate_down_.size()) &&
           param_propagate_down_[param_index];
  }
  void set_param_propagate_down(int param_index, bool value);

  // Attaches the quantization wrapper (done by the Net for layers with a quantization_param).
  void set_quantization(std::unique_ptr<LayerQuantization> quantization);
  LayerQuantization* quantization() const { return quantization_.get(); }

 protected:
  virtual void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) = 0;
  // Layers without a gradient keep the default, which refuses a request for one.
  virtual void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                           const std::vector<Blob*>& bottom);

  // "layer 'conv1' (Convolution)": the prefix of this layer's error messages.
  std::string Describe() const;

  LayerParameter layer_param_;
  Phase phase_;
  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<bool> param_propagate_down_;
  std::vector<float> loss_;

 private:
  void CheckBlobCounts(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) const;
  void SetLossWeights(const std::vector<Blob*>& top);
  void CheckNoOutputSharesAnInput(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) const;

  std::unique_ptr<LayerQuantization> quantization_;
};

}  // namespace condense
