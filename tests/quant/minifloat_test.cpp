#include "condense/quant/minifloat.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>

#include "condense/core/error.hpp"
#include "quant_test_helpers.hpp"

namespace condense {
namespace {

using testing::ExpectGolden;
using testing::kInf;
using testing::kNaN;

TEST(MinifloatTest, RangeOf8BitE4M3) {
  // Bias 7; the top exponent code is reserved as in IEEE, so the largest value is 1.875 * 2^7.
  const Minifloat format{4, 3};
  EXPECT_EQ(7, format.ExponentBias());
  EXPECT_EQ(240.0f, format.MaxValue());
  EXPECT_EQ(0.015625f, format.MinNormal());        // 2^-6
  EXPECT_EQ(0.001953125f, format.MinSubnormal());  // 2^-9
  EXPECT_EQ(65504.0f, (Minifloat{5, 10}).MaxValue());  // binary16's largest
  EXPECT_EQ(FLT_MAX, (Minifloat{8, 23}).MaxValue());
  EXPECT_NE(std::string::npos, format.Describe().find("8 bits"));
}

TEST(MinifloatTest, E4M3Golden) {
  ExpectGolden(Minifloat{4, 3},
               {{"zero", 0.0f, 0.0f, false},
                {"negative zero", -0.0f, -0.0f, false},
                {"one", 1.0f, 1.0f, false},
                {"3.3 in [2, 4), step 0.25", 3.3f, 3.25f, false},
                {"tie 1.0625 goes away from zero", 1.0625f, 1.125f, false},
                {"tie -1.0625 goes away from zero", -1.0625f, -1.125f, false},
                {"below the tie", 1.0624f, 1.0f, false},
                {"tie 1.3125 goes up to 1.375 (ties-to-even: 1.25)", 1.3125f, 1.375f, false},
                {"mantissa carries into the exponent", 1.96875f, 2.0f, false},
                {"max", 240.0f, 240.0f, false},
                {"rounds down onto max", 247.9f, 240.0f, false},
                {"just past max: the tie 248 rounds to 256, clipped", 248.0f, 240.0f, true},
                {"-max", -240.0f, -240.0f, false},
                {"far above", 1e6f, 240.0f, true},
                {"+inf saturates (no infinity)", kInf, 240.0f, true},
                {"-inf saturates", -kInf, -240.0f, true},
                {"NaN stays NaN", kNaN, kNaN, false},
                {"smallest normal", 0.015625f, 0.015625f, false},
                {"smallest subnormal", 0.001953125f, 0.001953125f, false},
                {"three subnormal steps", 0.005859375f, 0.005859375f, false},
                {"half a subnormal step is a tie: up", 0.0009765625f, 0.001953125f, false},
                {"below half a subnormal step", 0.0009f, 0.0f, false},
                {"negative tiny keeps its sign", -0.0009f, -0.0f, false},
                {"tie 1.5 subnormal steps goes to 2", 0.0029296875f, 0.00390625f, false},
                {"subnormal rounds up into the normal range", 0.0155f, 0.015625f, false},
                {"float subnormal input", 1e-40f, 0.0f, false}});
}

TEST(MinifloatTest, Float32LayoutIsTheIdentity) {
  // exp_bits 8, mant_bits 23 are the proto's defaults: a layer with them must not change.
  const Minifloat format{8, 23};
  ExpectGolden(format, {{"pi", 3.14159265f, 3.14159265f, false},
                        {"subnormal", 1e-40f, 1e-40f, false},
                        {"smallest subnormal", 1.4e-45f, 1.4e-45f, false},
                        {"max", FLT_MAX, FLT_MAX, false},
                        {"-max", -FLT_MAX, -FLT_MAX, false},
                        {"inf saturates to FLT_MAX", kInf, FLT_MAX, true},
                        {"negative zero", -0.0f, -0.0f, false}});
}

TEST(MinifloatTest, BinaryHalfAgreesWithFloat16AwayFromTies) {
  // {5, 10} is IEEE binary16; the conversion to _Float16 differs only on exact ties (to even there)
  // and beyond the largest value (infinity there), which this test avoids.
  const Minifloat format{5, 10};
  std::mt19937 random(11);
  std::uniform_real_distribution<float> log_magnitude(-24.0f, 15.9f);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::exp2(log_magnitude(random)) * (i % 2 ? -1.0f : 1.0f);
    const float half = static_cast<float>(static_cast<_Float16>(x));
    if (std::fabs(half) > 65504.0f) continue;
    const float q = format.Quantize(x);
    // A tie sits exactly halfway; both neighbours are binary16 values.
    const bool tie = std::fabs(q - x) == std::fabs(half - x) && q != half;
    if (tie) continue;
    ASSERT_EQ(half, q) << "x = " << x;
  }
}

TEST(MinifloatTest, StochasticRoundingWithGivenDraws) {
  const Minifloat format{4, 3};
  // 1.03125 lies a quarter of the way from 1 to 1.125: up when u >= 0.75.
  EXPECT_EQ(1.0f, format.QuantizeStochastic(1.03125f, 0.74f));
  EXPECT_EQ(1.125f, format.QuantizeStochastic(1.03125f, 0.75f));
  EXPECT_EQ(-1.125f, format.QuantizeStochastic(-1.03125f, 0.75f));
  // In the subnormal range: 0.25 of a step.
  EXPECT_EQ(0.0f, format.QuantizeStochastic(0.00048828125f, 0.74f));
  EXPECT_EQ(0.001953125f, format.QuantizeStochastic(0.00048828125f, 0.75f));
  // From the top binade up past the largest value.
  bool saturated = false;
  EXPECT_EQ(240.0f, format.QuantizeStochastic(248.0f, 0.5f, &saturated));
  EXPECT_TRUE(saturated);
  EXPECT_EQ(240.0f, format.QuantizeStochastic(248.0f, 0.49f, &saturated));
  EXPECT_FALSE(saturated);
  EXPECT_EQ(3.0f, format.QuantizeStochastic(3.0f, 0.999f));
}

TEST(MinifloatTest, StochasticRoundingIsUnbiased) {
  const Minifloat format{4, 3};
  struct Case {
    float x;
    float gap;  // between x's two neighbours
  };
  for (const Case& c : {Case{1.03f, 0.125f}, Case{-3.3f, 0.25f}, Case{0.0013f, 0.001953125f},
                        Case{100.0f, 8.0f}, Case{0.017f, 0.001953125f}}) {
    // Each draw lands on a neighbour: the standard error of the mean is <= gap / 2 / sqrt(2^20).
    const double mean = testing::MeanOfStochasticRoundings(format, c.x, 1 << 20, 5);
    EXPECT_NEAR(c.x, mean, 5 * c.gap / 2 / 1024) << "x = " << c.x;
  }
}

TEST(MinifloatTest, ValidationNamesTheField) {
  EXPECT_NO_THROW((Minifloat{4, 3}).Validate(""));
  EXPECT_NO_THROW((Minifloat{2, 0}).Validate(""));
  const auto message = [](Minifloat format) {
    try {
      format.Validate("net.prototxt: layer 'ip1': ", "exp_bits", "mant_bits");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(0u, message({0, 3}).find("net.prototxt: layer 'ip1': exp_bits = 0"));
  EXPECT_NE(std::string::npos, message({1, 3}).find("exp_bits = 1"));
  EXPECT_NE(std::string::npos, message({9, 3}).find("exp_bits = 9"));
  EXPECT_NE(std::string::npos, message({5, 24}).find("mant_bits = 24"));
  EXPECT_NE(std::string::npos, message({5, -1}).find("mant_bits = -1"));
  EXPECT_THROW((Minifloat{9, 30}).QuantizeArray(nullptr, nullptr, 0), Error);
}

}  // namespace
}  // namespace condense
