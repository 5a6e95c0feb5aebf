// Scale: multiplies the bottom by a scale broadcast over it, y = x * s (+ b with bias_term). The
// scale is the second bottom or a learned blob (filler default constant 1) covering the bottom axes
// [axis, axis + num_axes); the optional bias is a Bias layer of the same shape, whose blob becomes
// this layer's last parameter blob, as Caffe stores it. Runs in place too.
#include <memory>
#include <vector>

#include "broadcast_operand.hpp"
#include "condense/core/math.hpp"
#include "condense/net/filler.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class ScaleLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Scale"; }
  int MinBottomBlobs() const override { return 1; }
  int MaxBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const ScaleParameter& param = layer_param_.scale_param();
    blobs_.clear();
    if (bottom.size() == 1) {
      blobs_.push_back(std::make_shared<Blob>(LearnedOperandShape(
          *bottom[0], param.axis(), param.num_axes(), Describe() + ": scale_param")));
      FillerParameter filler;
      if (param.has_filler()) {
        filler = param.filler();
      } else {
        filler.set_type("constant");
        filler.set_value(1.0f);
      }
      Fill(filler, blobs_[0].get());
    }
    if (param.bias_term()) {
      LayerParameter bias_param = layer_param_;
      bias_param.set_type("Bias");
      bias_param.clear_loss_weight();
      bias_param.clear_quantization_param();
      BiasParameter* bias = bias_param.mutable_bias_param();
      bias->set_axis(param.axis());
      bias->set_num_axes(bottom.size() > 1 ? bottom[1]->num_axes() : param.num_axes());
      *bias->mutable_filler() = param.bias_filler();
      bias_layer_ = LayerRegistry::Create(bias_param);
      bias_bottom_ = {bottom[0]};
      bias_layer_->SetUp(bias_bottom_, top);
      bias_param_id_ = static_cast<int>(blobs_.size());
      blobs_.push_back(bias_layer_->blobs()[0]);
    }
    param_propagate_down_.assign(blobs_.size(), true);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& scale = bottom.size() > 1 ? *bottom[1] : *blobs_[0];
    geometry_ = FitOperand(*bottom[0], scale, layer_param_.scale_param().axis(), Describe());
    top[0]->ReshapeLike(*bottom[0]);
    // In place, Forward overwrites the inputs that the scale's gradient needs: keep a copy.
    if (bottom[0] == top[0]) bottom_copy_.ReshapeLike(*bottom[0]);
    if (bias_layer_) {
      bias_bottom_[0] = top[0];
      bias_layer_->Reshape(bias_bottom_, top);
    }
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* x = bottom[0]->data();
    if (bottom[0] == top[0]) {
      Copy(bottom[0]->count(), x, bottom_copy_.mutable_data());
    }
    const float* scale = bottom.size() > 1 ? bottom[1]->data() : blobs_[0]->data();
    float* y = top[0]->mutable_data();
    const auto [outer, dim, inner] = geometry_;
    for (int64_t n = 0; n < outer; ++n) {
      for (int64_t d = 0; d < dim; ++d) {
        const int64_t base = (n * dim + d) * inner;
        const float factor = scale[d];
        for (int64_t i = base; i < base + inner; ++i) y[i] = x[i] * factor;
      }
    }
    if (bias_layer_) {
      bias_bottom_[0] = top[0];
      bias_layer_->Forward(bias_bottom_, top);
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    // Both parameter gradients read the top's gradient, which in place is about to be overwritten.
    if (bias_layer_ && param_propagate_down(bias_param_id_)) {
      bias_bottom_[0] = top[0];
      bias_layer_->Backward(top, {false}, bias_bottom_);
    }
    const float* dy = top[0]->diff();
    // Named copies, not a structured binding: clang cannot use those inside an OpenMP region.
    const int64_t outer = geometry_.outer, dim = geometry_.dim, inner = geometry_.inner;
    const bool learned = bottom.size() == 1;
    if (learned ? param_propagate_down(0) : propagate_down[1]) {
      const float* x = bottom[0] == top[0] ? bottom_copy_.data() : bottom[0]->data();
      // A learned scale accumulates its gradient; a bottom's gradient is overwritten.
      float* scale_diff = learned ? blobs_[0]->mutable_diff() : bottom[1]->mutable_diff();
      if (!learned) Set(dim, 0.0f, scale_diff);
      for (int64_t n = 0; n < outer; ++n) {
        for (int64_t d = 0; d < dim; ++d) {
          const int64_t base = (n * dim + d) * inner;
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int64_t i = base; i < base + inner; ++i) sum += dy[i] * x[i];
          scale_diff[d] += sum;
        }
      }
    }
    if (propagate_down[0]) {
      const float* scale = learned ? blobs_[0]->data() : bottom[1]->data();
      float* dx = bottom[0]->mutable_diff();
      for (int64_t n = 0; n < outer; ++n) {
        for (int64_t d = 0; d < dim; ++d) {
          const int64_t base = (n * dim + d) * inner;
          const float factor = scale[d];
          for (int64_t i = base; i < base + inner; ++i) dx[i] = dy[i] * factor;
        }
      }
    }
  }

 private:
  std::unique_ptr<Layer> bias_layer_;
  std::vector<Blob*> bias_bottom_;
  int bias_param_id_ = -1;
  BroadcastGeometry geometry_;
  Blob bottom_copy_;
};

CONDENSE_REGISTER_LAYER("Scale", ScaleLayer);

}  // namespace condense
