// Pooling: MAX, AVE and STOCHASTIC pooling over the two spatial axes of (N, C, H, W) blobs, with Caffe's
// window placement, output size (rounded up unless round_mode is FLOOR) and gradients. Planes are spread
// over the threads; the common windows without padding take vectorised kernels (see pooling.hpp).
#include "condense/layers/pooling.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "condense/core/random.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

namespace {

// The window of output (ph, pw), clipped to the image, and the divisor of an average (the window
// clipped to the padded image only).
struct Window {
  int64_t h_begin;
  int64_t h_end;
  int64_t w_begin;
  int64_t w_end;
  int64_t pool_size;
};

Window WindowOf(const PoolingGeometry& g, int64_t ph, int64_t pw) {
  int64_t h_begin = ph * g.stride_h - g.pad_h;
  int64_t w_begin = pw * g.stride_w - g.pad_w;
  int64_t h_end = std::min(h_begin + g.kernel_h, g.height + g.pad_h);
  int64_t w_end = std::min(w_begin + g.kernel_w, g.width + g.pad_w);
  const int64_t pool_size = (h_end - h_begin) * (w_end - w_begin);
  h_begin = std::max<int64_t>(h_begin, 0);
  w_begin = std::max<int64_t>(w_begin, 0);
  h_end = std::min(h_end, g.height);
  w_end = std::min(w_end, g.width);
  return {h_begin, h_end, w_begin, w_end, pool_size};
}

void MaxPoolOutput(const float* input, const PoolingGeometry& g, int64_t ph, int64_t pw,
                   float* output, int32_t* argmax) {
  const Window window = WindowOf(g, ph, pw);
  float best = -FLT_MAX;
  int32_t best_index = -1;
  for (int64_t h = window.h_begin; h < window.h_end; ++h) {
    for (int64_t w = window.w_begin; w < window.w_end; ++w) {
      const int64_t index = h * g.width + w;
      if (input[index] > best) {
        best = input[index];
        best_index = static_cast<int32_t>(index);
      }
    }
  }
  output[ph * g.pooled_width + pw] = best;
  argmax[ph * g.pooled_width + pw] = best_index;
}

void AvePoolOutput(const float* input, const PoolingGeometry& g, int64_t ph, int64_t pw,
                   float* output) {
  const Window window = WindowOf(g, ph, pw);
  float sum = 0.0f;
  for (int64_t h = window.h_begin; h < window.h_end; ++h) {
    for (int64_t w = window.w_begin; w < window.w_end; ++w) sum += input[h * g.width + w];
  }
  output[ph * g.pooled_width + pw] = sum / static_cast<float>(window.pool_size);
}

// The outputs whose windows lie wholly inside an unpadded image: rows [0, full_rows), columns
// [0, full_cols). Ceil rounding can add a last row or column of windows cut short by the border.
struct FullWindows {
  int64_t rows;
  int64_t cols;
};

FullWindows FullWindowsOf(const PoolingGeometry& g) {
  auto full = [](int64_t size, int64_t kernel, int64_t stride, int64_t pooled) {
    return size < kernel ? 0 : std::min(pooled, (size - kernel) / stride + 1);
  };
  return {full(g.height, g.kernel_h, g.stride_h, g.pooled_height),
          full(g.width, g.kernel_w, g.stride_w, g.pooled_width)};
}

// The fast kernels cover K x K windows with stride 2 and no padding. Each output is computed in the
// reference's order (row-major, strict comparison from -FLT_MAX; sums from 0), so the results are
// bit-identical. Pooled rows are short (12 in LeNet, 16 in cifar10_quick), too short for a compiler's
// vector loop, so the AVX-512 kernels take a row 16 outputs at a time with masked loads and stores,
// border windows cut short by ceil rounding included: a pixel outside the image reads as -FLT_MAX for
// a maximum (never strictly larger) and -0.0f for a sum (x + -0.0f == x for every x). Without AVX-512,
// the plain loops below cover the full windows, left to the compiler's vectoriser, and the reference
// the border.
template <int K>
inline __attribute__((always_inline)) void MaxPoolFullWindows(const float* input, int64_t width,
                                                              int64_t rows, int64_t cols,
                                                              int64_t pooled_width, float* output,
                                                              int32_t* argmax) {
  for (int64_t ph = 0; ph < rows; ++ph) {
    const int32_t row_index = static_cast<int32_t>(ph * 2 * width);
    const float* window_row = input + row_index;
    float* out = output + ph * pooled_width;
    int32_t* mask = argmax + ph * pooled_width;
    for (int32_t pw = 0; pw < static_cast<int32_t>(cols); ++pw) {
      float best = -FLT_MAX;
      int32_t best_index = -1;
      for (int kh = 0; kh < K; ++kh) {
        for (int kw = 0; kw < K; ++kw) {
          const int32_t offset = static_cast<int32_t>(kh * width) + pw * 2 + kw;
          const float value = window_row[offset];
          const bool larger = value > best;
          best = larger ? value : best;
          best_index = larger ? row_index + offset : best_index;
        }
      }
      out[pw] = best;
      mask[pw] = best_index;
    }
  }
}

template <int K>
inline __attribute__((always_inline)) void AvePoolFullWindows(const float* input, int64_t width,
                                                              int64_t rows, int64_t cols,
                                                              int64_t pooled_width, float* output) {
  const float pool_size = static_cast<float>(K * K);
  for (int64_t ph = 0; ph < rows; ++ph) {
    const float* window_row = input + ph * 2 * width;
    float* out = output + ph * pooled_width;
    for (int32_t pw = 0; pw < static_cast<int32_t>(cols); ++pw) {
      float sum = 0.0f;
      for (int kh = 0; kh < K; ++kh) {
        for (int kw = 0; kw < K; ++kw) sum += window_row[kh * width + pw * 2 + kw];
      }
      out[pw] = sum / pool_size;
    }
  }
}

#define CONDENSE_PORTABLE_CLONES __attribute__((target_clones("avx2", "default")))

template <int K>
CONDENSE_PORTABLE_CLONES void MaxPoolFullWindowsPortable(const float* input, int64_t width,
                                                         int64_t rows, int64_t cols,
                                                         int64_t pooled_width, float* output,
                                                         int32_t* argmax) {
  MaxPoolFullWindows<K>(input, width, rows, cols, pooled_width, output, argmax);
}

template <int K>
CONDENSE_PORTABLE_CLONES void AvePoolFullWindowsPortable(const float* input, int64_t width,
                                                         int64_t rows, int64_t cols,
                                                         int64_t pooled_width, float* output) {
  AvePoolFullWindows<K>(input, width, rows, cols, pooled_width, output);
}

#undef CONDENSE_PORTABLE_CLONES

#define CONDENSE_AVX512 __attribute__((target("avx512f")))

// The first `count` (clamped to [0, 16]) lanes set.
CONDENSE_AVX512 inline __mmask16 FirstLanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
                     : static_cast<__mmask16>((1u << std::max<int64_t>(count, 0)) - 1u);
}

// Lane j holds row[2 j] where 2 j < available, else `outside`; nothing past `available` is read.
CONDENSE_AVX512 inline __m512 LoadEveryOther(const float* row, int64_t available, __m512 outside) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 low = _mm512_mask_loadu_ps(outside, FirstLanes(available), row);
  const __m512 high = _mm512_mask_loadu_ps(outside, FirstLanes(available - 16), row + 16);
  return _mm512_permutex2var_ps(low, even, high);
}

template <int K>
CONDENSE_AVX512 void MaxPoolStride2Avx512(const float* input, const PoolingGeometry& g,
                                          float* output, int32_t* argmax) {
  const __m512i lane_offsets =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 lowest = _mm512_set1_ps(-FLT_MAX);
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    const int64_t window_rows = std::min<int64_t>(K, g.height - 2 * ph);
    for (int64_t pw = 0; pw < g.pooled_width; pw += 16) {
      __m512 best = lowest;
      __m512i best_index = _mm512_set1_epi32(-1);
      for (int64_t kh = 0; kh < window_rows; ++kh) {
        for (int kw = 0; kw < K; ++kw) {
          const int64_t column = 2 * pw + kw;
          const int64_t start = (2 * ph + kh) * g.width + column;
          const __m512 value = LoadEveryOther(input + start, g.width - column, lowest);
          const __mmask16 larger = _mm512_cmp_ps_mask(value, best, _CMP_GT_OQ);
          best = _mm512_mask_blend_ps(larger, best, value);
          const __m512i index =
              _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(start)), lane_offsets);
          best_index = _mm512_mask_blend_epi32(larger, best_index, index);
        }
      }
      const __mmask16 lanes = FirstLanes(g.pooled_width - pw);
      _mm512_mask_storeu_ps(output + ph * g.pooled_width + pw, lanes, best);
      _mm512_mask_storeu_epi32(argmax + ph * g.pooled_width + pw, lanes, best_index);
    }
  }
}

template <int K>
CONDENSE_AVX512 void AvePoolStride2Avx512(const float* input, const PoolingGeometry& g,
                                          float* output) {
  const __m512 negative_zero = _mm512_set1_ps(-0.0f);
  const __m512 lane_columns =
      _mm512_setr_ps(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    const int64_t window_rows = std::min<int64_t>(K, g.height - 2 * ph);
    for (int64_t pw = 0; pw < g.pooled_width; pw += 16) {
      __m512 sum = _mm512_setzero_ps();
      for (int64_t kh = 0; kh < window_rows; ++kh) {
        for (int kw = 0; kw < K; ++kw) {
          const int64_t column = 2 * pw + kw;
          const int64_t start = (2 * ph + kh) * g.width + column;
          sum = _mm512_add_ps(sum, LoadEveryOther(input + start, g.width - column, negative_zero));
        }
      }
      // Window width per lane: min(K, width - first column), as the reference clips it (small
      // integers, exact in float).
      const __m512 first_column =
          _mm512_add_ps(_mm512_set1_ps(static_cast<float>(2 * pw)), lane_columns);
      const __m512 kernel_cols = _mm512_set1_ps(static_cast<float>(K));
      const __m512 room = _mm512_sub_ps(_mm512_set1_ps(static_cast<float>(g.width)), first_column);
      const __m512 window_cols = _mm512_mask_blend_ps(
          _mm512_cmp_ps_mask(room, kernel_cols, _CMP_LT_OQ), kernel_cols, room);
      const __m512 pool_size =
          _mm512_mul_ps(window_cols, _mm512_set1_ps(static_cast<float>(window_rows)));
      _mm512_mask_storeu_ps(output + ph * g.pooled_width + pw, FirstLanes(g.pooled_width - pw),
                            _mm512_div_ps(sum, pool_size));
    }
  }
}

#undef CONDENSE_AVX512

bool HasAvx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

// Which fast kernel, if any, covers this geometry: K for K x K windows with stride 2 and no padding.
int FastKernelSize(const PoolingGeometry& g) {
  if (g.pad_h != 0 || g.pad_w != 0 || g.stride_h != 2 || g.stride_w != 2) return 0;
  if (g.kernel_h != g.kernel_w || (g.kernel_h != 2 && g.kernel_h != 3)) return 0;
  return static_cast<int>(g.kernel_h);
}

}  // namespace

void MaxPoolPlaneReference(const float* input, const PoolingGeometry& g, float* output,
                           int32_t* argmax) {
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    for (int64_t pw = 0; pw < g.pooled_width; ++pw) MaxPoolOutput(input, g, ph, pw, output, argmax);
  }
}

void AvePoolPlaneReference(const float* input, const PoolingGeometry& g, float* output) {
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    for (int64_t pw = 0; pw < g.pooled_width; ++pw) AvePoolOutput(input, g, ph, pw, output);
  }
}

void MaxPoolPlanePortable(const float* input, const PoolingGeometry& g, float* output,
                          int32_t* argmax) {
  const int kernel = FastKernelSize(g);
  if (kernel == 0) {
    MaxPoolPlaneReference(input, g, output, argmax);
    return;
  }
  const FullWindows full = FullWindowsOf(g);
  if (kernel == 2) {
    MaxPoolFullWindowsPortable<2>(input, g.width, full.rows, full.cols, g.pooled_width, output, argmax);
  } else {
    MaxPoolFullWindowsPortable<3>(input, g.width, full.rows, full.cols, g.pooled_width, output, argmax);
  }
  // The border windows that ceil rounding cut short.
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    const int64_t first_col = ph < full.rows ? full.cols : 0;
    for (int64_t pw = first_col; pw < g.pooled_width; ++pw) {
      MaxPoolOutput(input, g, ph, pw, output, argmax);
    }
  }
}

void AvePoolPlanePortable(const float* input, const PoolingGeometry& g, float* output) {
  const int kernel = FastKernelSize(g);
  if (kernel == 0) {
    AvePoolPlaneReference(input, g, output);
    return;
  }
  const FullWindows full = FullWindowsOf(g);
  if (kernel == 2) {
    AvePoolFullWindowsPortable<2>(input, g.width, full.rows, full.cols, g.pooled_width, output);
  } else {
    AvePoolFullWindowsPortable<3>(input, g.width, full.rows, full.cols, g.pooled_width, output);
  }
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    const int64_t first_col = ph < full.rows ? full.cols : 0;
    for (int64_t pw = first_col; pw < g.pooled_width; ++pw) AvePoolOutput(input, g, ph, pw, output);
  }
}

void MaxPoolPlane(const float* input, const PoolingGeometry& g, float* output, int32_t* argmax) {
  const int kernel = FastKernelSize(g);
  if (kernel == 0 || !HasAvx512()) {
    MaxPoolPlanePortable(input, g, output, argmax);
  } else if (kernel == 2) {
    MaxPoolStride2Avx512<2>(input, g, output, argmax);
  } else {
    MaxPoolStride2Avx512<3>(input, g, output, argmax);
  }
}

void AvePoolPlane(const float* input, const PoolingGeometry& g, float* output) {
  const int kernel = FastKernelSize(g);
  if (kernel == 0 || !HasAvx512()) {
    AvePoolPlanePortable(input, g, output);
  } else if (kernel == 2) {
    AvePoolStride2Avx512<2>(input, g, output);
  } else {
    AvePoolStride2Avx512<3>(input, g, output);
  }
}

void MaxPoolBackwardPlane(const float* output_diff, const int32_t* argmax, const PoolingGeometry& g,
                          float* input_diff) {
  std::memset(input_diff, 0, sizeof(float) * g.height * g.width);
  const int64_t outputs = g.pooled_height * g.pooled_width;
  for (int64_t i = 0; i < outputs; ++i) {
    if (argmax[i] >= 0) input_diff[argmax[i]] += output_diff[i];
  }
}

void AvePoolBackwardPlane(const float* output_diff, const PoolingGeometry& g, float* input_diff) {
  std::memset(input_diff, 0, sizeof(float) * g.height * g.width);
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    for (int64_t pw = 0; pw < g.pooled_width; ++pw) {
      const Window window = WindowOf(g, ph, pw);
      const float share = output_diff[ph * g.pooled_width + pw] / static_cast<float>(window.pool_size);
      for (int64_t h = window.h_begin; h < window.h_end; ++h) {
        float* row = input_diff + h * g.width;
        for (int64_t w = window.w_begin; w < window.w_end; ++w) row[w] += share;
      }
    }
  }
}

namespace {

class Pooling : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Pooling"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }
  // A MAX pooling may write the argmax mask as a second top.
  int MaxTopBlobs() const override {
    return layer_param_.pooling_param().pool() == PoolingParameter::MAX ? 2 : 1;
  }
  // The mask holds indices, not values.
  bool QuantizableOutput(int top_index) const override { return top_index == 0; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const PoolingParameter& param = layer_param_.pooling_param();
    const std::string where = Describe();
    global_pooling_ = param.global_pooling();
    if (global_pooling_) {
      CONDENSE_CHECK(!param.has_kernel_size() && !param.has_kernel_h() && !param.has_kernel_w(),
                     where, ": global_pooling takes no kernel_size, kernel_h or kernel_w");
    } else {
      CONDENSE_CHECK(param.has_kernel_size() != (param.has_kernel_h() && param.has_kernel_w()), where,
                     ": give kernel_size or both kernel_h and kernel_w, not both forms");
      CONDENSE_CHECK(param.has_kernel_size() || (param.has_kernel_h() && param.has_kernel_w()), where,
                     ": pooling needs kernel_size, or kernel_h and kernel_w");
      geometry_.kernel_h = param.has_kernel_size() ? param.kernel_size() : param.kernel_h();
      geometry_.kernel_w = param.has_kernel_size() ? param.kernel_size() : param.kernel_w();
      CONDENSE_CHECK(geometry_.kernel_h > 0 && geometry_.kernel_w > 0, where,
                     ": kernel sizes must be positive");
    }
    CONDENSE_CHECK((!param.has_pad() && param.has_pad_h() && param.has_pad_w()) ||
                       (!param.has_pad_h() && !param.has_pad_w()),
                   where, ": give pad, or both pad_h and pad_w");
    CONDENSE_CHECK((!param.has_stride() && param.has_stride_h() && param.has_stride_w()) ||
                       (!param.has_stride_h() && !param.has_stride_w()),
                   where, ": give stride, or both stride_h and stride_w");
    geometry_.pad_h = param.has_pad_h() ? param.pad_h() : param.pad();
    geometry_.pad_w = param.has_pad_w() ? param.pad_w() : param.pad();
    geometry_.stride_h = param.has_stride_h() ? param.stride_h() : param.stride();
    geometry_.stride_w = param.has_stride_w() ? param.stride_w() : param.stride();
    CONDENSE_CHECK(geometry_.stride_h > 0 && geometry_.stride_w > 0, where,
                   ": strides must be positive");
    if (global_pooling_) {
      CONDENSE_CHECK(geometry_.pad_h == 0 && geometry_.pad_w == 0 && geometry_.stride_h == 1 &&
                         geometry_.stride_w == 1,
                     where, ": global_pooling needs pad 0 and stride 1");
    }
    if (geometry_.pad_h != 0 || geometry_.pad_w != 0) {
      CONDENSE_CHECK(param.pool() == PoolingParameter::AVE || param.pool() == PoolingParameter::MAX,
                     where, ": padding works only with MAX and AVE pooling");
      if (!global_pooling_) {
        CONDENSE_CHECK(geometry_.pad_h < geometry_.kernel_h && geometry_.pad_w < geometry_.kernel_w,
                       where, ": pad must be smaller than the kernel");
      }
    }
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const std::string where = Describe();
    const Blob& input = *bottom[0];
    CONDENSE_CHECK(input.num_axes() == 4, where, ": bottom shape ", input.shape_string(),
                   " is not (num, channels, height, width)");
    PoolingGeometry& g = geometry_;
    g.height = input.shape(2);
    g.width = input.shape(3);
    if (global_pooling_) {
      g.kernel_h = g.height;
      g.kernel_w = g.width;
    }
    const bool ceil_mode = layer_param_.pooling_param().round_mode() == PoolingParameter::CEIL;
    g.pooled_height = PooledSize(g.height, g.kernel_h, g.pad_h, g.stride_h, ceil_mode);
    g.pooled_width = PooledSize(g.width, g.kernel_w, g.pad_w, g.stride_w, ceil_mode);
    // With any padding, a last window that would start inside the padding alone is dropped.
    if (g.pad_h != 0 || g.pad_w != 0) {
      if ((g.pooled_height - 1) * g.stride_h >= g.height + g.pad_h) --g.pooled_height;
      if ((g.pooled_width - 1) * g.stride_w >= g.width + g.pad_w) --g.pooled_width;
    }
    CONDENSE_CHECK(g.pooled_height > 0 && g.pooled_width > 0, where, ": bottom shape ",
                   input.shape_string(), " is too small for a ", g.kernel_h, "x", g.kernel_w,
                   " window");
    planes_ = input.shape(0) * input.shape(1);
    for (Blob* blob : top) {
      blob->Reshape({input.shape(0), input.shape(1), g.pooled_height, g.pooled_width});
    }
    const PoolingParameter::PoolMethod method = layer_param_.pooling_param().pool();
    if (method == PoolingParameter::MAX) {
      argmax_.resize(planes_ * g.pooled_height * g.pooled_width);
    } else if (method == PoolingParameter::STOCHASTIC) {
      sampled_.resize(planes_ * g.pooled_height * g.pooled_width);
    }
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const float* input = bottom[0]->data();
    float* output = top[0]->mutable_data();
    const PoolingGeometry& g = geometry_;
    const int64_t input_plane = g.height * g.width;
    const int64_t output_plane = g.pooled_height * g.pooled_width;
    switch (layer_param_.pooling_param().pool()) {
      case PoolingParameter::MAX:
        ParallelFor(planes_, [&](int64_t begin, int64_t end, int) {
          for (int64_t p = begin; p < end; ++p) {
            MaxPoolPlane(input + p * input_plane, g, output + p * output_plane,
                         argmax_.data() + p * output_plane);
          }
        });
        if (top.size() > 1) {
          float* mask = top[1]->mutable_data();
          for (size_t i = 0; i < argmax_.size(); ++i) mask[i] = static_cast<float>(argmax_[i]);
        }
        break;
      case PoolingParameter::AVE:
        ParallelFor(planes_, [&](int64_t begin, int64_t end, int) {
          for (int64_t p = begin; p < end; ++p) {
            AvePoolPlane(input + p * input_plane, g, output + p * output_plane);
          }
        });
        break;
      case PoolingParameter::STOCHASTIC:
        StochasticForward(input, output);
        break;
      default:
        Fail(Describe(), ": unknown pooling_param.pool ", layer_param_.pooling_param().pool());
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const float* output_diff = top[0]->diff();
    float* input_diff = bottom[0]->mutable_diff();
    const PoolingGeometry& g = geometry_;
    const int64_t input_plane = g.height * g.width;
    const int64_t output_plane = g.pooled_height * g.pooled_width;
    const PoolingParameter::PoolMethod method = layer_param_.pooling_param().pool();
    CONDENSE_CHECK(method != PoolingParameter::STOCHASTIC || phase_ == TRAIN, Describe(),
                   ": STOCHASTIC pooling has a gradient only in the TRAIN phase");
    const std::vector<int32_t>& routes = method == PoolingParameter::MAX ? argmax_ : sampled_;
    ParallelFor(planes_, [&](int64_t begin, int64_t end, int) {
      for (int64_t p = begin; p < end; ++p) {
        if (method == PoolingParameter::AVE) {
          AvePoolBackwardPlane(output_diff + p * output_plane, g, input_diff + p * input_plane);
        } else {
          MaxPoolBackwardPlane(output_diff + p * output_plane, routes.data() + p * output_plane, g,
                               input_diff + p * input_plane);
        }
      }
    });
  }

 private:
  static int64_t PooledSize(int64_t input, int64_t kernel, int64_t pad, int64_t stride,
                            bool ceil_mode) {
    // Caffe divides in float; doing the same keeps its rounding on every size.
    const float steps = static_cast<float>(input + 2 * pad - kernel) / static_cast<float>(stride);
    return static_cast<int64_t>(ceil_mode ? std::ceil(steps) : std::floor(steps)) + 1;
  }

  // TRAIN: each window outputs one of its values, drawn with probability proportional to the value
  // (inputs are expected non-negative, e.g. after a ReLU). TEST: the value-weighted average
  // sum(x^2) / sum(x). Windows are unpadded. This follows Caffe's GPU kernels (Caffe has no CPU one).
  void StochasticForward(const float* input, float* output) {
    const PoolingGeometry& g = geometry_;
    const int64_t input_plane = g.height * g.width;
    const int64_t output_plane = g.pooled_height * g.pooled_width;
    std::vector<float> draws;
    if (phase_ == TRAIN) {
      // Drawn up front from the global generator so that the result does not depend on threads.
      draws.resize(planes_ * output_plane);
      FillUniform(static_cast<int64_t>(draws.size()), 0.0f, 1.0f, draws.data());
    }
    ParallelFor(planes_, [&](int64_t begin, int64_t end, int) {
      for (int64_t p = begin; p < end; ++p) {
        const float* plane = input + p * input_plane;
        for (int64_t i = 0; i < output_plane; ++i) {
          const int64_t out = p * output_plane + i;
          const Window window = StochasticWindow(i / g.pooled_width, i % g.pooled_width);
          if (phase_ == TRAIN) {
            const int32_t chosen = SampleWindow(plane, window, draws[out]);
            output[out] = plane[chosen];
            sampled_[out] = chosen;
          } else {
            output[out] = WeightedAverage(plane, window);
          }
        }
      }
    });
  }

  Window StochasticWindow(int64_t ph, int64_t pw) const {
    const PoolingGeometry& g = geometry_;
    const int64_t h_begin = ph * g.stride_h;
    const int64_t w_begin = pw * g.stride_w;
    return {h_begin, std::min(h_begin + g.kernel_h, g.height), w_begin,
            std::min(w_begin + g.kernel_w, g.width), 0};
  }

  // The first position at which the running sum reaches draw * (sum of the window).
  int32_t SampleWindow(const float* plane, const Window& window, float draw) const {
    const int64_t width = geometry_.width;
    float sum = 0.0f;
    for (int64_t h = window.h_begin; h < window.h_end; ++h) {
      for (int64_t w = window.w_begin; w < window.w_end; ++w) sum += plane[h * width + w];
    }
    const float threshold = draw * sum;
    float running = 0.0f;
    int64_t chosen = window.h_begin * width + window.w_begin;
    for (int64_t h = window.h_begin; h < window.h_end; ++h) {
      for (int64_t w = window.w_begin; w < window.w_end; ++w) {
        chosen = h * width + w;
        running += plane[chosen];
        if (running >= threshold) return static_cast<int32_t>(chosen);
      }
    }
    return static_cast<int32_t>(chosen);
  }

  float WeightedAverage(const float* plane, const Window& window) const {
    const int64_t width = geometry_.width;
    float sum = FLT_MIN;  // as Caffe: an all-zero window gives 0, not 0/0
    float weighted = 0.0f;
    for (int64_t h = window.h_begin; h < window.h_end; ++h) {
      for (int64_t w = window.w_begin; w < window.w_end; ++w) {
        const float value = plane[h * width + w];
        sum += value;
        weighted += value * value;
      }
    }
    return weighted / sum;
  }

  PoolingGeometry geometry_;
  bool global_pooling_ = false;
  int64_t planes_ = 0;
  std::vector<int32_t> argmax_;   // MAX: flat index in its plane of each output's maximum
  std::vector<int32_t> sampled_;  // STOCHASTIC in TRAIN: the index each output drew
};

}  // namespace

CONDENSE_REGISTER_LAYER("Pooling", Pooling);

}  // namespace condense
