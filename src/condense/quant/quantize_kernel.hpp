// The machinery every number format's fast kernel shares (private to src/condense/quant): bit casts,
// the vectorised stochastic draws, the loops that walk an array 16 (AVX-512), 8 (AVX2) or 1 value at a
// time, saturation counting and signal/noise sums, run-time selection of the instruction set, and the
// split of large arrays over threads.
//
// A format supplies three "ops" with the same arithmetic — Portable, Avx2, Avx512 — each built from one
// plain constants struct and mapping a block of inputs (and, for stochastic rounding, their 24 draw
// bits) to outputs and a saturation mask. Everything here has internal linkage, so code compiled for
// AVX-512 can never be merged by the linker into a function a plain x86-64 processor calls.
#pragma once

// GCC 12 reports its own _mm512_undefined_* idiom as maybe-uninitialized wherever it is inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "condense/core/parallel.hpp"
#include "condense/quant/kernel_path.hpp"
#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/rounding.hpp"
#include "target_attributes.hpp"

namespace condense {
namespace {

constexpr uint32_t kSignBit = 0x80000000u;
constexpr uint32_t kAbsMask = 0x7FFFFFFFu;
constexpr uint32_t kInfinityBits = 0x7F800000u;
constexpr uint32_t kDrawRange = 1u << kDrawBits;  // 2^24
// Output arrays from this size on are written with streaming (non-temporal) stores: an array that
// large cannot stay in the cache beside its input anyway (a 32 MiB L3 holds 16 MiB of each), and
// skipping the read-for-ownership of every destination line saves a third of the memory traffic, as
// memcpy does for large copies. Smaller outputs, which the next layer reads from the cache, and
// in-place quantization keep ordinary stores.
constexpr int64_t kStreamingStoreFloats = int64_t{4} << 20;  // 16 MiB

// The float just below 0.5: trunc(y + copysign(it, y)) is round-half-away-from-zero for every float y
// (0.5 itself would round 0.49999997 up, as y + 0.5 then ties to 1.0).
constexpr float kJustBelowHalf = 0.49999997f;

inline uint32_t FloatBits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}
inline float BitsFloat(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// ---- scalar helpers shared by the portable ops and the references -----------------------------------

// trunc() without SSE4.1 is a library call; below 2^23 the integer conversion truncates exactly (and
// from 2^23 on every float is an integer). The sign is put back so that -0.3 truncates to -0.
inline float Truncate(float y) {
  return std::fabs(y) < 8388608.0f ? std::copysign(static_cast<float>(static_cast<int32_t>(y)), y) : y;
}
inline float RoundHalfAway(float y) { return Truncate(y + std::copysign(kJustBelowHalf, y)); }
// floor(y + u) exactly, with u = j * 2^-24. Worked on the magnitude a = |y|, where a - floor(a) is
// exact (y - floor(y) is not, for y in (-1, 0)): for y >= 0 the magnitude goes up when
// frac(a) >= 1 - u; for y < 0, floor(-a + u) = -(floor(a) + [frac(a) > u]).
inline float FloorPlusDraw(float y, uint32_t j) {
  const float magnitude = std::fabs(y);
  const float whole = Truncate(magnitude);
  const float fraction = magnitude - whole;
  // Bitwise rather than branching: the outcome is random by design, so a branch would mispredict.
  const bool negative = y < 0;
  const bool up = (negative & (fraction > static_cast<float>(j) * kDrawUnit)) |
                  (!negative & (fraction >= static_cast<float>(kDrawRange - j) * kDrawUnit));
  return std::copysign(whole + static_cast<float>(up), y);
}
// The same in double, for the references, with the draw given as a float u in [0, 1).
inline double FloorPlusDraw(double y, float u) {
  const double magnitude = std::fabs(y);
  const double whole = std::floor(magnitude);
  const double fraction = magnitude - whole;
  const bool up = y < 0 ? fraction > static_cast<double>(u) : fraction >= 1.0 - static_cast<double>(u);
  return std::copysign(up ? whole + 1.0 : whole, y);
}
// A result whose sign follows the input (so that zeros keep it; nonzero results already share it).
inline float WithSignOf(float value, float x) {
  return BitsFloat(FloatBits(value) | (FloatBits(x) & kSignBit));
}

// ---- AVX-512 ---------------------------------------------------------------------------------------

CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 RoundHalfAway512(__m512 y) {
  const __m512 half = _mm512_or_ps(_mm512_and_ps(y, _mm512_castsi512_ps(_mm512_set1_epi32(kSignBit))),
                                   _mm512_set1_ps(kJustBelowHalf));
  return _mm512_roundscale_ps(_mm512_add_ps(y, half), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
}
CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 Draw512(__m512i draws) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(draws), _mm512_set1_ps(kDrawUnit));
}
CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 OneMinusDraw512(__m512i draws) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(kDrawRange), draws)),
                       _mm512_set1_ps(kDrawUnit));
}
CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 FloorPlusDraw512(__m512 y, __m512i draws) {
  const __m512 sign_bit = _mm512_castsi512_ps(_mm512_set1_epi32(kSignBit));
  const __m512 magnitude = _mm512_andnot_ps(sign_bit, y);
  const __m512 whole = _mm512_roundscale_ps(magnitude, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 fraction = _mm512_sub_ps(magnitude, whole);
  const __mmask16 negative = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __mmask16 up =
      (_mm512_cmp_ps_mask(fraction, OneMinusDraw512(draws), _CMP_GE_OQ) & static_cast<__mmask16>(~negative)) |
      (_mm512_cmp_ps_mask(fraction, Draw512(draws), _CMP_GT_OQ) & negative);
  return _mm512_or_ps(_mm512_mask_add_ps(whole, up, whole, _mm512_set1_ps(1.0f)), _mm512_and_ps(y, sign_bit));
}
CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512 WithSignOf512(__m512 value, __m512 x) {
  return _mm512_or_ps(value, _mm512_and_ps(x, _mm512_castsi512_ps(_mm512_set1_epi32(kSignBit))));
}

// MixDrawState on eight 64-bit lanes, keeping the top 24 bits (DrawBits in rounding.hpp).
CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512i MixTop24x8(__m512i z) {
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
  z = _mm512_mullo_epi64(z, _mm512_set1_epi64(static_cast<int64_t>(kDrawMultiplier1)));
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
  z = _mm512_mullo_epi64(z, _mm512_set1_epi64(static_cast<int64_t>(kDrawMultiplier2)));
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
  return _mm512_srli_epi64(z, 64 - kDrawBits);
}

// Draw bits for 16 consecutive elements at a time.
struct Draws512 {
  __m512i low_states, high_states, stride;
  CONDENSE_TARGET_AVX512 Draws512(uint64_t key, uint64_t first_index) {
    alignas(64) uint64_t states[16];
    for (int lane = 0; lane < 16; ++lane) states[lane] = key + (first_index + lane) * kDrawIndexStride;
    low_states = _mm512_load_si512(states);
    high_states = _mm512_load_si512(states + 8);
    stride = _mm512_set1_epi64(static_cast<int64_t>(16 * kDrawIndexStride));
  }
  CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE __m512i Next() {
    const __m256i low = _mm512_cvtepi64_epi32(MixTop24x8(low_states));
    const __m256i high = _mm512_cvtepi64_epi32(MixTop24x8(high_states));
    low_states = _mm512_add_epi64(low_states, stride);
    high_states = _mm512_add_epi64(high_states, stride);
    return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
  }
};

struct EnergySums512 {
  __m512d signal, noise;
  CONDENSE_TARGET_AVX512 EnergySums512() : signal(_mm512_setzero_pd()), noise(_mm512_setzero_pd()) {}
  CONDENSE_TARGET_AVX512 CONDENSE_ALWAYS_INLINE void Add(__m512 x, __m512 q, __mmask16 lanes) {
    // Non-finite inputs (NaN, +-inf: fpclass bits QNaN, +inf, -inf, SNaN) are left out of the energies.
    lanes &= static_cast<__mmask16>(~_mm512_fpclass_ps_mask(x, 0x01 | 0x08 | 0x10 | 0x80));
    x = _mm512_maskz_mov_ps(lanes, x);
    q = _mm512_maskz_mov_ps(lanes, q);
    const __m512d x_low = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    const __m512d x_high = _mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1));
    const __m512d d_low = _mm512_sub_pd(x_low, _mm512_cvtps_pd(_mm512_castps512_ps256(q)));
    const __m512d d_high = _mm512_sub_pd(x_high, _mm512_cvtps_pd(_mm512_extractf32x8_ps(q, 1)));
    signal = _mm512_fmadd_pd(x_low, x_low, _mm512_fmadd_pd(x_high, x_high, signal));
    noise = _mm512_fmadd_pd(d_low, d_low, _mm512_fmadd_pd(d_high, d_high, noise));
  }
  CONDENSE_TARGET_AVX512 void AddTo(QuantizeStats* stats) const {
    stats->signal_energy += _mm512_reduce_add_pd(signal);
    stats->noise_energy += _mm512_reduce_add_pd(noise);
  }
};

// Floats from `out` to the next multiple of `alignment` bytes (streaming stores need aligned addresses).
inline int64_t FloatsToAlignment(const float* out, int64_t n, uintptr_t alignment) {
  const uintptr_t past = reinterpret_cast<uintptr_t>(out) % alignment;
  return past == 0 ? 0 : std::min<int64_t>(n, static_cast<int64_t>((alignment - past) / sizeof(float)));
}

template <class Op, bool kStochastic, bool kStats>
CONDENSE_TARGET_AVX512 int64_t Avx512Loop(const Op& op, const float* in, float* out, int64_t n,
                                          uint64_t key, uint64_t first_index, bool stream,
                                          QuantizeStats* stats) {
  EnergySums512 energy;
  const __m512i no_draws = _mm512_setzero_si512();
  int64_t saturated = 0;
  // `lanes` of the 16 values from i, through the masked loads and stores.
  auto partial_block = [&](int64_t i, __mmask16 lanes) CONDENSE_TARGET_AVX512 {
    Draws512 draws(key, kStochastic ? first_index + static_cast<uint64_t>(i) : 0);
    const __m512 x = _mm512_maskz_loadu_ps(lanes, in + i);
    __mmask16 clipped;
    const __m512 q = op.template Apply<kStochastic>(x, kStochastic ? draws.Next() : no_draws, &clipped);
    _mm512_mask_storeu_ps(out + i, lanes, q);
    saturated += __builtin_popcount(clipped & lanes);
    if (kStats) energy.Add(x, q, lanes);
  };
  int64_t i = stream ? FloatsToAlignment(out, n, 64) : 0;
  if (i > 0) partial_block(0, static_cast<__mmask16>((1u << i) - 1));
  Draws512 draws(key, kStochastic ? first_index + static_cast<uint64_t>(i) : 0);
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(in + i);
    __mmask16 clipped;
    const __m512 q = op.template Apply<kStochastic>(x, kStochastic ? draws.Next() : no_draws, &clipped);
    if (stream) {
      _mm512_stream_ps(out + i, q);
    } else {
      _mm512_storeu_ps(out + i, q);
    }
    saturated += __builtin_popcount(clipped);
    if (kStats) energy.Add(x, q, 0xFFFF);
  }
  if (stream) _mm_sfence();  // the streamed lines reach memory before any other thread reads them
  if (i < n) partial_block(i, static_cast<__mmask16>((1u << (n - i)) - 1));
  if (kStats) energy.AddTo(stats);
  return saturated;
}

template <class Op, class Constants>
CONDENSE_TARGET_AVX512 int64_t RunAvx512(const Constants& constants, const float* in, float* out,
                                         int64_t n, bool stochastic, uint64_t key, uint64_t first_index,
                                         bool stream, QuantizeStats* stats) {
  const Op op(constants);
  if (stochastic) {
    return stats ? Avx512Loop<Op, true, true>(op, in, out, n, key, first_index, stream, stats)
                 : Avx512Loop<Op, true, false>(op, in, out, n, key, first_index, stream, stats);
  }
  return stats ? Avx512Loop<Op, false, true>(op, in, out, n, key, first_index, stream, stats)
               : Avx512Loop<Op, false, false>(op, in, out, n, key, first_index, stream, stats);
}

// ---- AVX2 ------------------------------------------------------------------------------------------

CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 RoundHalfAway256(__m256 y) {
  const __m256 half = _mm256_or_ps(_mm256_and_ps(y, _mm256_castsi256_ps(_mm256_set1_epi32(kSignBit))),
                                   _mm256_set1_ps(kJustBelowHalf));
  return _mm256_round_ps(_mm256_add_ps(y, half), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
}
CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 Draw256(__m256i draws) {
  return _mm256_mul_ps(_mm256_cvtepi32_ps(draws), _mm256_set1_ps(kDrawUnit));
}
CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 OneMinusDraw256(__m256i draws) {
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(kDrawRange), draws)),
                       _mm256_set1_ps(kDrawUnit));
}
CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 FloorPlusDraw256(__m256 y, __m256i draws) {
  const __m256 sign_bit = _mm256_castsi256_ps(_mm256_set1_epi32(kSignBit));
  const __m256 magnitude = _mm256_andnot_ps(sign_bit, y);
  const __m256 whole = _mm256_round_ps(magnitude, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m256 fraction = _mm256_sub_ps(magnitude, whole);
  const __m256 negative = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 up = _mm256_blendv_ps(_mm256_cmp_ps(fraction, OneMinusDraw256(draws), _CMP_GE_OQ),
                                     _mm256_cmp_ps(fraction, Draw256(draws), _CMP_GT_OQ), negative);
  const __m256 rounded = _mm256_blendv_ps(whole, _mm256_add_ps(whole, _mm256_set1_ps(1.0f)), up);
  return _mm256_or_ps(rounded, _mm256_and_ps(y, sign_bit));
}
CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256 WithSignOf256(__m256 value, __m256 x) {
  return _mm256_or_ps(value, _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(kSignBit))));
}

// The low 64 bits of a * b per lane; AVX2 has no 64-bit multiply, so it is built from 32x32 products.
CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256i MulLow64(__m256i a, uint64_t b) {
  const __m256i b_low = _mm256_set1_epi64x(static_cast<int64_t>(b & 0xFFFFFFFFu));
  const __m256i b_high = _mm256_set1_epi64x(static_cast<int64_t>(b >> 32));
  const __m256i low_low = _mm256_mul_epu32(a, b_low);
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b_low),
                                         _mm256_mul_epu32(a, b_high));
  return _mm256_add_epi64(low_low, _mm256_slli_epi64(cross, 32));
}
CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256i MixTop24x4(__m256i z) {
  z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 30));
  z = MulLow64(z, kDrawMultiplier1);
  z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 27));
  z = MulLow64(z, kDrawMultiplier2);
  z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
  return _mm256_srli_epi64(z, 64 - kDrawBits);
}

// Draw bits for 8 consecutive elements at a time.
struct Draws256 {
  __m256i low_states, high_states, stride;
  CONDENSE_TARGET_AVX2 Draws256(uint64_t key, uint64_t first_index) {
    alignas(32) uint64_t states[8];
    for (int lane = 0; lane < 8; ++lane) states[lane] = key + (first_index + lane) * kDrawIndexStride;
    low_states = _mm256_load_si256(reinterpret_cast<const __m256i*>(states));
    high_states = _mm256_load_si256(reinterpret_cast<const __m256i*>(states + 4));
    stride = _mm256_set1_epi64x(static_cast<int64_t>(8 * kDrawIndexStride));
  }
  CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE __m256i Next() {
    const __m256i low = MixTop24x4(low_states);    // lanes 0..3 in the even 32-bit halves
    const __m256i high = MixTop24x4(high_states);  // lanes 4..7
    low_states = _mm256_add_epi64(low_states, stride);
    high_states = _mm256_add_epi64(high_states, stride);
    const __m256i interleaved = _mm256_blend_epi32(low, _mm256_slli_epi64(high, 32), 0xAA);
    return _mm256_permutevar8x32_epi32(interleaved, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  }
};

struct EnergySums256 {
  __m256d signal, noise;
  CONDENSE_TARGET_AVX2 EnergySums256() : signal(_mm256_setzero_pd()), noise(_mm256_setzero_pd()) {}
  CONDENSE_TARGET_AVX2 CONDENSE_ALWAYS_INLINE void Add(__m256 x, __m256 q, __m256 lanes) {
    const __m256 magnitude = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(kAbsMask)));
    lanes = _mm256_and_ps(lanes, _mm256_cmp_ps(magnitude, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
    x = _mm256_and_ps(x, lanes);
    q = _mm256_and_ps(q, lanes);
    const __m256d x_low = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    const __m256d x_high = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    const __m256d d_low = _mm256_sub_pd(x_low, _mm256_cvtps_pd(_mm256_castps256_ps128(q)));
    const __m256d d_high = _mm256_sub_pd(x_high, _mm256_cvtps_pd(_mm256_extractf128_ps(q, 1)));
    signal = _mm256_add_pd(signal, _mm256_add_pd(_mm256_mul_pd(x_low, x_low), _mm256_mul_pd(x_high, x_high)));
    noise = _mm256_add_pd(noise, _mm256_add_pd(_mm256_mul_pd(d_low, d_low), _mm256_mul_pd(d_high, d_high)));
  }
  CONDENSE_TARGET_AVX2 void AddTo(QuantizeStats* stats) const {
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, signal);
    stats->signal_energy += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    _mm256_store_pd(lanes, noise);
    stats->noise_energy += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  }
};

template <class Op, bool kStochastic, bool kStats>
CONDENSE_TARGET_AVX2 int64_t Avx2Loop(const Op& op, const float* in, float* out, int64_t n,
                                      uint64_t key, uint64_t first_index, bool stream,
                                      QuantizeStats* stats) {
  EnergySums256 energy;
  const __m256i no_draws = _mm256_setzero_si256();
  const __m256 all_lanes = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int64_t saturated = 0;
  // The first `count` (< 8) of the 8 values from i, through the masked loads and stores.
  auto partial_block = [&](int64_t i, int64_t count) CONDENSE_TARGET_AVX2 {
    Draws256 draws(key, kStochastic ? first_index + static_cast<uint64_t>(i) : 0);
    const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lane_index);
    const __m256 x = _mm256_maskload_ps(in + i, lanes);
    __m256 clipped;
    const __m256 q = op.template Apply<kStochastic>(x, kStochastic ? draws.Next() : no_draws, &clipped);
    _mm256_maskstore_ps(out + i, lanes, q);
    saturated += __builtin_popcount(_mm256_movemask_ps(_mm256_and_ps(clipped, _mm256_castsi256_ps(lanes))));
    if (kStats) energy.Add(x, q, _mm256_castsi256_ps(lanes));
  };
  int64_t i = stream ? FloatsToAlignment(out, n, 32) : 0;
  if (i > 0) partial_block(0, i);
  Draws256 draws(key, kStochastic ? first_index + static_cast<uint64_t>(i) : 0);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(in + i);
    __m256 clipped;
    const __m256 q = op.template Apply<kStochastic>(x, kStochastic ? draws.Next() : no_draws, &clipped);
    if (stream) {
      _mm256_stream_ps(out + i, q);
    } else {
      _mm256_storeu_ps(out + i, q);
    }
    saturated += __builtin_popcount(_mm256_movemask_ps(clipped));
    if (kStats) energy.Add(x, q, all_lanes);
  }
  if (stream) _mm_sfence();
  if (i < n) partial_block(i, n - i);
  if (kStats) energy.AddTo(stats);
  return saturated;
}

template <class Op, class Constants>
CONDENSE_TARGET_AVX2 int64_t RunAvx2(const Constants& constants, const float* in, float* out,
                                     int64_t n, bool stochastic, uint64_t key, uint64_t first_index,
                                     bool stream, QuantizeStats* stats) {
  const Op op(constants);
  if (stochastic) {
    return stats ? Avx2Loop<Op, true, true>(op, in, out, n, key, first_index, stream, stats)
                 : Avx2Loop<Op, true, false>(op, in, out, n, key, first_index, stream, stats);
  }
  return stats ? Avx2Loop<Op, false, true>(op, in, out, n, key, first_index, stream, stats)
               : Avx2Loop<Op, false, false>(op, in, out, n, key, first_index, stream, stats);
}

// ---- portable --------------------------------------------------------------------------------------

template <class Op, bool kStochastic, bool kStats>
int64_t PortableLoop(const Op& op, const float* in, float* out, int64_t n, uint64_t key,
                     uint64_t first_index, QuantizeStats* stats) {
  int64_t saturated = 0;
  double signal = 0, noise = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = in[i];
    bool clipped = false;
    const float q = op.template Apply<kStochastic>(
        x, kStochastic ? DrawBits(key, first_index + static_cast<uint64_t>(i)) : 0u, &clipped);
    out[i] = q;
    saturated += clipped;
    if (kStats && std::isfinite(x)) {
      const double difference = static_cast<double>(x) - static_cast<double>(q);
      signal += static_cast<double>(x) * x;
      noise += difference * difference;
    }
  }
  if (kStats) {
    stats->signal_energy += signal;
    stats->noise_energy += noise;
  }
  return saturated;
}

template <class Op, class Constants>
int64_t RunPortable(const Constants& constants, const float* in, float* out, int64_t n,
                    bool stochastic, uint64_t key, uint64_t first_index, QuantizeStats* stats) {
  const Op op(constants);
  if (stochastic) {
    return stats ? PortableLoop<Op, true, true>(op, in, out, n, key, first_index, stats)
                 : PortableLoop<Op, true, false>(op, in, out, n, key, first_index, stats);
  }
  return stats ? PortableLoop<Op, false, true>(op, in, out, n, key, first_index, stats)
               : PortableLoop<Op, false, false>(op, in, out, n, key, first_index, stats);
}

// ---- dispatch and threads --------------------------------------------------------------------------

// Runs the format's kernel on the active path, over ThreadCount() threads when the array is large.
// Each thread's chunk draws with its own global indices, so the bits never depend on the split.
template <class PortableOp, class Avx2Op, class Avx512Op, class Constants>
int64_t RunQuantizeKernel(const Constants& constants, const float* in, float* out, int64_t n,
                          Rounding rounding, uint64_t seed, uint64_t first_index,
                          QuantizeStats* stats) {
  if (n <= 0) return 0;
  const bool stochastic = rounding == Rounding::kStochastic;
  const uint64_t key = stochastic ? DrawStreamKey(seed) : 0;
  const KernelPath path = ActiveKernelPath();
  const bool stream = in != out && n >= kStreamingStoreFloats;
  auto run_range = [&](int64_t begin, int64_t end, QuantizeStats* partial) -> int64_t {
    const float* range_in = in + begin;
    float* range_out = out + begin;
    const int64_t count = end - begin;
    const uint64_t range_first = first_index + static_cast<uint64_t>(begin);
    switch (path) {
      case KernelPath::kAvx512:
        return RunAvx512<Avx512Op>(constants, range_in, range_out, count, stochastic, key, range_first,
                                   stream, partial);
      case KernelPath::kAvx2:
        return RunAvx2<Avx2Op>(constants, range_in, range_out, count, stochastic, key, range_first,
                               stream, partial);
      case KernelPath::kPortable:
        break;
    }
    return RunPortable<PortableOp>(constants, range_in, range_out, count, stochastic, key, range_first,
                                   partial);
  };

  int64_t saturated = 0;
  QuantizeStats energies;
  QuantizeStats* energy_sink = stats ? &energies : nullptr;
  const int threads = ThreadCount();
  if (threads <= 1 || n < kMinParallelWork) {
    saturated = run_range(0, n, energy_sink);
  } else {
    std::vector<int64_t> partial_saturated(static_cast<size_t>(threads), 0);
    std::vector<QuantizeStats> partial_energies(static_cast<size_t>(threads));
    ParallelFor(n, n, [&](int64_t begin, int64_t end, int thread) {
      partial_saturated[thread] =
          run_range(begin, end, stats ? &partial_energies[thread] : nullptr);
    });
    for (int thread = 0; thread < threads; ++thread) {
      saturated += partial_saturated[thread];
      energies.Merge(partial_energies[thread]);
    }
  }
  if (stats) {
    energies.count = n;
    energies.saturated = saturated;
    stats->Merge(energies);
  }
  return saturated;
}

}  // namespace
}  // namespace condense
