// Local response normalisation, Caffe's two variants, with n = local_size and p = (n - 1) / 2:
//   ACROSS_CHANNELS: s = k + alpha / n * sum of x^2 over channels c-p..c+p,    y = x * s^-beta
//   WITHIN_CHANNEL:  s = 1 + alpha / n^2 * sum of x^2 over the n x n square,   y = x * s^-beta
// WITHIN_CHANNEL ignores k and divides by n^2 even where the square is cut by the border, because
// Caffe builds it from a zero-padded average pooling and a Power layer with shift 1; here it is
// computed directly with the same result.
#include <algorithm>
#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

namespace {

// s^-beta for a whole array; 0.75, the exponent of nearly every real net, avoids pow().
void NegativePower(int64_t n, const float* s, float beta, float* out) {
  if (beta == 0.75f) {
    for (int64_t i = 0; i < n; ++i) out[i] = 1.0f / std::sqrt(s[i] * std::sqrt(s[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = std::pow(s[i], -beta);
  }
}

// out = sum of in over the (2p+1) x (2p+1) square around each pixel, cut at the border.
// `row_sums` is scratch of height * width floats.
void BoxSum(const float* in, int64_t height, int64_t width, int64_t p, float* row_sums,
            float* out) {
  for (int64_t h = 0; h < height; ++h) {
    const float* row = in + h * width;
    float* sums = row_sums + h * width;
    for (int64_t w = 0; w < width; ++w) {
      const int64_t begin = std::max<int64_t>(w - p, 0);
      const int64_t end = std::min<int64_t>(w + p + 1, width);
      float sum = 0.0f;
      for (int64_t i = begin; i < end; ++i) sum += row[i];
      sums[w] = sum;
    }
  }
  for (int64_t h = 0; h < height; ++h) {
    const int64_t begin = std::max<int64_t>(h - p, 0);
    const int64_t end = std::min<int64_t>(h + p + 1, height);
    float* target = out + h * width;
    for (int64_t w = 0; w < width; ++w) target[w] = 0.0f;
    for (int64_t r = begin; r < end; ++r) {
      const float* sums = row_sums + r * width;
      for (int64_t w = 0; w < width; ++w) target[w] += sums[w];
    }
  }
}

}  // namespace

class LRNLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "LRN"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const LRNParameter& param = layer_param_.lrn_param();
    size_ = param.local_size();
    CONDENSE_CHECK(size_ % 2 == 1, Describe(), ": lrn_param.local_size must be odd, not ", size_);
    pre_pad_ = (size_ - 1) / 2;
    alpha_ = param.alpha();
    beta_ = param.beta();
    k_ = param.k();
    across_channels_ = param.norm_region() == LRNParameter::ACROSS_CHANNELS;
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CONDENSE_CHECK(bottom[0]->num_axes() == 4, Describe(),
                   ": needs a 4-axis (num, channels, height, width) bottom, not ",
                   bottom[0]->shape_string());
    CONDENSE_CHECK(top[0] != bottom[0], Describe(), " cannot run in place (top == bottom)");
    // The across-channel window starts from channel 0's scale, which an empty axis does not have.
    CONDENSE_CHECK(bottom[0]->shape(1) > 0, Describe(), ": bottom ", bottom[0]->shape_string(),
                   " has no channels");
    top[0]->ReshapeLike(*bottom[0]);
    scale_.ReshapeLike(*bottom[0]);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* x = bottom[0]->data();
    float* y = top[0]->mutable_data();
    float* scale = scale_.mutable_data();
    if (across_channels_) {
      const int64_t channels = bottom[0]->shape(1);
      const int64_t plane = bottom[0]->count(2);
      const int64_t image = channels * plane;
      const float alpha_over_size = alpha_ / static_cast<float>(size_);
      ParallelFor(bottom[0]->shape(0), bottom[0]->count(), [&](int64_t begin, int64_t end, int) {
        for (int64_t n = begin; n < end; ++n) {
          ScaleAcrossChannels(x + n * image, channels, plane, alpha_over_size, scale + n * image);
        }
      });
    } else {
      const int64_t height = bottom[0]->shape(2);
      const int64_t width = bottom[0]->shape(3);
      const int64_t plane = height * width;
      const float alpha_over_area = alpha_ / static_cast<float>(size_ * size_);
      ParallelFor(bottom[0]->count(0, 2), bottom[0]->count(), [&](int64_t begin, int64_t end, int) {
        std::vector<float> squares(plane), row_sums(plane);
        for (int64_t index = begin; index < end; ++index) {
          const float* in = x + index * plane;
          float* s = scale + index * plane;
          for (int64_t i = 0; i < plane; ++i) squares[i] = in[i] * in[i];
          BoxSum(squares.data(), height, width, pre_pad_, row_sums.data(), s);
          for (int64_t i = 0; i < plane; ++i) s[i] = 1.0f + alpha_over_area * s[i];
        }
      });
    }
    const int64_t count = bottom[0]->count();
    NegativePower(count, scale, beta_, y);
    for (int64_t i = 0; i < count; ++i) y[i] *= x[i];
  }

  // dx = dy * s^-beta - (2 alpha beta / N) * x * sum over the same window of dy * y / s, with N = n
  // across channels and n^2 within: the windows are symmetric, so the positions whose window holds
  // a value are the positions in that value's window.
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float* x = bottom[0]->data();
    const float* y = top[0]->data();
    const float* dy = top[0]->diff();
    const float* scale = scale_.data();
    float* dx = bottom[0]->mutable_diff();
    const int64_t count = bottom[0]->count();
    NegativePower(count, scale, beta_, dx);
    for (int64_t i = 0; i < count; ++i) dx[i] *= dy[i];

    const int64_t channels = bottom[0]->shape(1);
    const int64_t height = bottom[0]->shape(2);
    const int64_t width = bottom[0]->shape(3);
    const int64_t plane = height * width;
    if (across_channels_) {
      const int64_t image = channels * plane;
      const float factor = 2.0f * alpha_ * beta_ / static_cast<float>(size_);
      ParallelFor(bottom[0]->shape(0), bottom[0]->count(), [&](int64_t begin, int64_t end, int) {
        std::vector<float> ratio(image), window(plane);
        for (int64_t n = begin; n < end; ++n) {
          const int64_t offset = n * image;
          for (int64_t i = 0; i < image; ++i) {
            ratio[i] = dy[offset + i] * y[offset + i] / scale[offset + i];
          }
          GradientAcrossChannels(ratio.data(), x + offset, channels, plane, factor, window.data(),
                                 dx + offset);
        }
      });
    } else {
      const float factor = 2.0f * alpha_ * beta_ / static_cast<float>(size_ * size_);
      ParallelFor(bottom[0]->count(0, 2), bottom[0]->count(), [&](int64_t begin, int64_t end, int) {
        std::vector<float> ratio(plane), row_sums(plane), window(plane);
        for (int64_t index = begin; index < end; ++index) {
          const int64_t offset = index * plane;
          for (int64_t i = 0; i < plane; ++i) {
            ratio[i] = dy[offset + i] * y[offset + i] / scale[offset + i];
          }
          BoxSum(ratio.data(), height, width, pre_pad_, row_sums.data(), window.data());
          for (int64_t i = 0; i < plane; ++i) dx[offset + i] -= factor * x[offset + i] * window[i];
        }
      });
    }
  }

 private:
  // Slides the channel window down one image as a running sum, in Caffe's order: the previous
  // channel's scale, plus the entering square, minus the leaving one.
  void ScaleAcrossChannels(const float* x, int64_t channels, int64_t plane, float alpha_over_size,
                           float* scale) const {
    for (int64_t i = 0; i < plane; ++i) scale[i] = k_;
    for (int64_t c = 0; c <= pre_pad_ && c < channels; ++c) {
      const float* in = x + c * plane;
      for (int64_t i = 0; i < plane; ++i) scale[i] += alpha_over_size * (in[i] * in[i]);
    }
    for (int64_t c = 1; c < channels; ++c) {
      const float* previous = scale + (c - 1) * plane;
      float* current = scale + c * plane;
      for (int64_t i = 0; i < plane; ++i) current[i] = previous[i];
      const int64_t head = c + pre_pad_;
      if (head < channels) {
        const float* in = x + head * plane;
        for (int64_t i = 0; i < plane; ++i) current[i] += alpha_over_size * (in[i] * in[i]);
      }
      const int64_t tail = c - pre_pad_ - 1;
      if (tail >= 0) {
        const float* in = x + tail * plane;
        for (int64_t i = 0; i < plane; ++i) current[i] -= alpha_over_size * (in[i] * in[i]);
      }
    }
  }

  void GradientAcrossChannels(const float* ratio, const float* x, int64_t channels, int64_t plane,
                              float factor, float* window, float* dx) const {
    for (int64_t i = 0; i < plane; ++i) window[i] = 0.0f;
    for (int64_t c = 0; c < pre_pad_ && c < channels; ++c) {
      const float* r = ratio + c * plane;
      for (int64_t i = 0; i < plane; ++i) window[i] += r[i];
    }
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t head = c + pre_pad_;
      if (head < channels) {
        const float* r = ratio + head * plane;
        for (int64_t i = 0; i < plane; ++i) window[i] += r[i];
      }
      const float* in = x + c * plane;
      float* out = dx + c * plane;
      for (int64_t i = 0; i < plane; ++i) out[i] -= factor * in[i] * window[i];
      const int64_t tail = c - pre_pad_;
      if (tail >= 0) {
        const float* r = ratio + tail * plane;
        for (int64_t i = 0; i < plane; ++i) window[i] -= r[i];
      }
    }
  }

  int64_t size_ = 5;
  int64_t pre_pad_ = 2;
  float alpha_ = 1.0f;
  float beta_ = 0.75f;
  float k_ = 1.0f;
  bool across_channels_ = true;
  Blob scale_;  // s, kept from Forward for Backward
};

CONDENSE_REGISTER_LAYER("LRN", LRNLayer);

}  // namespace condense
