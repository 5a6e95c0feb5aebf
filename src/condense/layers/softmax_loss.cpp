// SoftmaxWithLoss: softmax over softmax_param.axis followed by the multinomial logistic loss of the
// integer labels, -log p[label], summed and normalised by loss_param (default VALID). Positions
// whose label is loss_param.ignore_label add nothing. An optional second top returns the
// probabilities. The softmax is a Softmax layer of its own, as in Caffe, so the two always agree.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <memory>

#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"
#include "loss_layer.hpp"

namespace condense {

class SoftmaxWithLossLayer : public LossLayer {
 public:
  using LossLayer::LossLayer;
  const char* type() const override { return "SoftmaxWithLoss"; }
  int ExactNumTopBlobs() const override { return -1; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    LayerParameter softmax_param = layer_param_;
    softmax_param.set_type("Softmax");
    // The inner layer is plumbing: it carries no loss and no word widths of its own.
    softmax_param.clear_loss_weight();
    softmax_param.clear_quantization_param();
    softmax_ = LayerRegistry::Create(softmax_param);
    softmax_bottom_ = {bottom[0]};
    softmax_top_ = {&probability_};
    softmax_->SetUp(softmax_bottom_, softmax_top_);
    ReadLossParameter(LossParameter::VALID);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    LossLayer::Reshape(bottom, top);
    softmax_bottom_[0] = bottom[0];
    softmax_->Reshape(softmax_bottom_, softmax_top_);
    axis_ = bottom[0]->CanonicalAxisIndex(layer_param_.softmax_param().axis());
    outer_ = bottom[0]->count(0, axis_);
    inner_ = bottom[0]->count(axis_ + 1);
    CONDENSE_CHECK(outer_ * inner_ == bottom[1]->count(), Describe(), ": ", bottom[1]->count(),
                   " labels for predictions ", bottom[0]->shape_string(), "; with softmax axis ",
                   axis_, " there must be one label per position outside that axis (",
                   outer_ * inner_, ")");
    if (top.size() >= 2) top[1]->ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    softmax_bottom_[0] = bottom[0];
    softmax_->Forward(softmax_bottom_, softmax_top_);
    const float* probability = probability_.data();
    const float* label = bottom[1]->data();
    const int64_t channels = bottom[0]->shape(axis_);
    const int64_t dim = channels * inner_;
    int64_t valid_count = 0;
    float loss = 0.0f;
    for (int64_t i = 0; i < outer_; ++i) {
      for (int64_t j = 0; j < inner_; ++j) {
        if (Ignored(label[i * inner_ + j])) continue;
        const int label_value = static_cast<int>(label[i * inner_ + j]);
        CONDENSE_CHECK(label_value >= 0 && label_value < channels, Describe(), ": label ",
                       label_value, " is outside [0, ", channels, ")");
        loss -= std::log(std::max(probability[i * dim + label_value * inner_ + j], FLT_MIN));
        ++valid_count;
      }
    }
    normalizer_ = Normalizer(outer_, inner_, valid_count);
    top[0]->mutable_data()[0] = loss / normalizer_;
    if (top.size() == 2) top[1]->ShareData(probability_);
  }

  // d loss / d x = p - onehot(label), zero at ignored positions, scaled by the top's gradient.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    CONDENSE_CHECK(!propagate_down[1], Describe(), " cannot compute a gradient for its labels");
    if (!propagate_down[0]) return;
    float* dx = bottom[0]->mutable_diff();
    Copy(probability_.count(), probability_.data(), dx);
    const float* label = bottom[1]->data();
    const int64_t channels = bottom[0]->shape(axis_);
    const int64_t dim = channels * inner_;
    for (int64_t i = 0; i < outer_; ++i) {
      for (int64_t j = 0; j < inner_; ++j) {
        if (Ignored(label[i * inner_ + j])) {
          for (int64_t c = 0; c < channels; ++c) dx[i * dim + c * inner_ + j] = 0.0f;
        } else {
          dx[i * dim + static_cast<int>(label[i * inner_ + j]) * inner_ + j] -= 1.0f;
        }
      }
    }
    const float weight = top[0]->diff()[0] / normalizer_;
    Scale(bottom[0]->count(), weight, dx);
  }

 private:
  std::unique_ptr<Layer> softmax_;
  Blob probability_;
  std::vector<Blob*> softmax_bottom_;
  std::vector<Blob*> softmax_top_;
  int axis_ = 1;
  int64_t outer_ = 0;
  int64_t inner_ = 0;
  float normalizer_ = 1.0f;  // from the last Forward
};

CONDENSE_REGISTER_LAYER("SoftmaxWithLoss", SoftmaxWithLossLayer);

}  // namespace condense
