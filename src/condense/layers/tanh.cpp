// Hyperbolic tangent.
#include <cmath>

#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class TanHLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "TanH"; }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
  }

  // Uses only the outputs, so it works in place.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float* y = top[0]->data();
    const float* dy = top[0]->diff();
    float* dx = bottom[0]->mutable_diff();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
  }
};

CONDENSE_REGISTER_LAYER("TanH", TanHLayer);

}  // namespace condense
