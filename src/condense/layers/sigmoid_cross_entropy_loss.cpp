// SigmoidCrossEntropyLoss: the cross entropy of sigmoid(x) against targets in [0, 1], computed from
// x in the overflow-free form Caffe uses. Targets equal to loss_param.ignore_label are skipped; the
// sum is normalised by loss_param (default BATCH_SIZE, Caffe's default for this layer).
#include <cmath>

#include "condense/net/layer_registry.hpp"
#include "loss_layer.hpp"

namespace condense {

class SigmoidCrossEntropyLossLayer : public LossLayer {
 public:
  using LossLayer::LossLayer;
  const char* type() const override { return "SigmoidCrossEntropyLoss"; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    ReadLossParameter(LossParameter::BATCH_SIZE);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    LossLayer::Reshape(bottom, top);
    CONDENSE_CHECK(bottom[0]->count() == bottom[1]->count(), Describe(), ": the predictions ",
                   bottom[0]->shape_string(), " and the targets ", bottom[1]->shape_string(),
                   " must have the same count");
    outer_ = bottom[0]->shape(0);
    inner_ = bottom[0]->count(1);
    probability_.ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t count = bottom[0]->count();
    const float* x = bottom[0]->data();
    const float* target = bottom[1]->data();
    float* probability = probability_.mutable_data();
    for (int64_t i = 0; i < count; ++i) probability[i] = 0.5f * std::tanh(0.5f * x[i]) + 0.5f;
    int64_t valid_count = 0;
    float loss = 0.0f;
    for (int64_t i = 0; i < count; ++i) {
      if (Ignored(target[i])) continue;
      // -[t log p + (1 - t) log(1 - p)] = max(x, 0) - x t + log(1 + exp(-|x|))
      const float positive = x[i] >= 0.0f ? 1.0f : 0.0f;
      loss -=
          x[i] * (target[i] - positive) - std::log(1.0f + std::exp(x[i] - 2.0f * x[i] * positive));
      ++valid_count;
    }
    normalizer_ = Normalizer(outer_, inner_, valid_count);
    top[0]->mutable_data()[0] = loss / normalizer_;
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    CONDENSE_CHECK(!propagate_down[1], Describe(), " cannot compute a gradient for its targets");
    if (!propagate_down[0]) return;
    const int64_t count = bottom[0]->count();
    const float* target = bottom[1]->data();
    const float* probability = probability_.data();
    float* dx = bottom[0]->mutable_diff();
    const float weight = top[0]->diff()[0] / normalizer_;
    for (int64_t i = 0; i < count; ++i) {
      dx[i] = Ignored(target[i]) ? 0.0f : weight * (probability[i] - target[i]);
    }
  }

 private:
  int64_t outer_ = 0;
  int64_t inner_ = 0;
  float normalizer_ = 1.0f;
  Blob probability_;
};

CONDENSE_REGISTER_LAYER("SigmoidCrossEntropyLoss", SigmoidCrossEntropyLossLayer);

}  // namespace condense
