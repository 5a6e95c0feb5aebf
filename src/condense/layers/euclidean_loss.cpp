// EuclideanLoss: sum of (a - b)^2 over the batch, divided by 2 * batch size. Unlike the other
// losses both bottoms may receive a gradient.
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"
#include "loss_layer.hpp"

namespace condense {

class EuclideanLossLayer : public LossLayer {
 public:
  using LossLayer::LossLayer;
  const char* type() const override { return "EuclideanLoss"; }
  bool AllowForceBackward(int bottom_index) const override { return true; }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    LossLayer::Reshape(bottom, top);
    CONDENSE_CHECK(bottom[0]->count(1) == bottom[1]->count(1), Describe(), ": bottoms ",
                   bottom[0]->shape_string(), " and ", bottom[1]->shape_string(),
                   " must have the same size per item");
    difference_.ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t count = bottom[0]->count();
    Sub(count, bottom[0]->data(), bottom[1]->data(), difference_.mutable_data());
    const float sum_of_squares = Dot(count, difference_.data(), difference_.data());
    top[0]->mutable_data()[0] = sum_of_squares / static_cast<float>(bottom[0]->shape(0)) / 2.0f;
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    for (int i = 0; i < 2; ++i) {
      if (!propagate_down[i]) continue;
      const float sign = i == 0 ? 1.0f : -1.0f;
      const float alpha = sign * top[0]->diff()[0] / static_cast<float>(bottom[i]->shape(0));
      Scale(bottom[i]->count(), alpha, difference_.data(), bottom[i]->mutable_diff());
    }
  }

 private:
  Blob difference_;
};

CONDENSE_REGISTER_LAYER("EuclideanLoss", EuclideanLossLayer);

}  // namespace condense
