#include "condense/quant/power_of_two.hpp"

#include <cmath>

#include "condense/core/error.hpp"
#include "quantize_kernel.hpp"

namespace condense {

namespace {

// log2|x| rounds up exactly when the float's mantissa field reaches sqrt(2)'s: 0x3504F4 is the first
// 23-bit mantissa whose 1.m exceeds sqrt(2) (0x3504F3 gives 1.41421354 < sqrt(2) = 1.41421356...).
constexpr uint32_t kSqrt2Mantissa = 0x3504F4u;
constexpr uint32_t kMantissaMask = 0x7FFFFFu;
// sqrt(2) rounded to double; no float lies between it and the true sqrt(2).
constexpr double kSqrt2 = 1.4142135623730951;

// The fast ops work on the float32 pattern: the result is an exponent field alone (mantissa 0).
struct PowerOfTwoConstants {
  int32_t min_biased;            // min_exponent + 127
  int32_t max_biased;            // max_exponent + 127
  uint32_t zero_threshold_bits;  // 2^(min_exponent - 1): below it, nearest rounding gives 0
  uint32_t min_positive_bits;    // 2^min_exponent: below it, stochastic rounding chooses 0 or this
  float min_positive;

  explicit PowerOfTwoConstants(const PowerOfTwo& format)
      : min_biased(format.min_exponent + 127),
        max_biased(format.max_exponent + 127),
        zero_threshold_bits(FloatBits(format.ZeroThreshold())),
        min_positive_bits(FloatBits(format.MinPositive())),
        min_positive(format.MinPositive()) {}
};

struct PowerOfTwoPortable {
  PowerOfTwoConstants c;
  explicit PowerOfTwoPortable(const PowerOfTwoConstants& constants) : c(constants) {}
  template <bool kStochastic>
  float Apply(float x, uint32_t draw, bool* clipped) const {
    const uint32_t bits = FloatBits(x);
    const uint32_t magnitude = bits & kAbsMask;
    *clipped = false;
    if (magnitude > kInfinityBits) return x;  // NaN
    const int32_t exponent = static_cast<int32_t>(magnitude >> 23);
    const uint32_t mantissa = magnitude & kMantissaMask;
    int32_t rounded;
    bool zero;
    if (kStochastic) {
      if (magnitude < c.min_positive_bits) {
        zero = !(BitsFloat(magnitude) >= static_cast<float>(kDrawRange - draw) * kDrawUnit * c.min_positive);
        rounded = c.min_biased;
      } else {
        zero = false;
        rounded = exponent + (((mantissa << 1) + draw >= kDrawRange) ? 1 : 0);
      }
    } else {
      zero = magnitude < c.zero_threshold_bits;
      rounded = exponent + (mantissa >= kSqrt2Mantissa ? 1 : 0);
      rounded = rounded < c.min_biased ? c.min_biased : rounded;
    }
    if (rounded > c.max_biased) {
      *clipped = !zero;
      rounded = c.max_biased;
    }
    const uint32_t q = zero ? 0u : static_cast<uint32_t>(rounded) << 23;
    return BitsFloat(q | (bits & kSignBit));
  }
};

struct PowerOfTwoAvx2 {
  __m256i min_biased, max_biased, zero_threshold_bits, min_positive_bits;
  __m256 min_positive;
  CONDENSE_TARGET_AVX2 explicit PowerOfTwoAvx2(const PowerOfTwoConstants& c)
      : min_biased(_mm256_set1_epi32(c.min_biased)), max_biased(_mm256_set1_epi32(c.max_biased)),
        zero_threshold_bits(_mm256_set1_epi32(static_cast<int32_t>(c.zero_threshold_bits))),
        min_positive_bits(_mm256_set1_epi32(static_cast<int32_t>(c.min_positive_bits))),
        min_positive(_mm256_set1_ps(c.min_positive)) {}
  // All patterns compared here are below 2^31, so AVX2's signed comparisons serve.
  template <bool kStochastic>
  CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 Apply(__m256 x, __m256i draws, __m256* clipped) const {
    const __m256i bits = _mm256_castps_si256(x);
    const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(kAbsMask));
    const __m256i exponent = _mm256_srli_epi32(magnitude, 23);
    const __m256i mantissa = _mm256_and_si256(magnitude, _mm256_set1_epi32(kMantissaMask));
    __m256i rounded, zero;
    if (kStochastic) {
      const __m256i small = _mm256_cmpgt_epi32(min_positive_bits, magnitude);
      const __m256i up = _mm256_cmpgt_epi32(_mm256_add_epi32(_mm256_slli_epi32(mantissa, 1), draws),
                                            _mm256_set1_epi32(kDrawRange - 1));
      rounded = _mm256_blendv_epi8(_mm256_sub_epi32(exponent, up), min_biased, small);
      const __m256 threshold = _mm256_mul_ps(OneMinusDraw256(draws), min_positive);
      const __m256 up_small = _mm256_cmp_ps(_mm256_castsi256_ps(magnitude), threshold, _CMP_GE_OQ);
      zero = _mm256_andnot_si256(_mm256_castps_si256(up_small), small);
    } else {
      const __m256i up = _mm256_cmpgt_epi32(mantissa, _mm256_set1_epi32(kSqrt2Mantissa - 1));
      rounded = _mm256_max_epi32(_mm256_sub_epi32(exponent, up), min_biased);  // up is -1 where true
      zero = _mm256_cmpgt_epi32(zero_threshold_bits, magnitude);
    }
    const __m256i not_nan = _mm256_cmpgt_epi32(_mm256_set1_epi32(kInfinityBits + 1), magnitude);
    *clipped = _mm256_castsi256_ps(
        _mm256_andnot_si256(zero, _mm256_and_si256(_mm256_cmpgt_epi32(rounded, max_biased), not_nan)));
    rounded = _mm256_min_epi32(rounded, max_biased);
    __m256i q = _mm256_andnot_si256(zero, _mm256_slli_epi32(rounded, 23));
    q = _mm256_or_si256(q, _mm256_andnot_si256(_mm256_set1_epi32(kAbsMask), bits));
    return _mm256_castsi256_ps(_mm256_blendv_epi8(bits, q, not_nan));
  }
};

struct PowerOfTwoAvx512 {
  __m512i min_biased, max_biased, zero_threshold_bits, min_positive_bits;
  __m512 min_positive;
  CONDENSE_TARGET_AVX512 explicit PowerOfTwoAvx512(const PowerOfTwoConstants& c)
      : min_biased(_mm512_set1_epi32(c.min_biased)), max_biased(_mm512_set1_epi32(c.max_biased)),
        zero_threshold_bits(_mm512_set1_epi32(static_cast<int32_t>(c.zero_threshold_bits))),
        min_positive_bits(_mm512_set1_epi32(static_cast<int32_t>(c.min_positive_bits))),
        min_positive(_mm512_set1_ps(c.min_positive)) {}
  template <bool kStochastic>
  CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 Apply(__m512 x, __m512i draws,
                                                             __mmask16* clipped) const {
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(kAbsMask));
    const __m512i exponent = _mm512_srli_epi32(magnitude, 23);
    const __m512i mantissa = _mm512_and_si512(magnitude, _mm512_set1_epi32(kMantissaMask));
    __m512i rounded;
    __mmask16 zero;
    if (kStochastic) {
      const __mmask16 small = _mm512_cmplt_epu32_mask(magnitude, min_positive_bits);
      const __mmask16 up = _mm512_cmpge_epu32_mask(
          _mm512_add_epi32(_mm512_slli_epi32(mantissa, 1), draws), _mm512_set1_epi32(kDrawRange));
      rounded = _mm512_mask_mov_epi32(_mm512_mask_add_epi32(exponent, up, exponent, one), small, min_biased);
      const __m512 threshold = _mm512_mul_ps(OneMinusDraw512(draws), min_positive);
      zero = small & static_cast<__mmask16>(
                         ~_mm512_cmp_ps_mask(_mm512_castsi512_ps(magnitude), threshold, _CMP_GE_OQ));
    } else {
      const __mmask16 up = _mm512_cmpge_epu32_mask(mantissa, _mm512_set1_epi32(kSqrt2Mantissa));
      rounded = _mm512_max_epi32(_mm512_mask_add_epi32(exponent, up, exponent, one), min_biased);
      zero = _mm512_cmplt_epu32_mask(magnitude, zero_threshold_bits);
    }
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(kInfinityBits));
    *clipped = _mm512_cmpgt_epi32_mask(rounded, max_biased) & static_cast<__mmask16>(~(nan | zero));
    rounded = _mm512_min_epi32(rounded, max_biased);
    __m512i q = _mm512_maskz_mov_epi32(static_cast<__mmask16>(~zero), _mm512_slli_epi32(rounded, 23));
    q = _mm512_or_si512(q, _mm512_andnot_si512(_mm512_set1_epi32(kAbsMask), bits));
    return _mm512_castsi512_ps(_mm512_mask_mov_epi32(q, nan, bits));
  }
};

float ReferenceQuantize(const PowerOfTwo& format, float x, bool stochastic, float u, bool* saturated) {
  if (saturated) *saturated = false;
  if (std::isnan(x)) return x;
  const double magnitude = std::fabs(static_cast<double>(x));
  int exponent;  // of the result; below min_exponent means 0
  if (std::isinf(magnitude)) {
    exponent = format.max_exponent + 1;
  } else if (stochastic) {
    // Between the neighbours lower and upper, round up with probability (|x| - lower) / (upper - lower).
    const int floor_exponent = magnitude > 0 ? std::ilogb(magnitude) : format.min_exponent - 1;
    const bool small = floor_exponent < format.min_exponent;
    const double lower = small ? 0.0 : std::ldexp(1.0, floor_exponent);
    const double upper = small ? std::ldexp(1.0, format.min_exponent) : 2.0 * lower;
    const bool up = (magnitude - lower) / (upper - lower) >= 1.0 - static_cast<double>(u);
    exponent = small ? (up ? format.min_exponent : format.min_exponent - 1) : floor_exponent + (up ? 1 : 0);
  } else if (magnitude < std::ldexp(1.0, format.min_exponent - 1)) {
    exponent = format.min_exponent - 1;
  } else {
    // log2|x| to the nearest integer: up from 2^e once |x| reaches 2^e * sqrt(2).
    exponent = std::ilogb(magnitude);
    if (magnitude >= std::ldexp(kSqrt2, exponent)) ++exponent;
    exponent = std::max(exponent, format.min_exponent);
  }
  if (exponent > format.max_exponent) {
    if (saturated) *saturated = true;
    exponent = format.max_exponent;
  }
  const float q = exponent < format.min_exponent ? 0.0f : std::ldexp(1.0f, exponent);
  return std::copysign(q, x);
}

}  // namespace

void PowerOfTwo::Validate(const std::string& where, const char* min_exponent_field,
                          const char* max_exponent_field) const {
  CONDENSE_CHECK(min_exponent >= -125, where, min_exponent_field, " = ", min_exponent,
                 ": the smallest exponent must be at least -125 (so that 2^(", min_exponent_field,
                 " - 1), where values round to zero, is a normal float32)");
  CONDENSE_CHECK(max_exponent <= 127, where, max_exponent_field, " = ", max_exponent,
                 ": the largest exponent must be at most 127 (float32's)");
  CONDENSE_CHECK(min_exponent <= max_exponent, where, min_exponent_field, " = ", min_exponent,
                 " is greater than ", max_exponent_field, " = ", max_exponent);
}

float PowerOfTwo::MaxValue() const { return std::ldexp(1.0f, max_exponent); }
float PowerOfTwo::MinPositive() const { return std::ldexp(1.0f, min_exponent); }
float PowerOfTwo::ZeroThreshold() const { return std::ldexp(1.0f, min_exponent - 1); }

std::string PowerOfTwo::Describe() const {
  return StrCat("powers of two 2^", min_exponent, " .. 2^", max_exponent, " and 0");
}

float PowerOfTwo::Quantize(float x, bool* saturated) const {
  return ReferenceQuantize(*this, x, false, 0.0f, saturated);
}

float PowerOfTwo::QuantizeStochastic(float x, float u, bool* saturated) const {
  return ReferenceQuantize(*this, x, true, u, saturated);
}

int64_t PowerOfTwo::QuantizeArray(const float* in, float* out, int64_t n, Rounding rounding, uint64_t seed,
                                  uint64_t first_index, QuantizeStats* stats) const {
  Validate("power-of-two quantizer: ");
  return RunQuantizeKernel<PowerOfTwoPortable, PowerOfTwoAvx2, PowerOfTwoAvx512>(
      PowerOfTwoConstants(*this), in, out, n, rounding, seed, first_index, stats);
}

}  // namespace condense
