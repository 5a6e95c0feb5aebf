// ArgMax: the indices of the top_k largest values, along argmax_param.axis or, without an axis,
// over each item's flattened values; out_max_val adds (or, with an axis, gives instead) the values.
// Without an axis the top is (N, 1 or 2, top_k), padded to at least 3 axes as in Caffe. Equal
// values rank the higher index first, as Caffe's sort of (value, index) pairs does.
#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class ArgMaxLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "ArgMax"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  // It has no gradient: force_backward must not ask it for one (Caffe would abort there).
  bool AllowForceBackward(int bottom_index) const override { return false; }
  // Scores come in; class indices go out.
  bool QuantizableInput(int bottom_index) const override { return true; }
  bool QuantizableOutput(int top_index) const override { return false; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const ArgMaxParameter& param = layer_param_.argmax_param();
    out_max_val_ = param.out_max_val();
    top_k_ = param.top_k();
    has_axis_ = param.has_axis();
    CONDENSE_CHECK(top_k_ >= 1, Describe(), ": argmax_param.top_k must be at least 1");
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    std::vector<int64_t> shape;
    if (has_axis_) {
      axis_ = bottom[0]->CanonicalAxisIndex(layer_param_.argmax_param().axis());
      CONDENSE_CHECK(top_k_ <= bottom[0]->shape(axis_), Describe(), ": argmax_param.top_k (",
                     top_k_, ") exceeds axis ", axis_, " of bottom ", bottom[0]->shape_string());
      shape = bottom[0]->shape();
      shape[axis_] = top_k_;
    } else {
      CONDENSE_CHECK(bottom[0]->num_axes() >= 1 && top_k_ <= bottom[0]->count(1), Describe(),
                     ": argmax_param.top_k (", top_k_, ") exceeds the values per item of bottom ",
                     bottom[0]->shape_string());
      shape.assign(std::max(bottom[0]->num_axes(), 3), 1);
      shape[0] = bottom[0]->shape(0);
      shape[2] = top_k_;
      if (out_max_val_) shape[1] = 2;
    }
    top[0]->Reshape(shape);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const int64_t dim = has_axis_ ? bottom[0]->shape(axis_) : bottom[0]->count(1);
    // Distance between consecutive values along the axis.
    const int64_t stride = has_axis_ ? bottom[0]->count(axis_) / dim : 1;
    const int64_t positions = bottom[0]->count() / dim;
    std::vector<std::pair<float, int64_t>> ranked(dim);
    for (int64_t i = 0; i < positions; ++i) {
      const int64_t outer = i / stride, inner = i % stride;
      for (int64_t j = 0; j < dim; ++j) ranked[j] = {x[(outer * dim + j) * stride + inner], j};
      std::partial_sort(ranked.begin(), ranked.begin() + top_k_, ranked.end(),
                        std::greater<std::pair<float, int64_t>>());
      for (int64_t j = 0; j < top_k_; ++j) {
        const float index = static_cast<float>(ranked[j].second);
        if (has_axis_) {
          y[(outer * top_k_ + j) * stride + inner] = out_max_val_ ? ranked[j].first : index;
        } else if (out_max_val_) {
          y[2 * i * top_k_ + j] = index;
          y[2 * i * top_k_ + top_k_ + j] = ranked[j].first;
        } else {
          y[i * top_k_ + j] = index;
        }
      }
    }
  }

 private:
  bool out_max_val_ = false;
  int64_t top_k_ = 1;
  bool has_axis_ = false;
  int axis_ = 0;
};

CONDENSE_REGISTER_LAYER("ArgMax", ArgMaxLayer);

}  // namespace condense
