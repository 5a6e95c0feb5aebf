#include "condense/layers/accuracy.hpp"

#include <cmath>

#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"
#include "condense/net/net.hpp"

namespace condense {

void AccuracyLayer::LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  const AccuracyParameter& param = layer_param_.accuracy_param();
  top_k_ = param.top_k();
  CONDENSE_CHECK(top_k_ >= 1, Describe(), ": accuracy_param.top_k (", top_k_, ") must be at least 1");
  has_ignore_label_ = param.has_ignore_label();
  ignore_label_ = param.ignore_label();
}

void AccuracyLayer::Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  axis_ = bottom[0]->CanonicalAxisIndex(layer_param_.accuracy_param().axis());
  classes_ = bottom[0]->shape(axis_);
  CONDENSE_CHECK(top_k_ <= classes_, Describe(), ": accuracy_param.top_k (", top_k_,
                 ") must not exceed the number of classes (", classes_, ")");
  outer_ = bottom[0]->count(0, axis_);
  inner_ = bottom[0]->count(axis_ + 1);
  CONDENSE_CHECK(outer_ * inner_ == bottom[1]->count(), Describe(), ": ", bottom[1]->count(),
                 " labels for predictions ", bottom[0]->shape_string(), "; with axis ", axis_,
                 " there must be one label per position outside that axis (", outer_ * inner_, ")");
  top[0]->Reshape(std::vector<int64_t>{});
  if (top.size() > 1) top[1]->Reshape(std::vector<int64_t>{classes_});
}

void AccuracyLayer::ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  const float* scores = bottom[0]->data();
  const float* label = bottom[1]->data();
  const int64_t dim = classes_ * inner_;
  std::vector<int64_t> seen(classes_, 0), right(classes_, 0);
  tally_ = Tally();
  for (int64_t i = 0; i < outer_; ++i) {
    for (int64_t j = 0; j < inner_; ++j) {
      const float raw_label = label[i * inner_ + j];
      // Checked before the cast: a NaN or huge float has no int value.
      CONDENSE_CHECK(raw_label > -2.0e9f && raw_label < 2.0e9f, Describe(), ": label ", raw_label,
                     " is not a class index");
      const int label_value = static_cast<int>(raw_label);
      if (has_ignore_label_ && label_value == ignore_label_) continue;
      CONDENSE_CHECK(label_value >= 0 && label_value < classes_, Describe(), ": label ", label_value,
                     " is outside [0, ", classes_, ")");
      ++seen[label_value];
      ++tally_.scored;
      const float* column = scores + i * dim + j;
      const float true_score = column[label_value * inner_];
      // Caffe compares with >=, so a NaN true score beats nothing and counts as right: a diverged
      // fine-tuning would then report accuracy 1. Here a NaN is wrong, and a NaN in another class
      // outranks the label.
      if (std::isnan(true_score)) continue;
      int64_t higher = 0, tied = 0;  // other classes
      for (int64_t k = 0; k < classes_; ++k) {
        if (k == label_value) continue;
        const float score = column[k * inner_];
        higher += score > true_score || std::isnan(score) ? 1 : 0;
        tied += score == true_score ? 1 : 0;
      }
      if (higher + tied < top_k_) {
        ++tally_.correct;
        ++right[label_value];
      } else if (higher < top_k_) {
        ++tally_.lost_to_ties;
      }
    }
  }
  top[0]->mutable_data()[0] =
      tally_.scored == 0 ? 0.0f
                         : static_cast<float>(tally_.correct) / static_cast<float>(tally_.scored);
  if (top.size() > 1) {
    float* per_class = top[1]->mutable_data();
    for (int64_t c = 0; c < classes_; ++c) {
      per_class[c] =
          seen[c] == 0 ? 0.0f : static_cast<float>(right[c]) / static_cast<float>(seen[c]);
    }
  }
}

CONDENSE_REGISTER_LAYER("Accuracy", AccuracyLayer);

AccuracyLayer::Tally& AccuracyLayer::Tally::operator+=(const Tally& other) {
  scored += other.scored;
  correct += other.correct;
  lost_to_ties += other.lost_to_ties;
  return *this;
}

AccuracyTallies::AccuracyTallies(const Net& net) {
  for (size_t i = 0; i < net.layers().size(); ++i) {
    if (const auto* accuracy = dynamic_cast<const AccuracyLayer*>(net.layers()[i].get())) {
      layers_.push_back(accuracy);
      entries_.push_back({net.layer_names()[i], AccuracyLayer::Tally()});
    }
  }
}

void AccuracyTallies::Add() {
  for (size_t i = 0; i < layers_.size(); ++i) entries_[i].sum += layers_[i]->last_tally();
}

}  // namespace condense
