// Slice: cuts its bottom along one axis (slice_param.axis, or the deprecated non-negative
// slice_dim) into its tops, at slice_param.slice_point (one point fewer than tops) or into equal
// parts. A single top is passed through without a copy.
#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class SliceLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Slice"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const SliceParameter& param = layer_param_.slice_param();
    CONDENSE_CHECK(!(param.has_axis() && param.has_slice_dim()), Describe(),
                   ": give slice_param.axis or the deprecated slice_dim, not both");
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const SliceParameter& param = layer_param_.slice_param();
    if (param.has_slice_dim()) {
      CONDENSE_CHECK(param.slice_dim() < static_cast<uint32_t>(bottom[0]->num_axes()), Describe(),
                     ": slice_param.slice_dim ", param.slice_dim(), " is out of range for bottom ",
                     bottom[0]->shape_string());
      axis_ = static_cast<int>(param.slice_dim());
    } else {
      axis_ = bottom[0]->CanonicalAxisIndex(param.axis());
    }
    const int64_t length = bottom[0]->shape(axis_);
    const int64_t tops = static_cast<int64_t>(top.size());
    std::vector<int64_t> sizes;
    if (param.slice_point_size() > 0) {
      CONDENSE_CHECK(param.slice_point_size() == tops - 1, Describe(), ": ",
                     param.slice_point_size(), " slice_point values for ", tops,
                     " tops; give one fewer than the tops");
      int64_t previous = 0;
      for (uint32_t point : param.slice_point()) {
        CONDENSE_CHECK(point > previous && point < length, Describe(), ": slice_point ", point,
                       " must be increasing and inside (0, ", length, ") on axis ", axis_);
        sizes.push_back(point - previous);
        previous = point;
      }
      sizes.push_back(length - previous);
    } else {
      CONDENSE_CHECK(length % tops == 0, Describe(), ": ", tops, " tops do not evenly divide axis ",
                     axis_, " of bottom ", bottom[0]->shape_string());
      sizes.assign(tops, length / tops);
    }
    std::vector<int64_t> shape = bottom[0]->shape();
    for (int64_t t = 0; t < tops; ++t) {
      shape[axis_] = sizes[t];
      top[t]->Reshape(shape);
    }
    if (tops == 1) {
      top[0]->ShareData(*bottom[0]);
      top[0]->ShareDiff(*bottom[0]);
    }
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    if (top.size() == 1) return;
    const int64_t outer = bottom[0]->count(0, axis_);
    const int64_t inner = bottom[0]->count(axis_ + 1);
    const int64_t bottom_axis = bottom[0]->shape(axis_);
    const float* in = bottom[0]->data();
    int64_t offset = 0;
    for (Blob* blob : top) {
      const int64_t part = blob->shape(axis_) * inner;
      float* out = blob->mutable_data();
      for (int64_t n = 0; n < outer; ++n) {
        Copy(part, in + (n * bottom_axis + offset) * inner, out + n * part);
      }
      offset += blob->shape(axis_);
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0] || top.size() == 1) return;
    const int64_t outer = bottom[0]->count(0, axis_);
    const int64_t inner = bottom[0]->count(axis_ + 1);
    const int64_t bottom_axis = bottom[0]->shape(axis_);
    float* grad_in = bottom[0]->mutable_diff();
    int64_t offset = 0;
    for (Blob* blob : top) {
      const int64_t part = blob->shape(axis_) * inner;
      const float* grad_out = blob->diff();
      for (int64_t n = 0; n < outer; ++n) {
        Copy(part, grad_out + n * part, grad_in + (n * bottom_axis + offset) * inner);
      }
      offset += blob->shape(axis_);
    }
  }

 private:
  int axis_ = 1;
};

CONDENSE_REGISTER_LAYER("Slice", SliceLayer);

}  // namespace condense
