// PReLU: a ReLU whose negative slope is learned, one per channel (axis 1) or one shared by all.
// The slopes are blobs_[0]: shape (channels), or a scalar (no axes) when channel_shared, as Caffe
// stores them; without a filler they start at 0.25.
#include <algorithm>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/net/filler.hpp"
#include "condense/net/layer_registry.hpp"
#include "neuron_layer.hpp"

namespace condense {

class PReLULayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "PReLU"; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const PReLUParameter& param = layer_param_.prelu_param();
    CheckHasChannels(*bottom[0]);
    channel_shared_ = param.channel_shared();
    const int64_t channels = bottom[0]->shape(1);
    blobs_.clear();
    blobs_.push_back(std::make_shared<Blob>(channel_shared_ ? std::vector<int64_t>{}
                                                            : std::vector<int64_t>{channels}));
    FillerParameter filler;
    if (param.has_filler()) {
      filler = param.filler();
    } else {
      filler.set_type("constant");
      filler.set_value(0.25f);
    }
    Fill(filler, blobs_[0].get());
    param_propagate_down_.assign(blobs_.size(), true);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CheckHasChannels(*bottom[0]);
    CONDENSE_CHECK(channel_shared_ || bottom[0]->shape(1) == blobs_[0]->count(), Describe(),
                   ": bottom ", bottom[0]->shape_string(), " has ", bottom[0]->shape(1),
                   " channels but the layer has ", blobs_[0]->count(), " slopes");
    top[0]->ReshapeLike(*bottom[0]);
    // In place, the inputs are overwritten by Forward; Backward needs them, so keep a copy.
    if (top[0] == bottom[0]) bottom_copy_.ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t outer = bottom[0]->shape(0);
    const int64_t channels = bottom[0]->shape(1);
    const int64_t inner = bottom[0]->count(2);
    const float* x = bottom[0]->data();
    if (top[0] == bottom[0]) {
      Copy(bottom[0]->count(), x, bottom_copy_.mutable_data());
      x = bottom_copy_.data();
    }
    const float* slopes = blobs_[0]->data();
    float* y = top[0]->mutable_data();
    for (int64_t n = 0; n < outer; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        const float slope = slopes[channel_shared_ ? 0 : c];
        const int64_t base = (n * channels + c) * inner;
        for (int64_t i = base; i < base + inner; ++i) {
          y[i] = std::max(x[i], 0.0f) + slope * std::min(x[i], 0.0f);
        }
      }
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    const int64_t outer = bottom[0]->shape(0);
    const int64_t channels = bottom[0]->shape(1);
    const int64_t inner = bottom[0]->count(2);
    const float* x = top[0] == bottom[0] ? bottom_copy_.data() : bottom[0]->data();
    const float* dy = top[0]->diff();
    if (param_propagate_down(0)) {
      // d loss / d slope = sum of dy * x over the negative inputs it scaled (accumulated).
      float* slope_diff = blobs_[0]->mutable_diff();
      for (int64_t n = 0; n < outer; ++n) {
        for (int64_t c = 0; c < channels; ++c) {
          const int64_t base = (n * channels + c) * inner;
          float sum = 0.0f;
          for (int64_t i = base; i < base + inner; ++i) sum += x[i] <= 0.0f ? dy[i] * x[i] : 0.0f;
          slope_diff[channel_shared_ ? 0 : c] += sum;
        }
      }
    }
    if (propagate_down[0]) {
      const float* slopes = blobs_[0]->data();
      float* dx = bottom[0]->mutable_diff();
      for (int64_t n = 0; n < outer; ++n) {
        for (int64_t c = 0; c < channels; ++c) {
          const float slope = slopes[channel_shared_ ? 0 : c];
          const int64_t base = (n * channels + c) * inner;
          for (int64_t i = base; i < base + inner; ++i) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
        }
      }
    }
  }

 private:
  void CheckHasChannels(const Blob& bottom) const {
    CONDENSE_CHECK(bottom.num_axes() >= 2, Describe(),
                   ": needs a bottom with at least 2 axes, not ", bottom.shape_string());
  }

  bool channel_shared_ = false;
  Blob bottom_copy_;
};

CONDENSE_REGISTER_LAYER("PReLU", PReLULayer);

}  // namespace condense
