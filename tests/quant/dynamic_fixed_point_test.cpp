#include "condense/quant/dynamic_fixed_point.hpp"

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

TEST(DynamicFixedPointTest, Width8Fraction1Golden) {
  // Step 0.5, k in [-128, 127]: values -64 .. 63.5.
  ExpectGolden(DynamicFixedPoint{8, 1},
               {{"zero", 0.0f, 0.0f, false},
                {"negative zero keeps its sign", -0.0f, -0.0f, false},
                {"on the grid", 3.5f, 3.5f, false},
                {"tie 0.25 goes away from zero", 0.25f, 0.5f, false},
                {"tie -0.25 goes away from zero", -0.25f, -0.5f, false},
                {"tie 0.75 goes up to 1", 0.75f, 1.0f, false},
                {"tie -0.75 goes down to -1", -0.75f, -1.0f, false},
                {"just below a tie rounds down", std::nextafter(0.25f, 0.0f), 0.0f, false},
                {"small negative gives negative zero", -0.2f, -0.0f, false},
                {"tiny value", 1e-30f, 0.0f, false},
                {"subnormal negative", -1e-40f, -0.0f, false},
                {"max", 63.5f, 63.5f, false},
                {"rounds down onto max", 63.74f, 63.5f, false},
                {"just past max: rounds to 128 steps, clipped", 63.75f, 63.5f, true},
                {"min", -64.0f, -64.0f, false},
                {"rounds up onto min", -64.2f, -64.0f, false},
                {"just past min: rounds to -129 steps, clipped", -64.25f, -64.0f, true},
                {"far above", 1000.0f, 63.5f, true},
                {"far below", -1000.0f, -64.0f, true},
                {"+inf saturates", kInf, 63.5f, true},
                {"-inf saturates", -kInf, -64.0f, true},
                {"NaN stays NaN", kNaN, kNaN, false}});
}

TEST(DynamicFixedPointTest, NegativeFractionalLengthStepsBy2And4) {
  // bw 4, fl -1: step 2, k in [-8, 7]: values -16 .. 14.
  ExpectGolden(DynamicFixedPoint{4, -1}, {{"tie 3 goes to 4", 3.0f, 4.0f, false},
                                          {"2.9 goes to 2", 2.9f, 2.0f, false},
                                          {"tie -1 goes to -2", -1.0f, -2.0f, false},
                                          {"max", 14.0f, 14.0f, false},
                                          {"just past max", 15.0f, 14.0f, true},
                                          {"min", -16.0f, -16.0f, false},
                                          {"just past min", -17.0f, -16.0f, true}});
  // bw 8, fl -2: step 4.
  ExpectGolden(DynamicFixedPoint{8, -2}, {{"tie 6 goes to 8", 6.0f, 8.0f, false},
                                          {"5.9 goes to 4", 5.9f, 4.0f, false},
                                          {"tie -6 goes to -8", -6.0f, -8.0f, false},
                                          {"max 508", 508.0f, 508.0f, false},
                                          {"min -512", -512.0f, -512.0f, false}});
}

TEST(DynamicFixedPointTest, FractionalLengthBeyondWidth) {
  // bw 4, fl 6: step 1/64, k in [-8, 7]: values -0.125 .. 0.109375.
  ExpectGolden(DynamicFixedPoint{4, 6}, {{"0.1 is 6.4 steps", 0.1f, 0.09375f, false},
                                         {"half a step is a tie", 0.0078125f, 0.015625f, false},
                                         {"0.2 clips", 0.2f, 0.109375f, true},
                                         {"min", -0.125f, -0.125f, false},
                                         {"-0.13 rounds onto min", -0.13f, -0.125f, false},
                                         {"-0.14 clips", -0.14f, -0.125f, true}});
  // Ristretto's LeNet input: bw 8, fl 8 (step 1/256, max 127/256 — inputs in [0, 1) clip at 0.5).
  ExpectGolden(DynamicFixedPoint{8, 8}, {{"0.25", 0.25f, 0.25f, false},
                                         {"max", 127.0f / 256, 127.0f / 256, false},
                                         {"0.9 clips", 0.9f, 127.0f / 256, true}});
}

TEST(DynamicFixedPointTest, OneBitWordHoldsMinusOneAndZero) {
  ExpectGolden(DynamicFixedPoint{1, 0}, {{"0.4", 0.4f, 0.0f, false},
                                         {"0.5 rounds to 1, which clips to 0", 0.5f, 0.0f, true},
                                         {"-0.5", -0.5f, -1.0f, false},
                                         {"-3", -3.0f, -1.0f, true}});
}

TEST(DynamicFixedPointTest, WideWordsWhoseBoundIsNotAFloat) {
  // bw 32, fl 16 (the proto's defaults): the largest value (2^31 - 1) / 2^16 rounds to 32768 in float.
  const DynamicFixedPoint format{32, 16};
  EXPECT_EQ(32768.0f, format.MaxValue());
  EXPECT_EQ(-32768.0f, format.MinValue());
  const float just_below = std::nextafter(32768.0f, 0.0f);  // 2^31 - 128 steps: representable
  ExpectGolden(format, {{"pi survives to 16 fractional bits", 3.14159265f,
                         std::round(3.14159265f * 65536.0f) / 65536.0f, false},
                        {"just below the bound", just_below, just_below, false},
                        {"2^15 is 2^31 steps, one past the largest", 32768.0f, 32768.0f, true},
                        {"-2^15 is the smallest", -32768.0f, -32768.0f, false},
                        {"far above", 1e9f, 32768.0f, true}});
  // bw 24, fl 0: integers up to 2^23 - 1, all exact in float.
  ExpectGolden(DynamicFixedPoint{24, 0}, {{"max", 8388607.0f, 8388607.0f, false},
                                          {"max + 1", 8388608.0f, 8388607.0f, true},
                                          {"tie 2.5", 2.5f, 3.0f, false}});
}

TEST(DynamicFixedPointTest, RangeQueries) {
  const DynamicFixedPoint format{8, 3};
  EXPECT_EQ(0.125f, format.Step());
  EXPECT_EQ(127.0f / 8, format.MaxValue());
  EXPECT_EQ(-16.0f, format.MinValue());
  EXPECT_EQ(4.0f, (DynamicFixedPoint{6, -2}).Step());
  EXPECT_NE(std::string::npos, format.Describe().find("8 bits"));
}

TEST(DynamicFixedPointTest, StochasticRoundingWithGivenDraws) {
  const DynamicFixedPoint format{8, 0};
  // floor(2.25 + u): up exactly when u >= 0.75.
  EXPECT_EQ(2.0f, format.QuantizeStochastic(2.25f, 0.0f));
  EXPECT_EQ(2.0f, format.QuantizeStochastic(2.25f, 0.74f));
  EXPECT_EQ(3.0f, format.QuantizeStochastic(2.25f, 0.75f));
  // floor(-2.25 + u): -3 unless u >= 0.25.
  EXPECT_EQ(-3.0f, format.QuantizeStochastic(-2.25f, 0.24f));
  EXPECT_EQ(-2.0f, format.QuantizeStochastic(-2.25f, 0.25f));
  // Negative values above -1 step: floor(-0.3 + u) is -1 unless u >= 0.3 (then 0, keeping the sign).
  EXPECT_EQ(-1.0f, format.QuantizeStochastic(-0.3f, std::nextafter(0.3f, 0.0f)));
  EXPECT_TRUE(testing::SameFloat(-0.0f, format.QuantizeStochastic(-0.3f, 0.3f)));
  // A tiny negative value goes to -1 only with the draw u = 0 (exactly: 1 - 1e-30 is not a float).
  EXPECT_EQ(-1.0f, format.QuantizeStochastic(-1e-30f, 0.0f));
  EXPECT_TRUE(testing::SameFloat(-0.0f, format.QuantizeStochastic(-1e-30f, kDrawUnit)));
  EXPECT_TRUE(testing::SameFloat(0.0f, format.QuantizeStochastic(1e-30f, 1.0f - kDrawUnit)));
  // Grid points never move.
  EXPECT_EQ(3.0f, format.QuantizeStochastic(3.0f, 0.999f));
  EXPECT_EQ(3.0f, format.QuantizeStochastic(3.0f, 0.0f));
  // Clipping applies after rounding.
  bool saturated = false;
  EXPECT_EQ(127.0f, format.QuantizeStochastic(127.5f, 0.6f, &saturated));
  EXPECT_TRUE(saturated);
  EXPECT_EQ(127.0f, format.QuantizeStochastic(127.5f, 0.4f, &saturated));
  EXPECT_FALSE(saturated);
  EXPECT_TRUE(std::isnan(format.QuantizeStochastic(kNaN, 0.5f)));
  EXPECT_EQ(-128.0f, format.QuantizeStochastic(-kInf, 0.5f, &saturated));
  EXPECT_TRUE(saturated);
}

TEST(DynamicFixedPointTest, StochasticRoundingIsUnbiased) {
  const DynamicFixedPoint format{8, 2};  // step 0.25
  for (float x : {0.3f, -0.3f, 1.1f, 5.0f, -7.93f}) {
    // Each draw is off by at most one step: the standard error of the mean is <= 0.25 / 2 / sqrt(n).
    const double mean = testing::MeanOfStochasticRoundings(format, x, 1 << 20, 7);
    EXPECT_NEAR(x, mean, 5 * 0.125 / 1024) << "x = " << x;
  }
}

TEST(DynamicFixedPointTest, StochasticRoundingIsReproducible) {
  const DynamicFixedPoint format{6, 3};
  const std::vector<float> in = testing::StressTensor(5000, format.Step(), format.MaxValue(), 3);
  std::vector<float> first(in.size()), second(in.size()), other_seed(in.size());
  const int64_t n = static_cast<int64_t>(in.size());
  format.QuantizeArray(in.data(), first.data(), n, Rounding::kStochastic, 42);
  format.QuantizeArray(in.data(), second.data(), n, Rounding::kStochastic, 42);
  format.QuantizeArray(in.data(), other_seed.data(), n, Rounding::kStochastic, 43);
  int differences = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_TRUE(testing::SameFloat(first[i], second[i])) << "element " << i;
    differences += !testing::SameFloat(first[i], other_seed[i]);
  }
  EXPECT_GT(differences, 100) << "another seed should round many values differently";
}

TEST(DynamicFixedPointTest, ValidationNamesTheField) {
  EXPECT_NO_THROW((DynamicFixedPoint{8, -3}).Validate(""));
  EXPECT_NO_THROW((DynamicFixedPoint{32, 16}).Validate(""));
  EXPECT_NO_THROW((DynamicFixedPoint{1, 126}).Validate(""));
  const auto message = [](DynamicFixedPoint format) {
    try {
      format.Validate("lenet.prototxt: layer 'conv1': ", "bw_params", "fl_params");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(0u, message({0, 2}).find("lenet.prototxt: layer 'conv1': bw_params = 0"));
  EXPECT_NE(std::string::npos, message({-4, 2}).find("bw_params = -4"));
  EXPECT_NE(std::string::npos, message({33, 2}).find("bw_params = 33"));
  EXPECT_NE(std::string::npos, message({8, 127}).find("fl_params = 127"));
  EXPECT_NE(std::string::npos, message({8, -127}).find("fl_params = -127"));
  // The largest value 2^(32 - 1 + 100) would not be a float.
  EXPECT_NE(std::string::npos, message({32, -100}).find("fl_params = -100"));
  EXPECT_THROW((DynamicFixedPoint{0, 0}).QuantizeArray(nullptr, nullptr, 0), Error);
}

}  // namespace
}  // namespace condense
