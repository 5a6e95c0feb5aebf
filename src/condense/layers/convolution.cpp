#include "condense/layers/convolution.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/core/parallel.hpp"
#include "condense/net/filler.hpp"
#include "condense/net/layer_registry.hpp"
#include "condense/quant/integer_accumulator.hpp"
#include "condense/quant/layer_quantization.hpp"

namespace condense {

namespace {

// A spatial parameter: a repeated field given zero times (the default), once, or once per spatial
// axis; or, for 2 spatial axes only, the pair <prefix>_h / <prefix>_w. `pair_needs_both`: a pair
// without a default (kernel, stride) needs both halves.
struct SpatialField {
  const google::protobuf::RepeatedField<uint32_t>& values;
  const char* name;    // "kernel_size"
  const char* prefix;  // "kernel"
  bool has_h;
  bool has_w;
  uint32_t h;
  uint32_t w;
  bool pair_needs_both;
};

std::vector<int64_t> PerAxis(const SpatialField& field, int axes, int64_t default_value,
                             const std::string& where) {
  if (field.has_h || field.has_w) {
    CONDENSE_CHECK(axes == 2, where, ": ", field.prefix, "_h/", field.prefix,
                   "_w need exactly 2 spatial axes, not ", axes);
    CONDENSE_CHECK(field.values.size() == 0, where, ": give either ", field.name, " or ",
                   field.prefix, "_h/", field.prefix, "_w, not both");
    CONDENSE_CHECK(!field.pair_needs_both || (field.has_h && field.has_w), where, ": ", field.prefix,
                   "_h and ", field.prefix, "_w must be given together");
    return {field.h, field.w};
  }
  const int given = field.values.size();
  CONDENSE_CHECK(given == 0 || given == 1 || given == axes, where, ": ", field.name,
                 " must be given once or once per spatial axis (", given, " values for ", axes,
                 " spatial axes)");
  std::vector<int64_t> result(axes, default_value);
  for (int axis = 0; axis < axes && given > 0; ++axis) {
    result[axis] = field.values.Get(given == 1 ? 0 : axis);
  }
  return result;
}

// OpenBLAS is pinned to its AVX2 kernels, which on a machine with full-width AVX-512 leave half of the
// FMA throughput unused; these products of the convolution shapes (one side 32 to 1024 long, the
// other small) run close to twice as fast with a plain 512-bit register-blocked loop. A(i, k) is read
// in place through two strides, so the weights, their transpose and a column matrix need no packing.
#define CONDENSE_AVX512 __attribute__((target("avx512f")))

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") != 0;
  return has;
}

struct GemmOperands {
  const float* a;
  int64_t a_row_stride;
  int64_t a_k_stride;
  const float* b;  // K x N, rows b_stride apart
  int64_t b_stride;
  float* c;  // M x N, rows c_stride apart
  int64_t c_stride;
  // Instead of storing C, add it to the N x M matrix c, rows c_stride apart: a weight gradient comes
  // out transposed, and adding it back here costs far less than a pass of its own.
  bool add_transposed = false;
};

// Rows [0, kRows) and columns [0, 32) of C (masked to the columns that exist) over all of K.
template <int kRows>
CONDENSE_AVX512 void GemmBlockAvx512(const GemmOperands& o, int64_t k_count, __mmask16 low,
                                     __mmask16 high) {
  __m512 sum[kRows][2];
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) sum[i][0] = sum[i][1] = _mm512_setzero_ps();
  const float* a = o.a;
  const float* b = o.b;
  for (int64_t k = 0; k < k_count; ++k, a += o.a_k_stride, b += o.b_stride) {
    const __m512 b_low = _mm512_maskz_loadu_ps(low, b);
    const __m512 b_high = _mm512_maskz_loadu_ps(high, b + 16);
#pragma GCC unroll 8
    for (int i = 0; i < kRows; ++i) {
      const __m512 a_value = _mm512_set1_ps(a[i * o.a_row_stride]);
      sum[i][0] = _mm512_fmadd_ps(a_value, b_low, sum[i][0]);
      sum[i][1] = _mm512_fmadd_ps(a_value, b_high, sum[i][1]);
    }
  }
  if (o.add_transposed) {
    alignas(64) float block[kRows][32];
#pragma GCC unroll 8
    for (int i = 0; i < kRows; ++i) {
      _mm512_store_ps(block[i], sum[i][0]);
      _mm512_store_ps(block[i] + 16, sum[i][1]);
    }
    const int columns = __builtin_popcount(low) + __builtin_popcount(high);
    for (int j = 0; j < columns; ++j) {
      float* target = o.c + j * o.c_stride;
      for (int i = 0; i < kRows; ++i) target[i] += block[i][j];
    }
    return;
  }
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) {
    _mm512_mask_storeu_ps(o.c + i * o.c_stride, low, sum[i][0]);
    _mm512_mask_storeu_ps(o.c + i * o.c_stride + 16, high, sum[i][1]);
  }
}

// C = A * B with C M x N, B K x N row-major, A M x K read as a[i * a_row_stride + k * a_k_stride].
// Column blocks outside, row blocks inside, so a 32-wide strip of B stays in cache for all of A.
CONDENSE_AVX512 void GemmAvx512(int64_t m, int64_t n, int64_t k, const GemmOperands& operands) {
  for (int64_t j = 0; j < n; j += 32) {
    const int64_t left = n - j;
    const __mmask16 low = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1u);
    const __mmask16 high =
        left >= 32 ? 0xFFFF : left > 16 ? static_cast<__mmask16>((1u << (left - 16)) - 1u) : 0;
    for (int64_t i = 0; i < m; i += 8) {
      GemmOperands block = operands;
      block.a += i * operands.a_row_stride;
      block.b += j;
      block.c += operands.add_transposed ? j * operands.c_stride + i : i * operands.c_stride + j;
      switch (std::min<int64_t>(m - i, 8)) {
        case 8: GemmBlockAvx512<8>(block, k, low, high); break;
        case 7: GemmBlockAvx512<7>(block, k, low, high); break;
        case 6: GemmBlockAvx512<6>(block, k, low, high); break;
        case 5: GemmBlockAvx512<5>(block, k, low, high); break;
        case 4: GemmBlockAvx512<4>(block, k, low, high); break;
        case 3: GemmBlockAvx512<3>(block, k, low, high); break;
        case 2: GemmBlockAvx512<2>(block, k, low, high); break;
        default: GemmBlockAvx512<1>(block, k, low, high); break;
      }
    }
  }
}

#undef CONDENSE_AVX512

}  // namespace

void ConvolutionBase::ReadGeometry(const std::vector<Blob*>& bottom) {
  const ConvolutionParameter& param = layer_param_.convolution_param();
  const std::string where = Describe();
  channel_axis_ = bottom[0]->CanonicalAxisIndex(param.axis());
  num_spatial_axes_ = bottom[0]->num_axes() - channel_axis_ - 1;
  CONDENSE_CHECK(num_spatial_axes_ >= 1, where, ": bottom shape ", bottom[0]->shape_string(),
                 " has no spatial axis after the channel axis ", channel_axis_);
  const int axes = num_spatial_axes_;

  CONDENSE_CHECK(param.kernel_size_size() > 0 || param.has_kernel_h() || param.has_kernel_w(), where,
                 ": convolution_param.kernel_size is missing");
  kernel_ = PerAxis({param.kernel_size(), "kernel_size", "kernel", param.has_kernel_h(),
                     param.has_kernel_w(), param.kernel_h(), param.kernel_w(), true},
                    axes, 0, where);
  for (int64_t k : kernel_) CONDENSE_CHECK(k > 0, where, ": kernel sizes must be positive");
  stride_ = PerAxis({param.stride(), "stride", "stride", param.has_stride_h(), param.has_stride_w(),
                     param.stride_h(), param.stride_w(), true},
                    axes, 1, where);
  for (int64_t s : stride_) CONDENSE_CHECK(s > 0, where, ": strides must be positive");
  pad_ = PerAxis({param.pad(), "pad", "pad", param.has_pad_h(), param.has_pad_w(), param.pad_h(),
                  param.pad_w(), false},
                 axes, 0, where);
  dilation_ = PerAxis({param.dilation(), "dilation", "dilation", false, false, 0, 0, false}, axes, 1,
                      where);
  for (int64_t d : dilation_) CONDENSE_CHECK(d > 0, where, ": dilations must be positive");
  // No larger than a blob's axis can be: keeps the output-size arithmetic far from int64 overflow.
  for (const std::vector<int64_t>* sizes : {&kernel_, &stride_, &pad_, &dilation_}) {
    for (int64_t size : *sizes) {
      CONDENSE_CHECK(size <= kMaxBlobCount, where, ": kernel, stride, pad and dilation must be at ",
                     "most ", kMaxBlobCount, ", got ", size);
    }
  }

  is_1x1_ = true;
  for (int axis = 0; axis < axes; ++axis) {
    is_1x1_ = is_1x1_ && kernel_[axis] == 1 && stride_[axis] == 1 && pad_[axis] == 0;
  }
  force_nd_im2col_ = param.force_nd_im2col();
}

void ConvolutionBase::LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  const ConvolutionParameter& param = layer_param_.convolution_param();
  const std::string where = Describe();
  ReadGeometry(bottom);

  channels_ = bottom[0]->shape(channel_axis_);
  // Zero channels would leave the weights and column buffers empty (null) under a product of K = 0.
  CONDENSE_CHECK(channels_ > 0, where, ": bottom shape ", bottom[0]->shape_string(),
                 " has no channels on axis ", channel_axis_);
  num_output_ = param.num_output();
  CONDENSE_CHECK(num_output_ > 0, where, ": convolution_param.num_output must be positive");
  group_ = param.group();
  CONDENSE_CHECK(group_ > 0, where, ": convolution_param.group must be positive");
  CONDENSE_CHECK(channels_ % group_ == 0, where, ": ", channels_,
                 " input channels do not divide into group ", group_);
  CONDENSE_CHECK(num_output_ % group_ == 0, where, ": num_output ", num_output_,
                 " does not divide into group ", group_);
  conv_out_channels_ = reverse_dimensions() ? channels_ : num_output_;
  conv_in_channels_ = reverse_dimensions() ? num_output_ : channels_;
  bias_term_ = param.bias_term();

  std::vector<int64_t> weight_shape = {conv_out_channels_, conv_in_channels_ / group_};
  weight_shape.insert(weight_shape.end(), kernel_.begin(), kernel_.end());
  blobs_.clear();
  blobs_.push_back(std::make_shared<Blob>(weight_shape));
  Fill(param.weight_filler(), blobs_[0].get());
  if (bias_term_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int64_t>{num_output_}));
    Fill(param.bias_filler(), blobs_[1].get());
  }
  param_propagate_down_.assign(blobs_.size(), true);
}

void ConvolutionBase::Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  const std::string where = Describe();
  const Blob& first = *bottom[0];
  CONDENSE_CHECK(first.num_axes() == channel_axis_ + 1 + num_spatial_axes_, where,
                 ": bottom shape ", first.shape_string(), " changed its number of axes");
  CONDENSE_CHECK(first.shape(channel_axis_) == channels_, where, ": bottom shape ",
                 first.shape_string(), " has ", first.shape(channel_axis_), " channels, the weights ",
                 channels_);
  for (size_t i = 1; i < bottom.size(); ++i) {
    CONDENSE_CHECK(bottom[i]->shape() == first.shape(), where, ": all bottoms must have one shape (",
                   first.shape_string(), " vs ", bottom[i]->shape_string(), ")");
  }
  num_ = first.count(0, channel_axis_);

  std::vector<int64_t> bottom_spatial(first.shape().begin() + channel_axis_ + 1, first.shape().end());
  CheckedCount(bottom_spatial, where + " input (spatial axes)");
  std::vector<int64_t> top_spatial(num_spatial_axes_);
  for (int axis = 0; axis < num_spatial_axes_; ++axis) {
    const int64_t extent = dilation_[axis] * (kernel_[axis] - 1) + 1;
    top_spatial[axis] =
        reverse_dimensions()
            ? stride_[axis] * (bottom_spatial[axis] - 1) + extent - 2 * pad_[axis]
            : ConvOutputSize(bottom_spatial[axis], kernel_[axis], pad_[axis], stride_[axis],
                             dilation_[axis]);
    CONDENSE_CHECK(top_spatial[axis] > 0, where, ": bottom shape ", first.shape_string(),
                   " is too small for the kernel (output size ", top_spatial[axis], " on spatial axis ",
                   axis, ")");
  }
  std::vector<int64_t> top_shape(first.shape().begin(), first.shape().begin() + channel_axis_);
  top_shape.push_back(num_output_);
  top_shape.insert(top_shape.end(), top_spatial.begin(), top_spatial.end());
  for (Blob* blob : top) blob->Reshape(top_shape);

  const std::vector<int64_t>& conv_input = reverse_dimensions() ? top_spatial : bottom_spatial;
  const std::vector<int64_t>& conv_output = reverse_dimensions() ? bottom_spatial : top_spatial;
  auto product = [](const std::vector<int64_t>& values) {
    int64_t result = 1;
    for (int64_t v : values) result *= v;
    return result;
  };
  // Checked, not just multiplied: a blob with a zero axis passes the blob's own size check however
  // large its spatial axes are, and buffers below are sized by the spatial product alone.
  conv_output_spatial_ = CheckedCount(conv_output, where + " output (spatial axes)");
  top_spatial_ = CheckedCount(top_spatial, where + " output (spatial axes)");
  bottom_dim_ = first.count(channel_axis_);
  top_dim_ = top[0]->count(channel_axis_);

  kernel_dim_ = conv_in_channels_ / group_ * product(kernel_);
  weight_group_offset_ = conv_out_channels_ / group_ * kernel_dim_;
  column_group_offset_ = kernel_dim_ * conv_output_spatial_;
  output_group_offset_ = conv_out_channels_ / group_ * conv_output_spatial_;

  if (num_spatial_axes_ == 2) {
    geometry_.channels = conv_in_channels_;
    geometry_.height = conv_input[0];
    geometry_.width = conv_input[1];
    geometry_.kernel_h = kernel_[0];
    geometry_.kernel_w = kernel_[1];
    geometry_.pad_h = pad_[0];
    geometry_.pad_w = pad_[1];
    geometry_.stride_h = stride_[0];
    geometry_.stride_w = stride_[1];
    geometry_.dilation_h = dilation_[0];
    geometry_.dilation_w = dilation_[1];
  }
  geometry_nd_.channels = conv_in_channels_;
  geometry_nd_.input_shape = conv_input;
  geometry_nd_.kernel = kernel_;
  geometry_nd_.pad = pad_;
  geometry_nd_.stride = stride_;
  geometry_nd_.dilation = dilation_;

  // Column buffers are sized lazily per thread; drop any that are now too small.
  const int64_t column_count = conv_in_channels_ * product(kernel_) * conv_output_spatial_;
  CheckedCount({column_count}, where + " column buffer");
  for (ThreadScratch& scratch : scratch_) {
    if (scratch.columns && scratch.columns->count() < column_count) scratch.columns.reset();
  }
  if (bias_term_) bias_multiplier_.assign(top_spatial_, 1.0f);
}

void ConvolutionBase::Im2ColImage(const float* input, float* columns) const {
  if (num_spatial_axes_ == 2 && !force_nd_im2col_) {
    Im2Col(input, geometry_, columns);
  } else {
    Im2ColNd(input, geometry_nd_, columns);
  }
}

void ConvolutionBase::Col2ImImage(const float* columns, float* input) const {
  if (num_spatial_axes_ == 2 && !force_nd_im2col_) {
    Col2Im(columns, geometry_, input);
  } else {
    Col2ImNd(columns, geometry_nd_, input);
  }
}

const float* ConvolutionBase::InputColumns(const float* input, float* columns) const {
  if (is_1x1_) return input;
  Im2ColImage(input, columns);
  return columns;
}

void ConvolutionBase::WeightsTimesColumns(const float* columns, float* output) const {
  const float* weights = blobs_[0]->data();
  const int64_t group_outputs = conv_out_channels_ / group_;
  for (int64_t g = 0; g < group_; ++g) {
    if (HasAvx512()) {
      GemmAvx512(group_outputs, conv_output_spatial_, kernel_dim_,
                 {weights + g * weight_group_offset_, kernel_dim_, 1,
                  columns + g * column_group_offset_, conv_output_spatial_,
                  output + g * output_group_offset_, conv_output_spatial_});
      continue;
    }
    Gemm(Transpose::kNo, Transpose::kNo, group_outputs, conv_output_spatial_, kernel_dim_, 1.0f,
         weights + g * weight_group_offset_, columns + g * column_group_offset_, 0.0f,
         output + g * output_group_offset_);
  }
}

void ConvolutionBase::BackwardDataImage(const float* output, float* input, float* columns) const {
  const float* weights = blobs_[0]->data();
  const int64_t group_outputs = conv_out_channels_ / group_;
  float* target = is_1x1_ ? input : columns;
  for (int64_t g = 0; g < group_; ++g) {
    if (HasAvx512()) {
      GemmAvx512(kernel_dim_, conv_output_spatial_, group_outputs,
                 {weights + g * weight_group_offset_, 1, kernel_dim_,
                  output + g * output_group_offset_, conv_output_spatial_,
                  target + g * column_group_offset_, conv_output_spatial_});
      continue;
    }
    Gemm(Transpose::kYes, Transpose::kNo, kernel_dim_, conv_output_spatial_, group_outputs, 1.0f,
         weights + g * weight_group_offset_, output + g * output_group_offset_, 0.0f,
         target + g * column_group_offset_);
  }
  if (!is_1x1_) Col2ImImage(columns, input);
}

void ConvolutionBase::AccumulateWeightGradient(const float* output, const float* columns,
                                               float* weight_diff) const {
  const int64_t group_outputs = conv_out_channels_ / group_;
  if (!HasAvx512()) {
    for (int64_t g = 0; g < group_; ++g) {
      Gemm(Transpose::kNo, Transpose::kYes, group_outputs, kernel_dim_, conv_output_spatial_, 1.0f,
           output + g * output_group_offset_, columns + g * column_group_offset_, 1.0f,
           weight_diff + g * weight_group_offset_);
    }
    return;
  }
  // The kernel wants B with rows along N, so it computes dW^T = columns * output^T, which needs
  // output^T (small: spatial x outputs), and adds the product transposed into weight_diff.
  thread_local std::vector<float> output_t;
  output_t.resize(conv_output_spatial_ * group_outputs);
  for (int64_t g = 0; g < group_; ++g) {
    const float* group_output = output + g * output_group_offset_;
    constexpr int64_t kTile = 16;
    for (int64_t o0 = 0; o0 < group_outputs; o0 += kTile) {
      const int64_t o1 = std::min(o0 + kTile, group_outputs);
      for (int64_t s0 = 0; s0 < conv_output_spatial_; s0 += kTile) {
        const int64_t s1 = std::min(s0 + kTile, conv_output_spatial_);
        for (int64_t o = o0; o < o1; ++o) {
          const float* row = group_output + o * conv_output_spatial_;
          for (int64_t s = s0; s < s1; ++s) output_t[s * group_outputs + o] = row[s];
        }
      }
    }
    GemmOperands operands{columns + g * column_group_offset_, conv_output_spatial_, 1,
                          output_t.data(), group_outputs, weight_diff + g * weight_group_offset_,
                          kernel_dim_};
    operands.add_transposed = true;
    GemmAvx512(kernel_dim_, group_outputs, conv_output_spatial_, operands);
  }
}

int64_t ConvolutionBase::FinishOutputImage(float* top_image, const TensorFormat* output_format) const {
  if (bias_term_) {
    const float* bias = blobs_[1]->data();
    for (int64_t c = 0; c < num_output_; ++c) {
      float* plane = top_image + c * top_spatial_;
      const float value = bias[c];
      for (int64_t i = 0; i < top_spatial_; ++i) plane[i] += value;
    }
  }
  // One image's outputs are still in cache here; one call per image, because each call of the
  // quantizer has a fixed cost that per-plane calls would pay thousands of times a batch.
  return output_format ? output_format->Apply(top_image, top_image, top_dim_, 1, 0, nullptr) : 0;
}

void ConvolutionBase::AccumulateBiasGradient(const float* top_diff_image, float* bias_diff) const {
  Gemv(Transpose::kNo, num_output_, top_spatial_, 1.0f, top_diff_image, bias_multiplier_.data(),
       1.0f, bias_diff);
}

float* ConvolutionBase::ThreadColumns(int thread) {
  if (is_1x1_) return nullptr;
  ThreadScratch& scratch = scratch_[thread];
  if (!scratch.columns) {
    scratch.columns = std::make_unique<AlignedBuffer>(geometry_nd_.column_rows() * conv_output_spatial_);
  }
  return scratch.columns->data();
}

void ConvolutionBase::ForEachImage(const std::function<void(int64_t, float*)>& body) {
  if (static_cast<int>(scratch_.size()) < ThreadCount()) scratch_.resize(ThreadCount());
  ParallelFor(num_, [&](int64_t begin, int64_t end, int thread) {
    float* columns = ThreadColumns(thread);
    for (int64_t image = begin; image < end; ++image) body(image, columns);
  });
}

void ConvolutionBase::ForEachImageAccumulating(
    bool weight_gradient, bool bias_gradient,
    const std::function<void(int64_t, float*, float*, float*)>& body) {
  if (static_cast<int>(scratch_.size()) < ThreadCount()) scratch_.resize(ThreadCount());
  for (ThreadScratch& scratch : scratch_) scratch.used = false;
  const int64_t weight_count = blobs_[0]->count();
  float* weight_diff = weight_gradient ? blobs_[0]->mutable_diff() : nullptr;
  float* bias_diff = bias_gradient ? blobs_[1]->mutable_diff() : nullptr;

  // Thread 0 adds straight into the blobs; the others into zeroed buffers of their own.
  auto partial = [](std::unique_ptr<AlignedBuffer>* buffer, int64_t count) {
    if (!*buffer || (*buffer)->count() < count) *buffer = std::make_unique<AlignedBuffer>(count);
    Set(count, 0.0f, (*buffer)->data());
    return (*buffer)->data();
  };
  ParallelFor(num_, [&](int64_t begin, int64_t end, int thread) {
    ThreadScratch& scratch = scratch_[thread];
    scratch.used = true;
    float* columns = ThreadColumns(thread);
    float* thread_weight_diff = weight_diff;
    float* thread_bias_diff = bias_diff;
    if (thread > 0) {
      if (weight_diff) thread_weight_diff = partial(&scratch.weight_diff, weight_count);
      if (bias_diff) thread_bias_diff = partial(&scratch.bias_diff, num_output_);
    }
    for (int64_t image = begin; image < end; ++image) {
      body(image, columns, thread_weight_diff, thread_bias_diff);
    }
  });
  for (size_t thread = 1; thread < scratch_.size(); ++thread) {
    const ThreadScratch& scratch = scratch_[thread];
    if (!scratch.used) continue;
    if (weight_diff) Axpy(weight_count, 1.0f, scratch.weight_diff->data(), weight_diff);
    if (bias_diff) Axpy(num_output_, 1.0f, scratch.bias_diff->data(), bias_diff);
  }
}

void ConvolutionBase::ForwardInteger(const AccumulatorSpec& spec, const std::vector<Blob*>& bottom,
                                     const std::vector<Blob*>& top) {
  CONDENSE_CHECK(!reverse_dimensions(), Describe(), ": accumulator_bits needs a forward convolution");
  const std::string where = Describe() + ": accumulator_bits: ";
  const ParameterCodes codes =
      ToParameterCodes(spec, blobs_[0]->data(), blobs_[0]->count(),
                       bias_term_ ? blobs_[1]->data() : nullptr, num_output_, where);
  QuantizeStats* stats = quantization()->accumulator_stats();
  if (static_cast<int>(scratch_.size()) < ThreadCount()) scratch_.resize(ThreadCount());
  std::vector<QuantizeStats> thread_stats(ThreadCount());
  const int64_t group_outputs = conv_out_channels_ / group_;
  const int64_t group_columns = kernel_dim_ * conv_output_spatial_;
  std::vector<SaturatingDotProducts> groups;
  for (int64_t g = 0; g < group_; ++g) {
    groups.emplace_back(spec, codes.weights.data() + g * weight_group_offset_, group_outputs,
                        kernel_dim_, codes.bias.empty() ? nullptr : codes.bias.data() + g * group_outputs);
  }
  for (size_t i = 0; i < bottom.size(); ++i) {
    const float* bottom_data = bottom[i]->data();
    float* top_data = top[i]->mutable_data();
    const std::string input_name = StrCat(where, "input ", i);
    ParallelFor(num_, [&](int64_t begin, int64_t end, int thread) {
      float* columns = ThreadColumns(thread);
      // The kernel wants each output position's K inputs side by side: the column matrix transposed.
      std::vector<int32_t> column_codes(group_columns);
      std::vector<int32_t> position_codes(group_columns);
      for (int64_t image = begin; image < end; ++image) {
        const float* image_columns = InputColumns(bottom_data + image * bottom_dim_, columns);
        for (int64_t g = 0; g < group_; ++g) {
          ToIntegerCodes(image_columns + g * column_group_offset_, group_columns, spec.input,
                         column_codes.data(), input_name);
          for (int64_t k = 0; k < kernel_dim_; ++k) {
            for (int64_t p = 0; p < conv_output_spatial_; ++p) {
              position_codes[p * kernel_dim_ + k] = column_codes[k * conv_output_spatial_ + p];
            }
          }
          IntegerDotProducts products;
          products.inputs = position_codes.data();
          products.rows = conv_output_spatial_;
          products.out = top_data + image * top_dim_ + g * output_group_offset_;
          products.out_row_stride = 1;
          products.out_output_stride = conv_output_spatial_;
          groups[g].Compute(products, stats ? &thread_stats[thread] : nullptr);
        }
      }
    });
  }
  if (!stats) return;
  for (const QuantizeStats& part : thread_stats) stats->Merge(part);
}

void ConvolutionBase::ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  if (const AccumulatorSpec* spec = quantization() ? quantization()->accumulator() : nullptr) {
    ForwardInteger(*spec, bottom, top);
    return;
  }
  const TensorFormat* output_format = quantization() ? quantization()->FusibleOutputFormat() : nullptr;
  for (size_t i = 0; i < bottom.size(); ++i) {
    const float* bottom_data = bottom[i]->data();
    float* top_data = top[i]->mutable_data();
    std::atomic<int64_t> saturated{0};
    ForEachImage([&](int64_t image, float* columns) {
      float* output = top_data + image * top_dim_;
      ForwardImage(bottom_data + image * bottom_dim_, output, columns);
      const int64_t clipped = FinishOutputImage(output, output_format);
      if (clipped > 0) saturated += clipped;
    });
    if (output_format) quantization()->OutputQuantized(static_cast<int>(i), saturated.load());
  }
}

void ConvolutionBase::BackwardCpu(const std::vector<Blob*>& top,
                                  const std::vector<bool>& propagate_down,
                                  const std::vector<Blob*>& bottom) {
  const bool weight_gradient = param_propagate_down(0);
  const bool bias_gradient = bias_term_ && param_propagate_down(1);
  for (size_t i = 0; i < top.size(); ++i) {
    const bool data_gradient = propagate_down[i];
    if (!weight_gradient && !bias_gradient && !data_gradient) continue;
    const float* top_diff = top[i]->diff();
    const float* bottom_data = bottom[i]->data();
    float* bottom_diff = data_gradient ? bottom[i]->mutable_diff() : nullptr;
    ForEachImageAccumulating(
        weight_gradient, bias_gradient,
        [&](int64_t image, float* columns, float* weight_diff, float* bias_diff) {
          const float* image_top_diff = top_diff + image * top_dim_;
          if (bias_diff) AccumulateBiasGradient(image_top_diff, bias_diff);
          if (!weight_diff && !bottom_diff) return;
          BackwardImage(image_top_diff, bottom_data + image * bottom_dim_,
                        bottom_diff ? bottom_diff + image * bottom_dim_ : nullptr, weight_diff,
                        columns);
        });
  }
}

namespace {

class Convolution : public ConvolutionBase {
 public:
  using ConvolutionBase::ConvolutionBase;
  const char* type() const override { return "Convolution"; }
  bool SupportsIntegerAccumulator() const override { return true; }

 protected:
  bool reverse_dimensions() const override { return false; }

  void ForwardImage(const float* bottom, float* top, float* columns) const override {
    WeightsTimesColumns(InputColumns(bottom, columns), top);
  }

  void BackwardImage(const float* top_diff, const float* bottom, float* bottom_diff,
                     float* weight_diff, float* columns) const override {
    if (weight_diff) AccumulateWeightGradient(top_diff, InputColumns(bottom, columns), weight_diff);
    if (bottom_diff) BackwardDataImage(top_diff, bottom_diff, columns);
  }
};

}  // namespace

CONDENSE_REGISTER_LAYER("Convolution", Convolution);

}  // namespace condense
