#include "condense/quant/minifloat.hpp"

#include <algorithm>
#include <cmath>

#include "condense/core/error.hpp"
#include "quantize_kernel.hpp"

namespace condense {

namespace {

// The fast ops round the magnitude's float32 bit pattern at bit `shift`: 23 - m stored mantissa bits
// are dropped in the normal range, more below the smallest normal (where the step stops shrinking).
// Adding half a step to the pattern and clearing the low bits rounds half away from zero, and a carry
// out of the mantissa lands in the exponent as it should. When even the implicit leading bit lies below
// the rounding point (shift > 23) the value is less than one subnormal step and the result is 0 or
// that step, decided by a comparison.
struct MinifloatConstants {
  int32_t shift_base;          // 23 - m
  int32_t min_normal_biased;   // float32 biased exponent of the smallest normal, 1 - bias + 127
  uint32_t max_bits;           // bit pattern of the largest finite value
  uint32_t step_bits;          // bit pattern of the subnormal step 2^(1 - bias - m)
  uint32_t half_step_bits;     // ... and of half of it
  float step;

  explicit MinifloatConstants(const Minifloat& format)
      : shift_base(23 - format.mantissa_bits),
        min_normal_biased(1 - format.ExponentBias() + 127),
        max_bits(FloatBits(format.MaxValue())),
        step_bits(FloatBits(format.MinSubnormal())),
        half_step_bits(FloatBits(format.MinSubnormal() * 0.5f)),
        step(format.MinSubnormal()) {}
};

struct MinifloatPortable {
  MinifloatConstants c;
  explicit MinifloatPortable(const MinifloatConstants& constants) : c(constants) {}
  template <bool kStochastic>
  float Apply(float x, uint32_t draw, bool* clipped) const {
    const uint32_t bits = FloatBits(x);
    const uint32_t magnitude = bits & kAbsMask;
    *clipped = false;
    if (magnitude > kInfinityBits) return x;  // NaN
    const int32_t exponent = std::max<int32_t>(static_cast<int32_t>(magnitude >> 23), 1);
    const int32_t shift = c.shift_base + std::max<int32_t>(c.min_normal_biased - exponent, 0);
    uint32_t q;
    if (shift > 23) {
      const bool up = kStochastic
                          ? BitsFloat(magnitude) >= static_cast<float>(kDrawRange - draw) * kDrawUnit * c.step
                          : magnitude >= c.half_step_bits;
      q = up ? c.step_bits : 0u;
    } else {
      const uint32_t unit = 1u << shift;
      const uint32_t low_mask = unit - 1;
      if (kStochastic) {
        const bool up = ((magnitude & low_mask) << (24 - shift)) + draw >= kDrawRange;
        q = (magnitude & ~low_mask) + (up ? unit : 0u);
      } else {
        q = (magnitude + (unit >> 1)) & ~low_mask;
      }
    }
    if (q > c.max_bits) {
      *clipped = true;
      q = c.max_bits;
    }
    return BitsFloat(q | (bits & kSignBit));
  }
};

struct MinifloatAvx2 {
  __m256i shift_base, min_normal_biased, max_bits, step_bits, half_step_bits_minus_one;
  __m256 step;
  CONDENSE_TARGET_AVX2 explicit MinifloatAvx2(const MinifloatConstants& c)
      : shift_base(_mm256_set1_epi32(c.shift_base)),
        min_normal_biased(_mm256_set1_epi32(c.min_normal_biased)),
        max_bits(_mm256_set1_epi32(static_cast<int32_t>(c.max_bits))),
        step_bits(_mm256_set1_epi32(static_cast<int32_t>(c.step_bits))),
        half_step_bits_minus_one(_mm256_set1_epi32(static_cast<int32_t>(c.half_step_bits) - 1)),
        step(_mm256_set1_ps(c.step)) {}
  // All patterns compared here are below 2^31, so AVX2's signed comparisons serve.
  template <bool kStochastic>
  CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 Apply(__m256 x, __m256i draws, __m256* clipped) const {
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i bits = _mm256_castps_si256(x);
    const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(kAbsMask));
    const __m256i exponent = _mm256_max_epi32(_mm256_srli_epi32(magnitude, 23), one);
    const __m256i shift = _mm256_add_epi32(
        shift_base, _mm256_max_epi32(_mm256_sub_epi32(min_normal_biased, exponent), _mm256_setzero_si256()));
    const __m256i below_one_step = _mm256_cmpgt_epi32(shift, _mm256_set1_epi32(23));
    const __m256i clamped_shift = _mm256_min_epi32(shift, _mm256_set1_epi32(23));
    const __m256i unit = _mm256_sllv_epi32(one, clamped_shift);
    const __m256i low_mask = _mm256_sub_epi32(unit, one);
    __m256i rounded, tiny;
    if (kStochastic) {
      const __m256i scaled_low = _mm256_sllv_epi32(_mm256_and_si256(magnitude, low_mask),
                                                   _mm256_sub_epi32(_mm256_set1_epi32(24), clamped_shift));
      const __m256i up = _mm256_cmpgt_epi32(_mm256_add_epi32(scaled_low, draws),
                                            _mm256_set1_epi32(kDrawRange - 1));
      rounded = _mm256_add_epi32(_mm256_andnot_si256(low_mask, magnitude), _mm256_and_si256(up, unit));
      const __m256 threshold = _mm256_mul_ps(OneMinusDraw256(draws), step);
      const __m256 up_tiny = _mm256_cmp_ps(_mm256_castsi256_ps(magnitude), threshold, _CMP_GE_OQ);
      tiny = _mm256_and_si256(_mm256_castps_si256(up_tiny), step_bits);
    } else {
      rounded = _mm256_andnot_si256(low_mask, _mm256_add_epi32(magnitude, _mm256_srli_epi32(unit, 1)));
      tiny = _mm256_and_si256(_mm256_cmpgt_epi32(magnitude, half_step_bits_minus_one), step_bits);
    }
    __m256i q = _mm256_blendv_epi8(rounded, tiny, below_one_step);
    const __m256i not_nan = _mm256_cmpgt_epi32(_mm256_set1_epi32(kInfinityBits + 1), magnitude);
    const __m256i over = _mm256_and_si256(_mm256_cmpgt_epi32(q, max_bits), not_nan);
    *clipped = _mm256_castsi256_ps(over);
    q = _mm256_blendv_epi8(q, max_bits, over);
    q = _mm256_or_si256(q, _mm256_andnot_si256(_mm256_set1_epi32(kAbsMask), bits));
    return _mm256_castsi256_ps(_mm256_blendv_epi8(bits, q, not_nan));
  }
};

struct MinifloatAvx512 {
  __m512i shift_base, min_normal_biased, max_bits, step_bits, half_step_bits;
  __m512 step;
  CONDENSE_TARGET_AVX512 explicit MinifloatAvx512(const MinifloatConstants& c)
      : shift_base(_mm512_set1_epi32(c.shift_base)),
        min_normal_biased(_mm512_set1_epi32(c.min_normal_biased)),
        max_bits(_mm512_set1_epi32(static_cast<int32_t>(c.max_bits))),
        step_bits(_mm512_set1_epi32(static_cast<int32_t>(c.step_bits))),
        half_step_bits(_mm512_set1_epi32(static_cast<int32_t>(c.half_step_bits))),
        step(_mm512_set1_ps(c.step)) {}
  template <bool kStochastic>
  CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 Apply(__m512 x, __m512i draws,
                                                             __mmask16* clipped) const {
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(kAbsMask));
    const __m512i exponent = _mm512_max_epi32(_mm512_srli_epi32(magnitude, 23), one);
    const __m512i shift = _mm512_add_epi32(
        shift_base, _mm512_max_epi32(_mm512_sub_epi32(min_normal_biased, exponent), _mm512_setzero_si512()));
    const __mmask16 below_one_step = _mm512_cmpgt_epi32_mask(shift, _mm512_set1_epi32(23));
    const __m512i clamped_shift = _mm512_min_epi32(shift, _mm512_set1_epi32(23));
    const __m512i unit = _mm512_sllv_epi32(one, clamped_shift);
    const __m512i low_mask = _mm512_sub_epi32(unit, one);
    __m512i rounded, tiny;
    if (kStochastic) {
      const __m512i scaled_low = _mm512_sllv_epi32(_mm512_and_si512(magnitude, low_mask),
                                                   _mm512_sub_epi32(_mm512_set1_epi32(24), clamped_shift));
      const __mmask16 up = _mm512_cmpge_epu32_mask(_mm512_add_epi32(scaled_low, draws),
                                                   _mm512_set1_epi32(kDrawRange));
      rounded = _mm512_mask_add_epi32(_mm512_andnot_si512(low_mask, magnitude), up,
                                      _mm512_andnot_si512(low_mask, magnitude), unit);
      const __m512 threshold = _mm512_mul_ps(OneMinusDraw512(draws), step);
      tiny = _mm512_maskz_mov_epi32(
          _mm512_cmp_ps_mask(_mm512_castsi512_ps(magnitude), threshold, _CMP_GE_OQ), step_bits);
    } else {
      rounded = _mm512_andnot_si512(low_mask, _mm512_add_epi32(magnitude, _mm512_srli_epi32(unit, 1)));
      tiny = _mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(magnitude, half_step_bits), step_bits);
    }
    __m512i q = _mm512_mask_blend_epi32(below_one_step, rounded, tiny);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(kInfinityBits));
    const __mmask16 over = _mm512_cmpgt_epu32_mask(q, max_bits) & static_cast<__mmask16>(~nan);
    *clipped = over;
    q = _mm512_mask_mov_epi32(q, over, max_bits);
    q = _mm512_or_si512(q, _mm512_andnot_si512(_mm512_set1_epi32(kAbsMask), bits));
    return _mm512_castsi512_ps(_mm512_mask_mov_epi32(q, nan, bits));
  }
};

float ReferenceQuantize(const Minifloat& format, float x, bool stochastic, float u, bool* saturated) {
  if (saturated) *saturated = false;
  if (std::isnan(x)) return x;
  const int min_exponent = 1 - format.ExponentBias();
  const double max_value = format.MaxValue();
  const double magnitude = std::fabs(static_cast<double>(x));
  double q = magnitude;  // zero stays zero, infinity clips below
  if (std::isfinite(magnitude) && magnitude > 0) {
    // Within a binade the step is 2^(exponent - m); below the smallest normal it stays at the
    // subnormal step.
    const int exponent = std::max(std::ilogb(magnitude), min_exponent);
    const double step = std::ldexp(1.0, exponent - format.mantissa_bits);
    const double steps = magnitude / step;
    q = (stochastic ? FloorPlusDraw(steps, u) : std::round(steps)) * step;
  }
  if (q > max_value) {
    if (saturated) *saturated = true;
    q = max_value;
  }
  return std::copysign(static_cast<float>(q), x);
}

}  // namespace

void Minifloat::Validate(const std::string& where, const char* exponent_bits_field,
                         const char* mantissa_bits_field) const {
  CONDENSE_CHECK(exponent_bits >= 2 && exponent_bits <= 8, where, exponent_bits_field, " = ",
                 exponent_bits, ": a minifloat needs 2 to 8 exponent bits (it is simulated in float32, "
                 "whose exponent has 8)");
  CONDENSE_CHECK(mantissa_bits >= 0 && mantissa_bits <= 23, where, mantissa_bits_field, " = ",
                 mantissa_bits, ": a minifloat's mantissa must have 0 to 23 bits (float32 has 23)");
}

int Minifloat::ExponentBias() const { return (1 << (exponent_bits - 1)) - 1; }

float Minifloat::MaxValue() const {
  return static_cast<float>(std::ldexp(2.0 - std::ldexp(1.0, -mantissa_bits), ExponentBias()));
}

float Minifloat::MinNormal() const { return std::ldexp(1.0f, 1 - ExponentBias()); }

float Minifloat::MinSubnormal() const {
  return static_cast<float>(std::ldexp(1.0, 1 - ExponentBias() - mantissa_bits));
}

std::string Minifloat::Describe() const {
  return StrCat("minifloat ", 1 + exponent_bits + mantissa_bits, " bits (", exponent_bits, " exponent, ",
                mantissa_bits, " mantissa; largest ", MaxValue(), ", smallest normal ", MinNormal(), ")");
}

float Minifloat::Quantize(float x, bool* saturated) const {
  return ReferenceQuantize(*this, x, false, 0.0f, saturated);
}

float Minifloat::QuantizeStochastic(float x, float u, bool* saturated) const {
  return ReferenceQuantize(*this, x, true, u, saturated);
}

int64_t Minifloat::QuantizeArray(const float* in, float* out, int64_t n, Rounding rounding, uint64_t seed,
                                 uint64_t first_index, QuantizeStats* stats) const {
  Validate("minifloat quantizer: ");
  return RunQuantizeKernel<MinifloatPortable, MinifloatAvx2, MinifloatAvx512>(
      MinifloatConstants(*this), in, out, n, rounding, seed, first_index, stats);
}

}  // namespace condense
