// The saturating integer accumulator: hand-computed sums (fitting, at the limits, one over, saturating
// on the way and coming back, bias starts and alignments, the 64-bit edges), the code conversion, and
// the kernel against a plain running sum on random codes at every width.
#include "condense/quant/integer_accumulator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "quant_test_helpers.hpp"

namespace condense {
namespace {

constexpr int32_t kCodeMin = std::numeric_limits<int32_t>::min();  // -2^31
constexpr int32_t kCodeMax = std::numeric_limits<int32_t>::max();
constexpr int64_t kSumMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kSumMin = std::numeric_limits<int64_t>::min();

AccumulatorSpec Spec(int bits, int input_fl = 0, int weight_fl = 0, int bias_fl = 0) {
  AccumulatorSpec spec;
  spec.bits = bits;
  spec.input = {32, input_fl};
  spec.weights = {32, weight_fl};
  spec.bias = {32, bias_fl};
  return spec;
}

struct SumCase {
  std::string name;
  AccumulatorSpec spec;
  std::vector<int32_t> inputs;
  std::vector<int32_t> weights;
  bool has_bias;
  int32_t bias;
  int64_t expected_sum;  // the final accumulator, at scale 2^-(fl_in + fl_w)
  bool saturated;
};

// One dot product (one row, one output) per case.
void ExpectSums(const std::vector<SumCase>& cases) {
  for (const SumCase& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.inputs.size(), c.weights.size());
    float out = -1.0f;
    IntegerDotProducts products;
    products.inputs = c.inputs.data();
    products.rows = 1;
    products.weights = c.weights.data();
    products.outputs = 1;
    products.depth = static_cast<int64_t>(c.inputs.size());
    products.bias = c.has_bias ? &c.bias : nullptr;
    products.out = &out;
    QuantizeStats stats;
    EXPECT_EQ(c.saturated ? 1 : 0, AccumulateSaturating(c.spec, products, &stats));
    const float expected =
        static_cast<float>(std::ldexp(static_cast<double>(c.expected_sum), -c.spec.SumFractionalBits()));
    EXPECT_EQ(expected, out);
    EXPECT_EQ(1, stats.count);
    EXPECT_EQ(c.saturated ? 1 : 0, stats.saturated);
    EXPECT_EQ(c.saturated, stats.noise_energy > 0.0) << "noise is the distance from the exact sum";
  }
}

TEST(IntegerAccumulatorTest, SumsAtTheLimitsOfAnEightBitAccumulator) {
  // [-128, 127].
  ExpectSums({{"fits: 1*4 + 2*5 + 3*6", Spec(8), {1, 2, 3}, {4, 5, 6}, false, 0, 32, false},
              {"no products: zero", Spec(8), {}, {}, false, 0, 0, false},
              {"exactly at the top", Spec(8), {100, 27}, {1, 1}, false, 0, 127, false},
              {"exactly at the bottom", Spec(8), {-100, -28}, {1, 1}, false, 0, -128, false},
              {"one over the top saturates at 127", Spec(8), {100, 28}, {1, 1}, false, 0, 127, true},
              {"one under the bottom saturates at -128", Spec(8), {-100, -29}, {1, 1}, false, 0, -128,
               true},
              {"far under", Spec(8), {-100, -100}, {3, 3}, false, 0, -128, true},
              {"a product alone beyond the range", Spec(8), {20}, {-20}, false, 0, -128, true},
              {"the order of k matters: -100, +100, +100 fits", Spec(8), {-100, 100, 100}, {1, 1, 1},
               false, 0, 100, false},
              {"... +100, +100, -100 saturates and ends 27", Spec(8), {100, 100, -100}, {1, 1, 1},
               false, 0, 27, true}});
}

TEST(IntegerAccumulatorTest, RunningSumKeepsWhatSaturationClipped) {
  // N = 4: [-8, 7]. 7 + 7 -> 7 (saturated), then 7 - 7 -> 0: not the 7 an exact sum would give.
  ExpectSums({{"+7 +7 -7", Spec(4), {7, 7, -7}, {1, 1, 1}, false, 0, 0, true},
              {"-7 -7 +7: -8 then -1", Spec(4), {-7, -7, 7}, {1, 1, 1}, false, 0, -1, true},
              {"+7 -7 +7 never leaves", Spec(4), {7, -7, 7}, {1, 1, 1}, false, 0, 7, false},
              {"two-bit accumulator [-2, 1]", Spec(2), {1, 1, -1}, {1, 1, 1}, false, 0, 0, true}});
}

TEST(IntegerAccumulatorTest, SumsStartAtTheBiasMovedToTheirScale) {
  ExpectSums({
      {"bias at the sums' scale", Spec(8, 2, 3, 5), {3}, {4}, true, 10, 22, false},
      // fl 1 + 1 = 2 for sums, bias fl 4: 6 * 2^-4 = 0.375 = 1.5 steps of 2^-2, a tie: away to 2.
      {"finer bias rounds to nearest, tie away", Spec(8, 1, 1, 4), {1}, {1}, true, 6, 3, false},
      {"negative tie away from zero", Spec(8, 1, 1, 4), {1}, {1}, true, -6, -1, false},
      {"finer bias below half a step is 0", Spec(8, 1, 1, 4), {1}, {1}, true, 1, 1, false},
      // fl 2 for sums, bias fl 0: 3 -> 12.
      {"coarser bias shifts left", Spec(8, 1, 1, 0), {1}, {1}, true, 3, 13, false},
      {"a bias beyond the range saturates the sum at its start", Spec(4), {}, {}, true, 100, 7,
       true},
      {"... and stays counted when products bring it back", Spec(4), {-3}, {1}, true, 100, 4, true},
      {"bias exactly at the bottom", Spec(4), {1}, {1}, true, -8, -7, false},
  });
}

TEST(IntegerAccumulatorTest, SixtyFourBitEdges) {
  const int64_t two_62 = int64_t{1} << 62;
  const int64_t low_product = int64_t{kCodeMin} * kCodeMax;  // -2^62 + 2^31
  ExpectSums({
      // 2^62 + (2^62 - 2^32 + 1) + (2^32 - 2) = 2^63 - 1.
      {"exactly the top", Spec(64), {kCodeMin, kCodeMax, 2}, {kCodeMin, kCodeMax, kCodeMax}, false, 0,
       kSumMax, false},
      {"one over the top", Spec(64), {kCodeMin, kCodeMax, 2, 1}, {kCodeMin, kCodeMax, kCodeMax, 1},
       false, 0, kSumMax, true},
      {"2^62 + 2^62 leaves int64: saturates", Spec(64), {kCodeMin, kCodeMin}, {kCodeMin, kCodeMin},
       false, 0, kSumMax, true},
      {"... then comes back down", Spec(64), {kCodeMin, kCodeMin, kCodeMin},
       {kCodeMin, kCodeMin, kCodeMax}, false, 0, kSumMax + low_product, true},
      {"three smallest products pass -2^63", Spec(64), {kCodeMin, kCodeMin, kCodeMin},
       {kCodeMax, kCodeMax, kCodeMax}, false, 0, kSumMin, true},
      {"two of them fit", Spec(64), {kCodeMin, kCodeMin}, {kCodeMax, kCodeMax}, false, 0,
       2 * low_product, false},
      // Bias fl 0, sums fl 32: -2^31 * 2^32 = -2^63, the bottom exactly.
      {"a bias of exactly -2^63", Spec(64, 16, 16, 0), {}, {}, true, kCodeMin, kSumMin, false},
      {"... one step lower saturates", Spec(64, 16, 16, 0), {-1}, {1}, true, kCodeMin, kSumMin,
       true},
      {"a bias of 2^63 is one over the top", Spec(64, 16, 17, 0), {}, {}, true, 1 << 30, kSumMax,
       true},
      {"63 bits: 2^62 is one over", Spec(63), {kCodeMin}, {kCodeMin}, false, 0, two_62 - 1, true},
  });
}

TEST(IntegerAccumulatorTest, StridesPlaceEachSumAndOnlyOverflowingSumsCount) {
  // Two rows (output positions) x two outputs, written as a convolution does: out[o * 2 + r].
  const std::vector<int32_t> inputs = {1, 2, 3, 4};  // rows (1, 2) and (3, 4)
  const std::vector<int32_t> weights = {5, 6, 7, -8};  // outputs (5, 6) and (7, -8)
  const std::vector<int32_t> bias = {1, -1};
  std::vector<float> out(4, -99.0f);
  IntegerDotProducts products;
  products.inputs = inputs.data();
  products.rows = 2;
  products.weights = weights.data();
  products.outputs = 2;
  products.depth = 2;
  products.bias = bias.data();
  products.out = out.data();
  products.out_row_stride = 1;
  products.out_output_stride = 2;
  // Sums: (r0, o0) 1 + 5 + 12 = 18; (r1, o0) 1 + 15 + 24 = 40; (r0, o1) -1 + 7 - 16 = -10;
  // (r1, o1) -1 + 21 - 32 = -12. An accumulator of 6 bits ([-32, 31]) clips 40 only.
  QuantizeStats stats;
  EXPECT_EQ(1, AccumulateSaturating(Spec(6), products, &stats));
  EXPECT_EQ((std::vector<float>{18, 31, -10, -12}), out);
  EXPECT_EQ(4, stats.count);
  EXPECT_EQ(1, stats.saturated);
  EXPECT_DOUBLE_EQ(18.0 * 18 + 40 * 40 + 10 * 10 + 12 * 12, stats.signal_energy);
  EXPECT_DOUBLE_EQ(9.0 * 9, stats.noise_energy);
  EXPECT_EQ(0, AccumulateSaturating(Spec(7), products));
  EXPECT_EQ((std::vector<float>{18, 40, -10, -12}), out);
}

TEST(IntegerAccumulatorTest, CodesOfValuesOnTheGrid) {
  const DynamicFixedPoint format{8, 3};
  const std::vector<float> values = {0.0f, -0.0f, 0.125f, -16.0f, 15.875f, 1.0f, 100.0f,
                                     std::numeric_limits<float>::infinity()};
  std::vector<int32_t> codes(values.size());
  ToIntegerCodes(values.data(), values.size(), format, codes.data(), "values");
  EXPECT_EQ((std::vector<int32_t>{0, 0, 1, -128, 127, 8, 127, 127}), codes);

  // The float nearest to a 32-bit format's top code is one step above it: still the top code.
  const DynamicFixedPoint wide{32, 0};
  const std::vector<float> extremes = {2147483648.0f, -2147483648.0f};
  std::vector<int32_t> extreme_codes(2);
  ToIntegerCodes(extremes.data(), 2, wide, extreme_codes.data(), "extremes");
  EXPECT_EQ((std::vector<int32_t>{kCodeMax, kCodeMin}), extreme_codes);

  const float nan = std::numeric_limits<float>::quiet_NaN();
  int32_t code = 0;
  try {
    ToIntegerCodes(&nan, 1, format, &code, "layer 'fc': accumulator_bits: input 0");
    FAIL() << "NaN has no integer code";
  } catch (const Error& error) {
    EXPECT_STREQ("layer 'fc': accumulator_bits: input 0 holds NaN, which has no integer code",
                 error.what());
  }
}

TEST(IntegerAccumulatorTest, BiasToSumAndDescription) {
  bool saturated = true;
  EXPECT_EQ(40, BiasToSum(5, Spec(16, 2, 3, 2), &saturated));  // 5 * 2^(5 - 2)
  EXPECT_FALSE(saturated);
  EXPECT_EQ(32767, BiasToSum(5, Spec(16, 12, 12, 0), &saturated));
  EXPECT_TRUE(saturated);
  EXPECT_EQ("acc 16b fl 5", Spec(16, 2, 3).Describe());
}

// The definition, step by step in 128-bit integers; *exact gets the sum nothing clipped.
int64_t ReferenceSum(const AccumulatorSpec& spec, const int32_t* inputs, const int32_t* weights,
                     int64_t depth, const int32_t* bias, bool* saturated, __int128* exact) {
  const __int128 high = spec.MaxSum();
  const __int128 low = spec.MinSum();
  const double aligned = std::round(std::ldexp(static_cast<double>(*bias),
                                               spec.SumFractionalBits() - spec.bias.fractional_bits));
  *exact = static_cast<__int128>(aligned);
  __int128 sum = std::clamp(*exact, low, high);
  *saturated = sum != *exact;
  for (int64_t k = 0; k < depth; ++k) {
    const __int128 product = static_cast<__int128>(inputs[k]) * weights[k];
    *exact += product;
    sum += product;
    if (sum > high || sum < low) *saturated = true;
    sum = std::clamp(sum, low, high);
  }
  return static_cast<int64_t>(sum);
}

// Random codes of every width through each instruction set the processor has; outputs not a multiple
// of the kernel's lanes, and reductions long enough for 32-bit codes to need more than 64 bits.
TEST(IntegerAccumulatorTest, EveryPathMatchesTheStepByStepDefinitionAtEveryWidth) {
  for (KernelPath path : testing::SupportedKernelPaths()) {
    testing::ScopedKernelPath scoped(path);
    std::mt19937_64 random(1701);
    for (int bits = 2; bits <= 64; ++bits) {
      for (int code_bits : {4, 8, 16, 32}) {
        SCOPED_TRACE(::testing::Message() << KernelPathName(path) << ", accumulator " << bits
                                          << " bits, codes " << code_bits);
        const AccumulatorSpec spec = Spec(bits, 3, 2, 1 + bits % 7);
        const int64_t rows = 3, outputs = 11, depth = 1 + static_cast<int64_t>(random() % 40);
        const int64_t top = (int64_t{1} << (code_bits - 1)) - 1;
        auto draw = [&] {
          return static_cast<int32_t>(static_cast<int64_t>(random() % (2 * top + 2)) - top - 1);
        };
        std::vector<int32_t> inputs(rows * depth), weights(outputs * depth), bias(outputs);
        for (int32_t& v : inputs) v = draw();
        for (int32_t& v : weights) v = draw();
        for (int32_t& v : bias) v = draw();
        std::vector<float> out(rows * outputs);
        IntegerDotProducts products{inputs.data(), rows,        weights.data(), outputs, depth,
                                    bias.data(),   out.data(), outputs,        1};
        QuantizeStats stats;
        const int64_t saturated = AccumulateSaturating(spec, products, &stats);
        int64_t expected_saturated = 0;
        double expected_noise = 0.0;
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t o = 0; o < outputs; ++o) {
            bool clipped = false;
            __int128 exact = 0;
            const int64_t sum = ReferenceSum(spec, &inputs[r * depth], &weights[o * depth], depth,
                                             &bias[o], &clipped, &exact);
            expected_saturated += clipped ? 1 : 0;
            const int fl = spec.SumFractionalBits();
            const double error = std::ldexp(static_cast<double>(sum - exact), -fl);
            expected_noise += error * error;
            ASSERT_EQ(static_cast<float>(std::ldexp(static_cast<double>(sum), -fl)),
                      out[r * outputs + o])
                << "row " << r << " output " << o;
          }
        }
        EXPECT_EQ(expected_saturated, saturated);
        EXPECT_EQ(rows * outputs, stats.count);
        EXPECT_EQ(expected_saturated, stats.saturated);
        EXPECT_DOUBLE_EQ(expected_noise, stats.noise_energy);
      }
    }
  }
}

}  // namespace
}  // namespace condense
