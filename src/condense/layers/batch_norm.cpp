// BatchNorm as Caffe defines it: normalises each channel (axis 1) to zero mean and unit variance,
// with no learned scale or shift (a Scale layer follows for that). Its three blobs are Caffe's
// running statistics: the sum of means and the sum of variances, each decayed by
// moving_average_fraction, and the matching sum of weights; the estimates are blob / weight. They
// are statistics, not parameters: their learning rate is forced to 0 and they receive no gradient.
// use_global_stats defaults to true in TEST and false in TRAIN.
#include <algorithm>
#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class BatchNormLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "BatchNorm"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  // Its blobs are running statistics the forward pass updates, not weights: quantized copies would
  // swallow the updates (fold it into the convolution before with analyze --fold_bn instead).
  bool QuantizableParameters() const override { return false; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const BatchNormParameter& param = layer_param_.batch_norm_param();
    moving_average_fraction_ = param.moving_average_fraction();
    use_global_stats_ = param.has_use_global_stats() ? param.use_global_stats() : phase_ == TEST;
    eps_ = param.eps();
    channels_ = bottom[0]->num_axes() == 1 ? 1 : bottom[0]->shape(1);
    blobs_.clear();
    blobs_.push_back(std::make_shared<Blob>(std::vector<int64_t>{channels_}));
    blobs_.push_back(std::make_shared<Blob>(std::vector<int64_t>{channels_}));
    blobs_.push_back(std::make_shared<Blob>(std::vector<int64_t>{1}));
    for (auto& blob : blobs_) blob->SetData(0.0f);
    // Caffe adds a ParamSpec with lr_mult 0 for every statistic blob so solvers never move them,
    // and refuses a non-zero lr_mult given in the prototxt.
    for (int i = 0; i < static_cast<int>(blobs_.size()); ++i) {
      if (i == layer_param_.param_size()) {
        layer_param_.add_param()->set_lr_mult(0.0f);
      } else {
        CONDENSE_CHECK(layer_param_.param(i).lr_mult() == 0.0f, Describe(), ": param ", i,
                       " has lr_mult ", layer_param_.param(i).lr_mult(),
                       "; batch normalisation statistics cannot be learned (use lr_mult: 0)");
      }
    }
    param_propagate_down_.assign(blobs_.size(), false);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CONDENSE_CHECK(bottom[0]->num_axes() >= 1, Describe(), ": needs a bottom with axes");
    if (bottom[0]->num_axes() > 1) {
      CONDENSE_CHECK(bottom[0]->shape(1) == channels_, Describe(), ": bottom ",
                     bottom[0]->shape_string(), " has ", bottom[0]->shape(1),
                     " channels; the layer was set up for ", channels_);
    }
    // Batch statistics of nothing would divide by zero (a zero batch or zero channels).
    CONDENSE_CHECK(bottom[0]->count() > 0, Describe(), ": bottom ", bottom[0]->shape_string(),
                   " holds no values to normalise");
    top[0]->ReshapeLike(*bottom[0]);
    mean_.resize(channels_);
    variance_.resize(channels_);
    inverse_std_.resize(channels_);
    normalized_.ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t num = bottom[0]->shape(0);
    const int64_t spatial = bottom[0]->count() / (num * channels_);
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    if (use_global_stats_) {
      const float weight = blobs_[2]->data()[0];
      const float factor = weight == 0.0f ? 0.0f : 1.0f / weight;
      for (int64_t c = 0; c < channels_; ++c) {
        mean_[c] = factor * blobs_[0]->data()[c];
        variance_[c] = factor * blobs_[1]->data()[c];
      }
    } else {
      ChannelMeans(
          num, spatial, [x](int64_t i) { return x[i]; }, mean_.data());
    }
    // Works in place: each value is read before it is written.
    ForEachChannelRun(num, spatial, [&](int64_t begin, int64_t end, int64_t c) {
      const float mean = mean_[c];
      for (int64_t i = begin; i < end; ++i) y[i] = x[i] - mean;
    });
    if (!use_global_stats_) {
      ChannelMeans(
          num, spatial, [y](int64_t i) { return y[i] * y[i]; }, variance_.data());
      // The running sums; the variance is stored unbiased, m / (m - 1) times the batch variance.
      float* weight = blobs_[2]->mutable_data();
      weight[0] = weight[0] * moving_average_fraction_ + 1.0f;
      const int64_t m = bottom[0]->count() / channels_;
      const float bias_correction =
          m > 1 ? static_cast<float>(m) / static_cast<float>(m - 1) : 1.0f;
      Axpby(channels_, 1.0f, mean_.data(), moving_average_fraction_, blobs_[0]->mutable_data());
      Axpby(channels_, bias_correction, variance_.data(), moving_average_fraction_,
            blobs_[1]->mutable_data());
    }
    for (int64_t c = 0; c < channels_; ++c) inverse_std_[c] = 1.0f / std::sqrt(variance_[c] + eps_);
    ForEachChannelRun(num, spatial, [&](int64_t begin, int64_t end, int64_t c) {
      const float inverse_std = inverse_std_[c];
      for (int64_t i = begin; i < end; ++i) y[i] *= inverse_std;
    });
    // Later in-place layers may overwrite the top; Backward needs the normalised values.
    Copy(top[0]->count(), y, normalized_.mutable_data());
  }

  // With batch statistics: dx = (dy - mean(dy) - mean(dy * y) * y) / sqrt(var + eps), means taken
  // per channel; with global statistics the normalisation is a fixed affine map: dx = dy / std.
  // Works in place: the means are taken before any gradient is written.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const int64_t num = bottom[0]->shape(0);
    const int64_t spatial = bottom[0]->count() / (num * channels_);
    const float* dy = top[0]->diff();
    const float* y = normalized_.data();
    float* dx = bottom[0]->mutable_diff();
    std::vector<float> mean_dy(channels_, 0.0f), mean_dy_y(channels_, 0.0f);
    if (!use_global_stats_) {
      ChannelMeans(
          num, spatial, [dy](int64_t i) { return dy[i]; }, mean_dy.data());
      ChannelMeans(
          num, spatial, [dy, y](int64_t i) { return dy[i] * y[i]; }, mean_dy_y.data());
    }
    ForEachChannelRun(num, spatial, [&](int64_t begin, int64_t end, int64_t c) {
      const float shift = mean_dy[c], slope = mean_dy_y[c], inverse_std = inverse_std_[c];
      for (int64_t i = begin; i < end; ++i) dx[i] = (dy[i] - shift - slope * y[i]) * inverse_std;
    });
  }

 private:
  // Calls run(begin, end, c) for each contiguous run [begin, end) of channel c's values.
  template <typename Run>
  void ForEachChannelRun(int64_t num, int64_t spatial, Run run) const {
    for (int64_t n = 0; n < num; ++n) {
      for (int64_t c = 0; c < channels_; ++c) {
        const int64_t begin = (n * channels_ + c) * spatial;
        run(begin, begin + spatial, c);
      }
    }
  }

  // Per-channel means of term(i) over the batch and the spatial positions.
  template <typename Term>
  void ChannelMeans(int64_t num, int64_t spatial, Term term, float* means) const {
    std::fill(means, means + channels_, 0.0f);
    ForEachChannelRun(num, spatial, [&](int64_t begin, int64_t end, int64_t c) {
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = begin; i < end; ++i) sum += term(i);
      means[c] += sum;
    });
    const float inverse_size = 1.0f / static_cast<float>(num * spatial);
    for (int64_t c = 0; c < channels_; ++c) means[c] *= inverse_size;
  }

  float moving_average_fraction_ = 0.999f;
  bool use_global_stats_ = false;
  float eps_ = 1e-5f;
  int64_t channels_ = 0;
  std::vector<float> mean_;
  std::vector<float> variance_;
  std::vector<float> inverse_std_;
  Blob normalized_;  // y, kept for Backward
};

CONDENSE_REGISTER_LAYER("BatchNorm", BatchNormLayer);

}  // namespace condense
