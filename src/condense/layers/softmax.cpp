// Softmax over one axis (softmax_param.axis, default 1): for every position of the other axes,
// y = exp(x - max) / sum exp(x - max) along the axis. Runs in place too.
#include <algorithm>
#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class SoftmaxLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Softmax"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    axis_ = bottom[0]->CanonicalAxisIndex(layer_param_.softmax_param().axis());
    top[0]->ReshapeLike(*bottom[0]);
    outer_ = bottom[0]->count(0, axis_);
    channels_ = bottom[0]->shape(axis_);
    inner_ = bottom[0]->count(axis_ + 1);
    // Forward starts each column's maximum from channel 0, which an empty axis does not have.
    CONDENSE_CHECK(channels_ > 0, Describe(), ": softmax over axis ", axis_, " of bottom shape ",
                   bottom[0]->shape_string(), ", which has no entries");
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const int64_t channels = channels_, inner = inner_, dim = channels_ * inner_;
    ParallelFor(outer_, bottom[0]->count(), [&](int64_t begin, int64_t end, int) {
      std::vector<float> column_max(inner), column_sum(inner);
      for (int64_t i = begin; i < end; ++i) {
        const float* in = x + i * dim;
        float* out = y + i * dim;
        std::copy(in, in + inner, column_max.begin());
        for (int64_t c = 1; c < channels; ++c) {
          for (int64_t k = 0; k < inner; ++k) {
            column_max[k] = std::max(column_max[k], in[c * inner + k]);
          }
        }
        std::fill(column_sum.begin(), column_sum.end(), 0.0f);
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t k = 0; k < inner; ++k) {
            out[c * inner + k] = std::exp(in[c * inner + k] - column_max[k]);
            column_sum[k] += out[c * inner + k];
          }
        }
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t k = 0; k < inner; ++k) out[c * inner + k] /= column_sum[k];
        }
      }
    });
  }

  // dx = (dy - <dy, y>) * y, the inner product taken along the softmax axis. It reads only the
  // outputs, so it works in place.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float* y = top[0]->data();
    const float* dy = top[0]->diff();
    float* dx = bottom[0]->mutable_diff();
    const int64_t channels = channels_, inner = inner_, dim = channels_ * inner_;
    ParallelFor(outer_, bottom[0]->count(), [&](int64_t begin, int64_t end, int) {
      std::vector<float> dot(inner);
      for (int64_t i = begin; i < end; ++i) {
        const float* out = y + i * dim;
        const float* grad_out = dy + i * dim;
        float* grad_in = dx + i * dim;
        std::fill(dot.begin(), dot.end(), 0.0f);
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t k = 0; k < inner; ++k)
            dot[k] += grad_out[c * inner + k] * out[c * inner + k];
        }
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t k = 0; k < inner; ++k) {
            grad_in[c * inner + k] = (grad_out[c * inner + k] - dot[k]) * out[c * inner + k];
          }
        }
      }
    });
  }

 private:
  int axis_ = 1;
  int64_t outer_ = 0;
  int64_t channels_ = 0;
  int64_t inner_ = 0;
};

CONDENSE_REGISTER_LAYER("Softmax", SoftmaxLayer);

}  // namespace condense
