// Accuracy: the fraction of positions whose label is among the top_k scores along
// accuracy_param.axis; an optional second top gives the accuracy per class. Ties count against the
// label, as in Caffe: a prediction is right when fewer than top_k other classes score at least as
// high as the true one, so a net whose scores all collapse to one value scores 0.
#include <vector>

#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class AccuracyLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Accuracy"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }
  // It has no gradient: force_backward must not ask it for one (Caffe would abort there).
  bool AllowForceBackward(int bottom_index) const override { return false; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const AccuracyParameter& param = layer_param_.accuracy_param();
    top_k_ = param.top_k();
    has_ignore_label_ = param.has_ignore_label();
    ignore_label_ = param.ignore_label();
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    axis_ = bottom[0]->CanonicalAxisIndex(layer_param_.accuracy_param().axis());
    classes_ = bottom[0]->shape(axis_);
    CONDENSE_CHECK(top_k_ <= classes_, Describe(), ": accuracy_param.top_k (", top_k_,
                   ") must not exceed the number of classes (", classes_, ")");
    outer_ = bottom[0]->count(0, axis_);
    inner_ = bottom[0]->count(axis_ + 1);
    CONDENSE_CHECK(outer_ * inner_ == bottom[1]->count(), Describe(), ": ", bottom[1]->count(),
                   " labels for predictions ", bottom[0]->shape_string(), "; with axis ", axis_,
                   " there must be one label per position outside that axis (", outer_ * inner_,
                   ")");
    top[0]->Reshape(std::vector<int64_t>{});
    if (top.size() > 1) top[1]->Reshape(std::vector<int64_t>{classes_});
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* scores = bottom[0]->data();
    const float* label = bottom[1]->data();
    const int64_t dim = classes_ * inner_;
    std::vector<int64_t> seen(classes_, 0), right(classes_, 0);
    int64_t count = 0, correct = 0;
    for (int64_t i = 0; i < outer_; ++i) {
      for (int64_t j = 0; j < inner_; ++j) {
        const int label_value = static_cast<int>(label[i * inner_ + j]);
        if (has_ignore_label_ && label_value == ignore_label_) continue;
        CONDENSE_CHECK(label_value >= 0 && label_value < classes_, Describe(), ": label ",
                       label_value, " is outside [0, ", classes_, ")");
        ++seen[label_value];
        const float* column = scores + i * dim + j;
        const float true_score = column[label_value * inner_];
        // The true class scores >= itself, hence the start at -1.
        int64_t at_least_as_high = -1;
        for (int64_t k = 0; k < classes_ && at_least_as_high < top_k_; ++k) {
          at_least_as_high += column[k * inner_] >= true_score ? 1 : 0;
        }
        if (at_least_as_high < top_k_) {
          ++correct;
          ++right[label_value];
        }
        ++count;
      }
    }
    top[0]->mutable_data()[0] =
        count == 0 ? 0.0f : static_cast<float>(correct) / static_cast<float>(count);
    if (top.size() > 1) {
      float* per_class = top[1]->mutable_data();
      for (int64_t c = 0; c < classes_; ++c) {
        per_class[c] =
            seen[c] == 0 ? 0.0f : static_cast<float>(right[c]) / static_cast<float>(seen[c]);
      }
    }
  }

 private:
  int64_t top_k_ = 1;
  bool has_ignore_label_ = false;
  int ignore_label_ = 0;
  int axis_ = 1;
  int64_t classes_ = 0;
  int64_t outer_ = 0;
  int64_t inner_ = 0;
};

CONDENSE_REGISTER_LAYER("Accuracy", AccuracyLayer);

}  // namespace condense
