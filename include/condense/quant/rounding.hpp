// How a value between two representable numbers is rounded, and where stochastic rounding's random
// draws come from. Nearest rounding sends ties away from zero (C's round(), as Ristretto's CPU code).
// Stochastic rounding rounds up with probability equal to the distance from the lower neighbour, so
// its mean equals the input. Its draws are a pure function of (seed, element index) — a counter-based
// hash, not a stateful generator — so that the output does not depend on the thread count, on how
// an array is split into chunks, or on whether the vector kernel or the scalar reference ran.
#pragma once

#include <cstdint>

namespace condense {

enum class Rounding { kNearest, kStochastic };

const char* RoundingName(Rounding rounding);

// Draws are multiples of 2^-24 in [0, 1): 24 random bits, so that 1 - u and the comparisons the
// kernels make with it are exact in float.
constexpr int kDrawBits = 24;
constexpr float kDrawUnit = 1.0f / (1 << kDrawBits);

// splitmix64: consecutive indices step the state by the golden-ratio constant, and the finaliser mixes
// it. The vector kernels use the same constants.
constexpr uint64_t kDrawIndexStride = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t kDrawMultiplier1 = 0xBF58476D1CE4E5B9ULL;
constexpr uint64_t kDrawMultiplier2 = 0x94D049BB133111EBULL;
inline uint64_t MixDrawState(uint64_t z) {
  z = (z ^ (z >> 30)) * kDrawMultiplier1;
  z = (z ^ (z >> 27)) * kDrawMultiplier2;
  return z ^ (z >> 31);
}

// The stream a seed selects (the first output of splitmix64 seeded with it, so neighbouring seeds get
// unrelated streams); computed once per array by the kernels.
inline uint64_t DrawStreamKey(uint64_t seed) { return MixDrawState(seed + kDrawIndexStride); }

// The 24 draw bits of element `index` of the stream `key`.
inline uint32_t DrawBits(uint64_t key, uint64_t index) {
  return static_cast<uint32_t>(MixDrawState(key + index * kDrawIndexStride) >> (64 - kDrawBits));
}

// The uniform draw u in [0, 1) that stochastic rounding of element `index` under `seed` uses.
inline float UniformDraw(uint64_t seed, uint64_t index) {
  return static_cast<float>(DrawBits(DrawStreamKey(seed), index)) * kDrawUnit;
}

}  // namespace condense
