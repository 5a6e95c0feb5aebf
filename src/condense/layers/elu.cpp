// ELU: y = x for x > 0, alpha * (exp(x) - 1) otherwise.
#include <algorithm>
#include <cmath>

#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class ELULayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "ELU"; }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float alpha = layer_param_.elu_param().alpha();
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) {
      y[i] = std::max(x[i], 0.0f) + alpha * (std::exp(std::min(x[i], 0.0f)) - 1.0f);
    }
  }

  // For x <= 0 the slope alpha * exp(x) equals y + alpha, so the outputs suffice there; the sign
  // test reads the bottom, which in place holds y, whose sign matches x's for a positive alpha.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float alpha = layer_param_.elu_param().alpha();
    const float* x = bottom[0]->data();
    const float* y = top[0]->data();
    const float* dy = top[0]->diff();
    float* dx = bottom[0]->mutable_diff();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * (y[i] + alpha);
  }
};

CONDENSE_REGISTER_LAYER("ELU", ELULayer);

}  // namespace condense
