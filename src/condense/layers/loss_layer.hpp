// LossLayer: the shared base of the loss layers (SoftmaxWithLoss, EuclideanLoss,
// SigmoidCrossEntropyLoss). As in Caffe, a loss takes predictions and targets whose first axes
// agree, gives a scalar top that weighs 1 in the net's loss unless the prototxt says otherwise,
// gets a top made for it when the prototxt names none, and never sends a gradient to its targets.
// The loss_param normalisation rule that two of them share lives here too.
#pragma once

#include <algorithm>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/net/layer.hpp"

namespace condense {

class LossLayer : public Layer {
 public:
  using Layer::Layer;

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CONDENSE_CHECK(bottom[0]->num_axes() > 0 && bottom[1]->num_axes() > 0 &&
                       bottom[0]->shape(0) == bottom[1]->shape(0),
                   Describe(), ": the predictions ", bottom[0]->shape_string(), " and the targets ",
                   bottom[1]->shape_string(), " must have the same first dimension");
    top[0]->Reshape(std::vector<int64_t>{});
  }
  int ExactNumBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  bool AutoTopBlobs() const override { return true; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index != 1; }
  float DefaultLossWeight(int top_index) const override { return top_index == 0 ? 1.0f : 0.0f; }

 protected:
  // Reads loss_param: ignore_label, and the normalisation mode from `normalization` when set, else
  // from the deprecated `normalize` (true: VALID, false: BATCH_SIZE), else the layer's `fallback`.
  void ReadLossParameter(LossParameter::NormalizationMode fallback) {
    const LossParameter& param = layer_param_.loss_param();
    has_ignore_label_ = param.has_ignore_label();
    ignore_label_ = param.ignore_label();
    if (param.has_normalization()) {
      normalization_ = param.normalization();
    } else if (param.has_normalize()) {
      normalization_ = param.normalize() ? LossParameter::VALID : LossParameter::BATCH_SIZE;
    } else {
      normalization_ = fallback;
    }
  }

  bool Ignored(float label) const {
    return has_ignore_label_ && static_cast<int>(label) == ignore_label_;
  }

  // What the summed loss is divided by; never below 1, so a batch whose labels are all ignored
  // gives a zero loss rather than NaN.
  float Normalizer(int64_t outer, int64_t inner, int64_t valid_count) const {
    float normalizer = 1.0f;
    switch (normalization_) {
      case LossParameter::FULL:
        normalizer = static_cast<float>(outer * inner);
        break;
      case LossParameter::VALID:
        normalizer = static_cast<float>(valid_count);
        break;
      case LossParameter::BATCH_SIZE:
        normalizer = static_cast<float>(outer);
        break;
      case LossParameter::NONE:
        normalizer = 1.0f;
        break;
    }
    return std::max(1.0f, normalizer);
  }

  bool has_ignore_label_ = false;
  int ignore_label_ = 0;
  LossParameter::NormalizationMode normalization_ = LossParameter::VALID;
};

}  // namespace condense
