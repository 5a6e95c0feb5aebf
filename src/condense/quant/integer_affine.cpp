#include "condense/quant/integer_affine.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "condense/core/error.hpp"
#include "quantize_kernel.hpp"

namespace condense {

namespace {

constexpr int kMaxAffineBits = 24;  // q and q - zero_point stay exact in float

struct AffineConstants {
  float scale, zero_point, q_min, q_max;
  explicit AffineConstants(const AffineQuantizer& quantizer)
      : scale(quantizer.scale),
        zero_point(static_cast<float>(quantizer.zero_point)),
        q_min(static_cast<float>(quantizer.q_min)),
        q_max(static_cast<float>(quantizer.q_max)) {}
};

// k + zero_point is exact whenever it lands inside [q_min, q_max]; outside, float rounding keeps it
// outside (the bounds are exact and rounding is monotone), so clipping and counting stay exact.
struct AffinePortable {
  AffineConstants c;
  explicit AffinePortable(const AffineConstants& constants) : c(constants) {}
  template <bool kStochastic>
  float Apply(float x, uint32_t draw, bool* clipped) const {
    const float y = x / c.scale;
    float q = (kStochastic ? FloorPlusDraw(y, draw) : RoundHalfAway(y)) + c.zero_point;
    *clipped = q > c.q_max || q < c.q_min;
    q = q > c.q_max ? c.q_max : q;  // NaN falls through
    q = q < c.q_min ? c.q_min : q;
    return (q - c.zero_point) * c.scale;
  }
};

struct AffineAvx2 {
  __m256 scale, zero_point, q_min, q_max;
  CONDENSE_TARGET_AVX2 explicit AffineAvx2(const AffineConstants& c)
      : scale(_mm256_set1_ps(c.scale)), zero_point(_mm256_set1_ps(c.zero_point)),
        q_min(_mm256_set1_ps(c.q_min)), q_max(_mm256_set1_ps(c.q_max)) {}
  template <bool kStochastic>
  CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 Apply(__m256 x, __m256i draws, __m256* clipped) const {
    const __m256 y = _mm256_div_ps(x, scale);
    __m256 q = _mm256_add_ps(kStochastic ? FloorPlusDraw256(y, draws) : RoundHalfAway256(y), zero_point);
    *clipped = _mm256_or_ps(_mm256_cmp_ps(q, q_max, _CMP_GT_OQ), _mm256_cmp_ps(q, q_min, _CMP_LT_OQ));
    q = _mm256_max_ps(q_min, _mm256_min_ps(q_max, q));  // NaN, the second operand, passes
    return _mm256_mul_ps(_mm256_sub_ps(q, zero_point), scale);
  }
};

struct AffineAvx512 {
  __m512 scale, zero_point, q_min, q_max;
  CONDENSE_TARGET_AVX512 explicit AffineAvx512(const AffineConstants& c)
      : scale(_mm512_set1_ps(c.scale)), zero_point(_mm512_set1_ps(c.zero_point)),
        q_min(_mm512_set1_ps(c.q_min)), q_max(_mm512_set1_ps(c.q_max)) {}
  template <bool kStochastic>
  CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 Apply(__m512 x, __m512i draws,
                                                             __mmask16* clipped) const {
    const __m512 y = _mm512_div_ps(x, scale);
    __m512 q = _mm512_add_ps(kStochastic ? FloorPlusDraw512(y, draws) : RoundHalfAway512(y), zero_point);
    *clipped = _mm512_cmp_ps_mask(q, q_max, _CMP_GT_OQ) | _mm512_cmp_ps_mask(q, q_min, _CMP_LT_OQ);
    q = _mm512_max_ps(q_min, _mm512_min_ps(q_max, q));
    return _mm512_mul_ps(_mm512_sub_ps(q, zero_point), scale);
  }
};

float ReferenceQuantize(const AffineQuantizer& quantizer, float x, bool stochastic, float u,
                        bool* saturated) {
  if (saturated) *saturated = false;
  if (std::isnan(x)) return x;
  double q = x;  // +-infinity clip below
  if (std::isfinite(x)) {
    const double y = x / quantizer.scale;  // the division is part of the definition: in float
    q = (stochastic ? FloorPlusDraw(y, u) : std::round(y)) + quantizer.zero_point;
  }
  const bool clipped = q > quantizer.q_max || q < quantizer.q_min;
  if (saturated) *saturated = clipped;
  q = std::min(std::max(q, static_cast<double>(quantizer.q_min)), static_cast<double>(quantizer.q_max));
  return static_cast<float>((q - quantizer.zero_point) * static_cast<double>(quantizer.scale));
}

// A scale the kernels can divide by: at least the smallest normal float, at most the largest.
double UsableScale(double scale) {
  return std::min(std::max(scale, static_cast<double>(FLT_MIN)), static_cast<double>(FLT_MAX));
}

}  // namespace

void AffineScheme::Validate(const std::string& where, const char* bits_field) const {
  const int min_bits = symmetric ? 2 : 1;
  CONDENSE_CHECK(bits >= min_bits && bits <= kMaxAffineBits, where, bits_field, " = ", bits, ": ",
                 symmetric ? "symmetric" : "asymmetric", " integer quantization needs ", min_bits, " to ",
                 kMaxAffineBits, " bits");
}

int32_t AffineScheme::QMin() const {
  const int32_t lowest = is_signed ? -(int32_t{1} << (bits - 1)) : 0;
  return symmetric ? lowest + 1 : lowest;
}

int32_t AffineScheme::QMax() const {
  return is_signed ? (int32_t{1} << (bits - 1)) - 1 : (int32_t{1} << bits) - 1;
}

std::string AffineScheme::Describe() const {
  return StrCat(is_signed ? "int" : "uint", bits, symmetric ? " symmetric" : " asymmetric");
}

void AffineQuantizer::Validate(const std::string& where) const {
  CONDENSE_CHECK(std::isfinite(scale) && scale >= FLT_MIN, where, "scale = ", scale,
                 ": an integer quantizer's scale must be a positive normal float");
  const int32_t limit = int32_t{1} << kMaxAffineBits;
  CONDENSE_CHECK(q_min < q_max && q_min >= -limit && q_max < limit, where, "integer range [", q_min, ", ",
                 q_max, "] must be non-empty and within +-2^", kMaxAffineBits);
  CONDENSE_CHECK(zero_point >= q_min && zero_point <= q_max, where, "zero_point = ", zero_point,
                 " lies outside the integer range [", q_min, ", ", q_max, "]");
}

float AffineQuantizer::MinValue() const {
  return static_cast<float>(static_cast<double>(q_min - zero_point) * scale);
}

float AffineQuantizer::MaxValue() const {
  return static_cast<float>(static_cast<double>(q_max - zero_point) * scale);
}

float AffineQuantizer::Quantize(float x, bool* saturated) const {
  return ReferenceQuantize(*this, x, false, 0.0f, saturated);
}

float AffineQuantizer::QuantizeStochastic(float x, float u, bool* saturated) const {
  return ReferenceQuantize(*this, x, true, u, saturated);
}

int64_t AffineQuantizer::QuantizeArray(const float* in, float* out, int64_t n, Rounding rounding,
                                       uint64_t seed, uint64_t first_index, QuantizeStats* stats) const {
  Validate("integer quantizer: ");
  return RunQuantizeKernel<AffinePortable, AffineAvx2, AffineAvx512>(AffineConstants(*this), in, out, n,
                                                                    rounding, seed, first_index, stats);
}

AffineQuantizer ChooseAffineQuantizer(const AffineScheme& scheme, float min, float max,
                                      const std::string& where) {
  scheme.Validate(where);
  CONDENSE_CHECK(std::isfinite(min) && std::isfinite(max), where, "range [", min, ", ", max,
                 "] must be finite to choose an integer scale");
  CONDENSE_CHECK(min <= max, where, "range minimum ", min, " is greater than its maximum ", max);
  AffineQuantizer quantizer;
  quantizer.q_min = scheme.QMin();
  quantizer.q_max = scheme.QMax();
  const double q_min = quantizer.q_min;
  const double q_max = quantizer.q_max;
  if (scheme.symmetric) {
    quantizer.zero_point = scheme.is_signed ? 0 : int32_t{1} << (scheme.bits - 1);
    const double largest = std::max(std::fabs(static_cast<double>(min)), std::fabs(static_cast<double>(max)));
    const double half_range = static_cast<double>((int32_t{1} << (scheme.bits - 1)) - 1);
    quantizer.scale = static_cast<float>(largest > 0 ? UsableScale(largest / half_range) : 1.0);
    return quantizer;
  }
  const double range_min = std::min(static_cast<double>(min), 0.0);
  const double range_max = std::max(static_cast<double>(max), 0.0);
  if (range_min == range_max) {  // the single point 0: any scale represents it
    quantizer.scale = 1.0f;
    quantizer.zero_point = std::min(std::max(0, quantizer.q_min), quantizer.q_max);
    return quantizer;
  }
  const double scale = UsableScale((range_max - range_min) / (q_max - q_min));
  // Solve the zero point from the end whose terms are smaller (less rounding error), then nudge it to
  // an integer inside the range so that real 0 is exactly representable.
  const double from_min = q_min - range_min / scale;
  const double from_max = q_max - range_max / scale;
  const double from_min_error = std::fabs(q_min) + std::fabs(range_min / scale);
  const double from_max_error = std::fabs(q_max) + std::fabs(range_max / scale);
  const double zero_point = from_min_error < from_max_error ? from_min : from_max;
  quantizer.zero_point = zero_point < q_min   ? quantizer.q_min
                         : zero_point > q_max ? quantizer.q_max
                                              : static_cast<int32_t>(std::round(zero_point));
  quantizer.scale = static_cast<float>(scale);
  return quantizer;
}

std::vector<AffineQuantizer> ChoosePerChannelQuantizers(const AffineScheme& scheme, const float* data,
                                                        int64_t channels, int64_t channel_size,
                                                        const std::string& where) {
  CONDENSE_CHECK(channels >= 0 && channel_size >= 0, where, "per-channel quantization of ", channels,
                 " channels of ", channel_size, " values");
  std::vector<AffineQuantizer> quantizers;
  quantizers.reserve(static_cast<size_t>(channels));
  for (int64_t channel = 0; channel < channels; ++channel) {
    const float* values = data + channel * channel_size;
    float min = 0.0f, max = 0.0f;
    bool seen = false;
    for (int64_t i = 0; i < channel_size; ++i) {
      if (!std::isfinite(values[i])) continue;
      min = seen ? std::min(min, values[i]) : values[i];
      max = seen ? std::max(max, values[i]) : values[i];
      seen = true;
    }
    quantizers.push_back(ChooseAffineQuantizer(scheme, min, max, StrCat(where, "channel ", channel, ": ")));
  }
  return quantizers;
}

int64_t QuantizePerChannel(const std::vector<AffineQuantizer>& quantizers, const float* in, float* out,
                           int64_t channel_size, Rounding rounding, uint64_t seed, uint64_t first_index,
                           QuantizeStats* stats) {
  int64_t saturated = 0;
  for (size_t channel = 0; channel < quantizers.size(); ++channel) {
    const int64_t offset = static_cast<int64_t>(channel) * channel_size;
    saturated += quantizers[channel].QuantizeArray(in + offset, out + offset, channel_size, rounding, seed,
                                                   first_index + static_cast<uint64_t>(offset), stats);
  }
  return saturated;
}

}  // namespace condense
