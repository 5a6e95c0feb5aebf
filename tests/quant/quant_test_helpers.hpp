// Shared pieces of the number-format tests: bitwise float comparison (NaN equals NaN, -0 differs from
// +0), a golden-case runner, and a generator of tensors full of the values that break quantizers
// (ties, bounds, zeros of both signs, subnormals, infinities, NaN) mixed with ordinary random values.
#pragma once

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "condense/quant/kernel_path.hpp"
#include "condense/quant/rounding.hpp"

namespace condense::testing {

inline uint32_t BitsOf(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

inline float FloatFromBits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Equal bit patterns, or both NaN.
inline bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || BitsOf(a) == BitsOf(b);
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// One named row of a golden table.
struct GoldenCase {
  const char* name;
  float x;
  float expected;
  bool saturated;
};

// Checks the scalar reference on every row, and the array kernel on the whole column at once.
template <class Format>
void ExpectGolden(const Format& format, const std::vector<GoldenCase>& cases) {
  std::vector<float> in, expected;
  int64_t expected_saturated = 0;
  for (const GoldenCase& c : cases) {
    bool saturated = !c.saturated;
    const float q = format.Quantize(c.x, &saturated);
    EXPECT_TRUE(SameFloat(c.expected, q)) << c.name << ": Quantize(" << c.x << ") = " << q << ", expected "
                                          << c.expected;
    EXPECT_EQ(c.saturated, saturated) << c.name << ": saturation flag for " << c.x;
    in.push_back(c.x);
    expected.push_back(c.expected);
    expected_saturated += c.saturated;
  }
  std::vector<float> out(in.size());
  EXPECT_EQ(expected_saturated, format.QuantizeArray(in.data(), out.data(), static_cast<int64_t>(in.size())));
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_TRUE(SameFloat(expected[i], out[i])) << cases[i].name << ": QuantizeArray gave " << out[i];
  }
}

// Values that stress a format whose grid step near zero is `step` and whose largest value is `max`,
// followed by random values of several magnitudes around that range. Deterministic for a seed.
inline std::vector<float> StressTensor(int64_t n, float step, float max, uint32_t seed) {
  std::vector<float> values = {0.0f, -0.0f, kInf, -kInf, kNaN, -kNaN, FLT_MIN, -FLT_MIN,
                               std::numeric_limits<float>::denorm_min(), 1e-40f, -1e-40f, FLT_MAX,
                               -FLT_MAX, max, -max, step, -step, 0.5f * step, -0.5f * step,
                               1.5f * step, -1.5f * step, 2.5f * step, std::nextafter(max, kInf),
                               std::nextafter(-max, -kInf), 1.0f, -1.0f, 0.75f, 0.25f};
  // Just below and above sqrt(2) times a power of two: where log2 rounding flips (power of two).
  for (float scale : {step, max, -step}) {
    values.push_back(scale * FloatFromBits(0x3FB504F3u));
    values.push_back(scale * FloatFromBits(0x3FB504F4u));
  }
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_int_distribution<int> small_int(-300, 300);
  std::uniform_int_distribution<uint32_t> any_bits;
  while (static_cast<int64_t>(values.size()) < n) {
    switch (kind(random)) {
      case 0:  // ordinary values across the format's range
        values.push_back(normal(random) * max * 0.4f);
        break;
      case 1:  // near the bottom of the range
        values.push_back(normal(random) * step * 4.0f);
        break;
      case 2:  // exact ties and grid points of the fine end
        values.push_back(static_cast<float>(small_int(random)) * 0.5f * step);
        break;
      case 3:  // beyond the range
        values.push_back(normal(random) * max * 4.0f);
        break;
      case 4:  // any float at all, NaN payloads and subnormals included
        values.push_back(FloatFromBits(any_bits(random)));
        break;
      default:
        values.push_back(normal(random));
        break;
    }
  }
  values.resize(static_cast<size_t>(n));
  return values;
}

// The kernel paths this processor can run, for tests that check each against the reference.
inline std::vector<KernelPath> SupportedKernelPaths() {
  std::vector<KernelPath> paths;
  for (KernelPath path : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
    if (KernelPathSupported(path)) paths.push_back(path);
  }
  return paths;
}

// Restores the automatic choice of kernel path when a test ends.
class ScopedKernelPath {
 public:
  explicit ScopedKernelPath(KernelPath path) : saved_(ActiveKernelPath()) { SetKernelPath(path); }
  ~ScopedKernelPath() { SetKernelPath(saved_); }
  ScopedKernelPath(const ScopedKernelPath&) = delete;
  ScopedKernelPath& operator=(const ScopedKernelPath&) = delete;

 private:
  KernelPath saved_;
};

// Mean of many stochastic roundings of one value (unbiasedness checks).
template <class Format>
double MeanOfStochasticRoundings(const Format& format, float x, int64_t draws, uint64_t seed) {
  std::vector<float> in(static_cast<size_t>(draws), x), out(in.size());
  format.QuantizeArray(in.data(), out.data(), draws, Rounding::kStochastic, seed);
  double sum = 0;
  for (float q : out) sum += q;
  return sum / static_cast<double>(draws);
}

}  // namespace condense::testing
