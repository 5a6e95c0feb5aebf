// Dropout as in Caffe: in TRAIN each value is kept with probability 1 - dropout_ratio and scaled by
// 1 / (1 - dropout_ratio), so TEST is the identity. The mask comes from the global generator, so a
// seeded run draws the same masks.
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/core/random.hpp"
#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class DropoutLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "Dropout"; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    ratio_ = layer_param_.dropout_param().dropout_ratio();
    // A ratio of 1 would scale the (all-zero) outputs by infinity.
    CONDENSE_CHECK(ratio_ >= 0.0f && ratio_ < 1.0f, Describe(),
                   ": dropout_param.dropout_ratio must be in [0, 1), not ", ratio_);
    scale_ = 1.0f / (1.0f - ratio_);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t count = bottom[0]->count();
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    if (phase_ != TRAIN) {
      Copy(count, x, y);
      return;
    }
    mask_.resize(count);
    FillBernoulli(count, 1.0f - ratio_, mask_.data());
    const uint32_t* mask = mask_.data();
    for (int64_t i = 0; i < count; ++i) y[i] = x[i] * static_cast<float>(mask[i]) * scale_;
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const int64_t count = bottom[0]->count();
    const float* dy = top[0]->diff();
    float* dx = bottom[0]->mutable_diff();
    if (phase_ != TRAIN) {
      Copy(count, dy, dx);
      return;
    }
    const uint32_t* mask = mask_.data();
    for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * static_cast<float>(mask[i]) * scale_;
  }

 private:
  float ratio_ = 0.5f;
  float scale_ = 2.0f;
  std::vector<uint32_t> mask_;
};

CONDENSE_REGISTER_LAYER("Dropout", DropoutLayer);

}  // namespace condense
