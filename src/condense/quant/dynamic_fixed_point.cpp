#include "condense/quant/dynamic_fixed_point.hpp"

#include <cmath>

#include "condense/core/error.hpp"
#include "quantize_kernel.hpp"

namespace condense {

namespace {

// What the fast ops need, precomputed once per call.
struct DfpConstants {
  float scale;      // 2^fl: x * scale is the value in steps
  float inv_scale;  // 2^-fl
  float k_max;      // 2^(bw-1) - 1 as a float (rounded for bw > 25)
  float k_min;      // -2^(bw-1)
  float bound;      // 2^(bw-1): a rounded k >= bound or < -bound was clipped (exact even where k_max is not)

  explicit DfpConstants(const DynamicFixedPoint& format)
      : scale(std::ldexp(1.0f, format.fractional_bits)),
        inv_scale(std::ldexp(1.0f, -format.fractional_bits)),
        k_max(static_cast<float>(std::ldexp(1.0, format.bit_width - 1) - 1.0)),
        k_min(-std::ldexp(1.0f, format.bit_width - 1)),
        bound(std::ldexp(1.0f, format.bit_width - 1)) {}
};

struct DfpPortable {
  DfpConstants c;
  explicit DfpPortable(const DfpConstants& constants) : c(constants) {}
  template <bool kStochastic>
  float Apply(float x, uint32_t draw, bool* clipped) const {
    const float y = x * c.scale;
    float k = kStochastic ? FloorPlusDraw(y, draw) : RoundHalfAway(y);
    *clipped = k >= c.bound || k < -c.bound;
    // Written so that NaN falls through both comparisons unchanged.
    k = k > c.k_max ? c.k_max : k;
    k = k < c.k_min ? c.k_min : k;
    return WithSignOf(k * c.inv_scale, x);
  }
};

struct DfpAvx2 {
  __m256 scale, inv_scale, k_max, k_min, bound, negative_bound;
  CONDENSE_TARGET_AVX2 explicit DfpAvx2(const DfpConstants& c)
      : scale(_mm256_set1_ps(c.scale)), inv_scale(_mm256_set1_ps(c.inv_scale)),
        k_max(_mm256_set1_ps(c.k_max)), k_min(_mm256_set1_ps(c.k_min)), bound(_mm256_set1_ps(c.bound)),
        negative_bound(_mm256_set1_ps(-c.bound)) {}
  template <bool kStochastic>
  CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 Apply(__m256 x, __m256i draws, __m256* clipped) const {
    const __m256 y = _mm256_mul_ps(x, scale);
    __m256 k = kStochastic ? FloorPlusDraw256(y, draws) : RoundHalfAway256(y);
    *clipped = _mm256_or_ps(_mm256_cmp_ps(k, bound, _CMP_GE_OQ), _mm256_cmp_ps(k, negative_bound, _CMP_LT_OQ));
    // min/max return their second operand when either is NaN, so NaN passes through.
    k = _mm256_max_ps(k_min, _mm256_min_ps(k_max, k));
    return WithSignOf256(_mm256_mul_ps(k, inv_scale), x);
  }
};

struct DfpAvx512 {
  __m512 scale, inv_scale, k_max, k_min, bound, negative_bound;
  CONDENSE_TARGET_AVX512 explicit DfpAvx512(const DfpConstants& c)
      : scale(_mm512_set1_ps(c.scale)), inv_scale(_mm512_set1_ps(c.inv_scale)),
        k_max(_mm512_set1_ps(c.k_max)), k_min(_mm512_set1_ps(c.k_min)), bound(_mm512_set1_ps(c.bound)),
        negative_bound(_mm512_set1_ps(-c.bound)) {}
  template <bool kStochastic>
  CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 Apply(__m512 x, __m512i draws,
                                                             __mmask16* clipped) const {
    const __m512 y = _mm512_mul_ps(x, scale);
    __m512 k = kStochastic ? FloorPlusDraw512(y, draws) : RoundHalfAway512(y);
    *clipped = _mm512_cmp_ps_mask(k, bound, _CMP_GE_OQ) | _mm512_cmp_ps_mask(k, negative_bound, _CMP_LT_OQ);
    k = _mm512_max_ps(k_min, _mm512_min_ps(k_max, k));
    return WithSignOf512(_mm512_mul_ps(k, inv_scale), x);
  }
};

// The reference: the definition in the header, in double, where every step is exact.
float ReferenceQuantize(const DynamicFixedPoint& format, float x, bool stochastic, float u,
                        bool* saturated) {
  if (saturated) *saturated = false;
  if (std::isnan(x)) return x;
  const double k_max = std::ldexp(1.0, format.bit_width - 1) - 1.0;
  const double k_min = -std::ldexp(1.0, format.bit_width - 1);
  double k = x;  // +-infinity stay infinite and clip below
  if (std::isfinite(x)) {
    const double y = std::ldexp(static_cast<double>(x), format.fractional_bits);
    k = stochastic ? FloorPlusDraw(y, u) : std::round(y);
  }
  const bool clipped = k > k_max || k < k_min;
  if (saturated) *saturated = clipped;
  k = std::fmin(std::fmax(k, k_min), k_max);
  return std::copysign(static_cast<float>(std::ldexp(k, -format.fractional_bits)), x);
}

}  // namespace

void DynamicFixedPoint::Validate(const std::string& where, const char* bit_width_field,
                                 const char* fractional_bits_field) const {
  CONDENSE_CHECK(bit_width >= 1 && bit_width <= 32, where, bit_width_field, " = ", bit_width,
                 ": a dynamic fixed point word width must be 1 to 32 bits");
  CONDENSE_CHECK(fractional_bits >= -126 && fractional_bits <= 126, where, fractional_bits_field, " = ",
                 fractional_bits,
                 ": a fractional length must lie in [-126, 126] (steps of 2^126 down to 2^-126, "
                 "float32's normal range)");
  CONDENSE_CHECK(fractional_bits >= bit_width - 128, where, fractional_bits_field, " = ", fractional_bits,
                 " with ", bit_width_field, " = ", bit_width, ": the largest value 2^",
                 bit_width - 1 - fractional_bits, " would overflow float32 (the fractional length must "
                 "be at least the word width - 128)");
}

float DynamicFixedPoint::Step() const { return std::ldexp(1.0f, -fractional_bits); }

float DynamicFixedPoint::MaxValue() const {
  return static_cast<float>(std::ldexp(std::ldexp(1.0, bit_width - 1) - 1.0, -fractional_bits));
}

float DynamicFixedPoint::MinValue() const {
  return static_cast<float>(-std::ldexp(1.0, bit_width - 1 - fractional_bits));
}

std::string DynamicFixedPoint::Describe() const {
  return StrCat("dynamic fixed point ", bit_width, " bits, fractional length ", fractional_bits,
                " (step ", Step(), ", range [", MinValue(), ", ", MaxValue(), "])");
}

float DynamicFixedPoint::Quantize(float x, bool* saturated) const {
  return ReferenceQuantize(*this, x, false, 0.0f, saturated);
}

float DynamicFixedPoint::QuantizeStochastic(float x, float u, bool* saturated) const {
  return ReferenceQuantize(*this, x, true, u, saturated);
}

int64_t DynamicFixedPoint::QuantizeArray(const float* in, float* out, int64_t n, Rounding rounding,
                                         uint64_t seed, uint64_t first_index,
                                         QuantizeStats* stats) const {
  Validate("dynamic fixed point quantizer: ");
  return RunQuantizeKernel<DfpPortable, DfpAvx2, DfpAvx512>(DfpConstants(*this), in, out, n, rounding,
                                                           seed, first_index, stats);
}

}  // namespace condense
