// ReLU with Caffe's optional leaky slope: y = max(x, 0) + negative_slope * min(x, 0).
#include <algorithm>

#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class ReLULayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "ReLU"; }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float slope = layer_param_.relu_param().negative_slope();
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) y[i] = std::max(x[i], 0.0f) + slope * std::min(x[i], 0.0f);
  }

  // Reads the bottom's values, which in place are already the outputs: their sign is the same
  // whenever the slope is positive, and for slope 0 the gradient at x <= 0 is 0 either way.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float slope = layer_param_.relu_param().negative_slope();
    const float* x = bottom[0]->data();
    const float* dy = top[0]->diff();
    float* dx = bottom[0]->mutable_diff();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
  }
};

CONDENSE_REGISTER_LAYER("ReLU", ReLULayer);

}  // namespace condense
