// Concat: joins its bottoms along one axis (concat_param.axis, or the deprecated non-negative
// concat_dim); all other axes must agree. A single bottom is passed through without a copy.
#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class ConcatLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Concat"; }
  int MinBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const ConcatParameter& param = layer_param_.concat_param();
    CONDENSE_CHECK(!(param.has_axis() && param.has_concat_dim()), Describe(),
                   ": give concat_param.axis or the deprecated concat_dim, not both");
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const ConcatParameter& param = layer_param_.concat_param();
    const int num_axes = bottom[0]->num_axes();
    if (param.has_concat_dim()) {
      CONDENSE_CHECK(param.concat_dim() < static_cast<uint32_t>(num_axes), Describe(),
                     ": concat_param.concat_dim ", param.concat_dim(),
                     " is out of range for bottom ", bottom[0]->shape_string());
      axis_ = static_cast<int>(param.concat_dim());
    } else {
      axis_ = bottom[0]->CanonicalAxisIndex(param.axis());
    }
    std::vector<int64_t> top_shape = bottom[0]->shape();
    for (size_t b = 1; b < bottom.size(); ++b) {
      const bool fits = bottom[b]->num_axes() == num_axes && [&] {
        for (int a = 0; a < num_axes; ++a) {
          if (a != axis_ && bottom[b]->shape(a) != top_shape[a]) return false;
        }
        return true;
      }();
      CONDENSE_CHECK(fits, Describe(), ": bottom ", b, " ", bottom[b]->shape_string(),
                     " does not match bottom 0 ", bottom[0]->shape_string(),
                     " on the axes other than the concat axis ", axis_);
      top_shape[axis_] += bottom[b]->shape(axis_);
    }
    top[0]->Reshape(top_shape);
    if (bottom.size() == 1) {
      top[0]->ShareData(*bottom[0]);
      top[0]->ShareDiff(*bottom[0]);
    }
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    if (bottom.size() == 1) return;
    const int64_t outer = top[0]->count(0, axis_);
    const int64_t inner = top[0]->count(axis_ + 1);
    const int64_t top_axis = top[0]->shape(axis_);
    float* out = top[0]->mutable_data();
    int64_t offset = 0;
    for (Blob* blob : bottom) {
      const int64_t part = blob->shape(axis_) * inner;
      const float* in = blob->data();
      for (int64_t n = 0; n < outer; ++n) {
        Copy(part, in + n * part, out + (n * top_axis + offset) * inner);
      }
      offset += blob->shape(axis_);
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (bottom.size() == 1) return;
    const int64_t outer = top[0]->count(0, axis_);
    const int64_t inner = top[0]->count(axis_ + 1);
    const int64_t top_axis = top[0]->shape(axis_);
    const float* grad_out = top[0]->diff();
    int64_t offset = 0;
    for (size_t b = 0; b < bottom.size(); ++b) {
      const int64_t part = bottom[b]->shape(axis_) * inner;
      if (propagate_down[b]) {
        float* grad_in = bottom[b]->mutable_diff();
        for (int64_t n = 0; n < outer; ++n) {
          Copy(part, grad_out + (n * top_axis + offset) * inner, grad_in + n * part);
        }
      }
      offset += bottom[b]->shape(axis_);
    }
  }

 private:
  int axis_ = 1;
};

CONDENSE_REGISTER_LAYER("Concat", ConcatLayer);

}  // namespace condense
