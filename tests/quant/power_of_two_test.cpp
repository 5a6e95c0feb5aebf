#include "condense/quant/power_of_two.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "condense/core/error.hpp"
#include "quant_test_helpers.hpp"

namespace condense {
namespace {

using testing::ExpectGolden;
using testing::kInf;
using testing::kNaN;

TEST(PowerOfTwoTest, RistrettoDefaultRangeGolden) {
  // exp_min -8, exp_max -1: magnitudes 2^-8 .. 0.5, and 0.
  const PowerOfTwo format{-8, -1};
  EXPECT_EQ(0.5f, format.MaxValue());
  EXPECT_EQ(0.00390625f, format.MinPositive());
  EXPECT_EQ(0.001953125f, format.ZeroThreshold());
  // The geometric midpoint of 0.25 and 0.5 is 0.25 * sqrt(2) = 0.353553390...
  const float midpoint = 0.35355339f;
  const float above = std::nextafter(midpoint, 1.0f), below = std::nextafter(midpoint, 0.0f);
  ASSERT_GT(static_cast<double>(above), 0.25 * std::sqrt(2.0));
  ASSERT_LT(static_cast<double>(below), 0.25 * std::sqrt(2.0));
  ExpectGolden(format,
               {{"zero is exact (Ristretto made it 2^-8)", 0.0f, 0.0f, false},
                {"negative zero", -0.0f, -0.0f, false},
                {"a power of two", 0.25f, 0.25f, false},
                {"0.3: log2 = -1.74 rounds to -2", 0.3f, 0.25f, false},
                {"0.36: log2 = -1.47 rounds to -1", 0.36f, 0.5f, false},
                {"just above the geometric midpoint", above, 0.5f, false},
                {"just below the geometric midpoint", below, 0.25f, false},
                {"negative", -0.3f, -0.25f, false},
                {"max", 0.5f, 0.5f, false},
                {"0.7 rounds down onto max", 0.7f, 0.5f, false},
                {"0.71: log2 = -0.49 rounds to 0, clipped", 0.71f, 0.5f, true},
                {"one", 1.0f, 0.5f, true},
                {"-8", -8.0f, -0.5f, true},
                {"smallest", 0.00390625f, 0.00390625f, false},
                {"0.003: log2 = -8.38", 0.003f, 0.00390625f, false},
                {"0.0025: log2 = -8.64 rounds to -9, raised to -8", 0.0025f, 0.00390625f, false},
                {"half the smallest is the tie to zero: up", 0.001953125f, 0.00390625f, false},
                {"below half the smallest: zero", 0.0019f, 0.0f, false},
                {"negative tiny: negative zero", -0.001f, -0.0f, false},
                {"subnormal", 1e-40f, 0.0f, false},
                {"+inf saturates", kInf, 0.5f, true},
                {"-inf saturates", -kInf, -0.5f, true},
                {"NaN stays NaN", kNaN, kNaN, false}});
}

TEST(PowerOfTwoTest, PositiveExponents) {
  ExpectGolden(PowerOfTwo{0, 3}, {{"5: log2 = 2.32", 5.0f, 4.0f, false},
                                  {"6: log2 = 2.58", 6.0f, 8.0f, false},
                                  {"100 clips", 100.0f, 8.0f, true},
                                  {"0.5 is the tie to zero: up to 1", 0.5f, 1.0f, false},
                                  {"0.49: zero", 0.49f, 0.0f, false},
                                  {"0.6: up to 1", -0.6f, -1.0f, false}});
  ExpectGolden(PowerOfTwo{3, 3}, {{"a single magnitude", 7.0f, 8.0f, false},
                                  {"4, half of 8, is the tie to zero: up", 4.0f, 8.0f, false},
                                  {"3.99: zero", 3.99f, 0.0f, false},
                                  {"12 clips (log2 = 3.58)", 12.0f, 8.0f, true}});
}

TEST(PowerOfTwoTest, StochasticRoundingIsLinearBetweenNeighbours) {
  const PowerOfTwo format{-8, -1};
  // 0.375 lies halfway between 0.25 and 0.5 (linearly): up when u >= 0.5.
  EXPECT_EQ(0.25f, format.QuantizeStochastic(0.375f, 0.49f));
  EXPECT_EQ(0.5f, format.QuantizeStochastic(0.375f, 0.5f));
  EXPECT_EQ(-0.5f, format.QuantizeStochastic(-0.375f, 0.5f));
  // Below the smallest magnitude, between 0 and 2^-8: 2^-10 is a quarter of the way.
  EXPECT_EQ(0.0f, format.QuantizeStochastic(0.0009765625f, 0.74f));
  EXPECT_EQ(0.00390625f, format.QuantizeStochastic(0.0009765625f, 0.75f));
  EXPECT_EQ(-0.0f, format.QuantizeStochastic(-0.0009765625f, 0.5f));
  EXPECT_EQ(0.0f, format.QuantizeStochastic(0.0f, 0.999f));
  // From the top magnitude up past it.
  bool saturated = false;
  EXPECT_EQ(0.5f, format.QuantizeStochastic(0.75f, 0.5f, &saturated));
  EXPECT_TRUE(saturated);
  EXPECT_EQ(0.5f, format.QuantizeStochastic(0.75f, 0.49f, &saturated));
  EXPECT_FALSE(saturated);
}

TEST(PowerOfTwoTest, StochasticRoundingIsUnbiasedInValue) {
  const PowerOfTwo format{-8, -1};
  struct Case {
    float x;
    float gap;
  };
  for (const Case& c : {Case{0.3f, 0.25f}, Case{-0.1f, 0.0625f}, Case{0.002f, 0.00390625f},
                        Case{0.0051f, 0.00390625f}}) {
    const double mean = testing::MeanOfStochasticRoundings(format, c.x, 1 << 20, 9);
    EXPECT_NEAR(c.x, mean, 5 * c.gap / 2 / 1024) << "x = " << c.x;
  }
}

TEST(PowerOfTwoTest, ValidationNamesTheField) {
  EXPECT_NO_THROW((PowerOfTwo{-8, -1}).Validate(""));
  EXPECT_NO_THROW((PowerOfTwo{-125, 127}).Validate(""));
  EXPECT_NO_THROW((PowerOfTwo{2, 2}).Validate(""));
  const auto message = [](PowerOfTwo format) {
    try {
      format.Validate("net.prototxt: layer 'conv2': ", "exp_min", "exp_max");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(0u, message({-1, -8}).find("net.prototxt: layer 'conv2': exp_min = -1 is greater than exp_max = -8"));
  EXPECT_NE(std::string::npos, message({-126, -1}).find("exp_min = -126"));
  EXPECT_NE(std::string::npos, message({0, 128}).find("exp_max = 128"));
  EXPECT_THROW((PowerOfTwo{1, 0}).QuantizeArray(nullptr, nullptr, 0), Error);
}

}  // namespace
}  // namespace condense
