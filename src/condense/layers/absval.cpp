// Absolute value. Its gradient needs the sign of the input, so unlike the other neurons it refuses
// to run in place, as Caffe does.
#include <cmath>

#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class AbsValLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "AbsVal"; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CONDENSE_CHECK(top[0] != bottom[0], Describe(), " cannot run in place (top == bottom)");
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const int64_t count = bottom[0]->count();
    for (int64_t i = 0; i < count; ++i) y[i] = std::fabs(x[i]);
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float* x = bottom[0]->data();
    const float* dy = top[0]->diff();
    float* dx = bottom[0]->mutable_diff();
    const int64_t count = bottom[0]->count();
    // The gradient at 0 is 0, as Caffe's sign function gives.
    for (int64_t i = 0; i < count; ++i) {
      const float sign = static_cast<float>((x[i] > 0.0f) - (x[i] < 0.0f));
      dx[i] = sign * dy[i];
    }
  }
};

CONDENSE_REGISTER_LAYER("AbsVal", AbsValLayer);

}  // namespace condense
