// Power: y = (shift + scale * x) ^ power.
#include <cmath>

#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class PowerLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "Power"; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const PowerParameter& param = layer_param_.power_param();
    power_ = param.power();
    scale_ = param.scale();
    shift_ = param.shift();
    diff_scale_ = power_ * scale_;
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t count = bottom[0]->count();
    float* y = top[0]->mutable_data();
    if (diff_scale_ == 0.0f) {
      // The output does not depend on x: 1 for power 0 (even 0^0), shift^power for scale 0.
      Set(count, power_ == 0.0f ? 1.0f : std::pow(shift_, power_), y);
      return;
    }
    const float* x = bottom[0]->data();
    for (int64_t i = 0; i < count; ++i) y[i] = shift_ + scale_ * x[i];
    if (power_ == 2.0f) {
      for (int64_t i = 0; i < count; ++i) y[i] *= y[i];
    } else if (power_ != 1.0f) {
      for (int64_t i = 0; i < count; ++i) y[i] = std::pow(y[i], power_);
    }
  }

  // dy/dx = power * scale * (shift + scale * x)^(power - 1), taken from x directly rather than as
  // Caffe's y / (shift + scale * x), which divides 0 by 0 where the base is 0.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const int64_t count = bottom[0]->count();
    float* dx = bottom[0]->mutable_diff();
    if (diff_scale_ == 0.0f) {
      Set(count, 0.0f, dx);
      return;
    }
    const float* dy = top[0]->diff();
    if (power_ == 1.0f) {
      Scale(count, diff_scale_, dy, dx);
      return;
    }
    const float* x = bottom[0]->data();
    if (power_ == 2.0f) {
      for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * diff_scale_ * (shift_ + scale_ * x[i]);
      return;
    }
    const float exponent = power_ - 1.0f;
    for (int64_t i = 0; i < count; ++i) {
      dx[i] = dy[i] * diff_scale_ * std::pow(shift_ + scale_ * x[i], exponent);
    }
  }

 private:
  float power_ = 1.0f;
  float scale_ = 1.0f;
  float shift_ = 0.0f;
  float diff_scale_ = 1.0f;
};

CONDENSE_REGISTER_LAYER("Power", PowerLayer);

}  // namespace condense
