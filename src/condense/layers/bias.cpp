// Bias: adds a bias broadcast over the bottom, y = x + b. The bias is the second bottom or a
// learned blob; its shape covers the bottom axes [axis, axis + num_axes) (num_axes -1: to the end).
// A scalar bias (no axes) is added everywhere. Runs in place too.
#include <vector>

#include "broadcast_operand.hpp"
#include "condense/core/math.hpp"
#include "condense/net/filler.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class BiasLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Bias"; }
  int MinBottomBlobs() const override { return 1; }
  int MaxBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    if (bottom.size() > 1) return;  // the bias is the second bottom
    const BiasParameter& param = layer_param_.bias_param();
    blobs_.clear();
    blobs_.push_back(std::make_shared<Blob>(LearnedOperandShape(
        *bottom[0], param.axis(), param.num_axes(), Describe() + ": bias_param")));
    Fill(param.filler(), blobs_[0].get());  // the default filler is constant 0
    param_propagate_down_.assign(1, true);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& bias = bottom.size() > 1 ? *bottom[1] : *blobs_[0];
    geometry_ = FitOperand(*bottom[0], bias, layer_param_.bias_param().axis(), Describe());
    top[0]->ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* bias = bottom.size() > 1 ? bottom[1]->data() : blobs_[0]->data();
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    const auto [outer, dim, inner] = geometry_;
    for (int64_t n = 0; n < outer; ++n) {
      for (int64_t d = 0; d < dim; ++d) {
        const int64_t base = (n * dim + d) * inner;
        const float value = bias[d];
        for (int64_t i = base; i < base + inner; ++i) y[i] = x[i] + value;
      }
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    const float* dy = top[0]->diff();
    if (propagate_down[0] && bottom[0] != top[0]) {
      Copy(bottom[0]->count(), dy, bottom[0]->mutable_diff());
    }
    const bool learned = bottom.size() == 1;
    if (learned ? !param_propagate_down(0) : !propagate_down[1]) return;
    // A learned bias accumulates its gradient; a bottom's gradient is overwritten.
    float* bias_diff = learned ? blobs_[0]->mutable_diff() : bottom[1]->mutable_diff();
    // Named copies, not a structured binding: clang cannot use those inside an OpenMP region.
    const int64_t outer = geometry_.outer, dim = geometry_.dim, inner = geometry_.inner;
    if (!learned) Set(dim, 0.0f, bias_diff);
    for (int64_t n = 0; n < outer; ++n) {
      for (int64_t d = 0; d < dim; ++d) {
        const float* values = dy + (n * dim + d) * inner;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < inner; ++i) sum += values[i];
        bias_diff[d] += sum;
      }
    }
  }

 private:
  BroadcastGeometry geometry_;
};

CONDENSE_REGISTER_LAYER("Bias", BiasLayer);

}  // namespace condense
