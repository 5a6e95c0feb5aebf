#include "condense/quant/integer_affine.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "quant_test_helpers.hpp"

namespace condense {
namespace {

using testing::ExpectGolden;
using testing::kInf;
using testing::kNaN;

const AffineScheme kInt8{8, true, false};
const AffineScheme kUint8{8, false, false};

TEST(IntegerAffineTest, Int8AsymmetricMinusOneToOne) {
  // scale 2/255; the zero point solved from the max end is 127 - 127.5 = -0.5, rounded away to -1.
  const AffineQuantizer q = ChooseAffineQuantizer(kInt8, -1.0f, 1.0f);
  EXPECT_EQ(static_cast<float>(2.0 / 255), q.scale);
  EXPECT_EQ(-1, q.zero_point);
  EXPECT_EQ(-128, q.q_min);
  EXPECT_EQ(127, q.q_max);
  const float s = q.scale;
  EXPECT_EQ(-127 * s, q.MinValue());
  EXPECT_EQ(128 * s, q.MaxValue());
  // In float, 1 / s = 127.49999 (s is rounded up), so 1 maps to code 126, 127 steps above zero.
  ExpectGolden(q, {{"zero is exact", 0.0f, 0.0f, false},
                   {"one", 1.0f, 127 * s, false},
                   {"minus one", -1.0f, -127 * s, false},
                   {"one half: 63.749996 steps", 0.5f, 64 * s, false},
                   {"two clips at code 127", 2.0f, 128 * s, true},
                   {"minus two clips at code -128", -2.0f, -127 * s, true},
                   {"+inf", kInf, 128 * s, true},
                   {"-inf", -kInf, -127 * s, true},
                   {"NaN", kNaN, kNaN, false}});
}

TEST(IntegerAffineTest, Uint8ReluSixRange) {
  const AffineQuantizer q = ChooseAffineQuantizer(kUint8, 0.0f, 6.0f);
  EXPECT_EQ(static_cast<float>(6.0 / 255), q.scale);
  EXPECT_EQ(0, q.zero_point);
  const float s = q.scale;
  ExpectGolden(q, {{"three is the tie 127.5", 3.0f, 128 * s, false},
                   {"six", 6.0f, 255 * s, false},
                   {"seven clips", 7.0f, 255 * s, true},
                   {"negative clips to zero", -1.0f, 0.0f, true},
                   {"tiny negative rounds to zero", -0.001f, 0.0f, false}});
}

TEST(IntegerAffineTest, ZeroPointNudgedToAnInteger) {
  // [-10, 30] in uint8: scale 40/255, zero point 63.75 from the min end, nudged to 64.
  const AffineQuantizer q = ChooseAffineQuantizer(kUint8, -10.0f, 30.0f);
  EXPECT_EQ(64, q.zero_point);
  const float s = q.scale;
  EXPECT_EQ(static_cast<float>(40.0 / 255), s);
  EXPECT_EQ(-64 * s, q.MinValue());
  EXPECT_EQ(191 * s, q.MaxValue());
  ExpectGolden(q, {{"zero", 0.0f, 0.0f, false},
                   {"thirty: 191.25 steps", 30.0f, 191 * s, false},
                   {"minus ten: -63.749996 steps", -10.0f, -64 * s, false}});
}

TEST(IntegerAffineTest, RangeWidenedToContainZero) {
  const AffineQuantizer positive = ChooseAffineQuantizer(kUint8, 2.0f, 4.0f);
  EXPECT_EQ(static_cast<float>(4.0 / 255), positive.scale);
  EXPECT_EQ(0, positive.zero_point);
  const AffineQuantizer negative = ChooseAffineQuantizer(kInt8, -4.0f, -2.0f);
  EXPECT_EQ(static_cast<float>(4.0 / 255), negative.scale);
  EXPECT_EQ(127, negative.zero_point);
  EXPECT_EQ(0.0f, negative.Quantize(0.0f));
  const AffineQuantizer point = ChooseAffineQuantizer(kInt8, 0.0f, 0.0f);
  EXPECT_EQ(1.0f, point.scale);
  EXPECT_EQ(0, point.zero_point);
}

TEST(IntegerAffineTest, SymmetricSchemes) {
  // int8 symmetric: codes [-127, 127], zero point 0, scale max|range| / 127.
  const AffineQuantizer signed_q = ChooseAffineQuantizer({8, true, true}, -0.5f, 2.0f);
  EXPECT_EQ(0, signed_q.zero_point);
  EXPECT_EQ(-127, signed_q.q_min);
  EXPECT_EQ(127, signed_q.q_max);
  EXPECT_EQ(static_cast<float>(2.0 / 127), signed_q.scale);
  const float s = signed_q.scale;
  ExpectGolden(signed_q, {{"two", 2.0f, 127 * s, false},
                          {"minus two", -2.0f, -127 * s, false},
                          {"minus three clips at -127", -3.0f, -127 * s, true}});
  // uint8 symmetric: zero point 128, codes [1, 255].
  const AffineQuantizer unsigned_q = ChooseAffineQuantizer({8, false, true}, -1.0f, 1.0f);
  EXPECT_EQ(128, unsigned_q.zero_point);
  EXPECT_EQ(1, unsigned_q.q_min);
  EXPECT_EQ(255, unsigned_q.q_max);
  EXPECT_EQ(static_cast<float>(1.0 / 127), unsigned_q.scale);
  EXPECT_EQ(-unsigned_q.MaxValue(), unsigned_q.MinValue());
  // int16 symmetric, as TFLite's 16-bit activations.
  const AffineQuantizer wide = ChooseAffineQuantizer({16, true, true}, -3.0f, 3.0f);
  EXPECT_EQ(-32767, wide.q_min);
  EXPECT_EQ(32767, wide.q_max);
  EXPECT_EQ(static_cast<float>(3.0 / 32767), wide.scale);
}

TEST(IntegerAffineTest, StochasticRoundingWithGivenDraws) {
  const AffineQuantizer q{0.5f, 0, -128, 127};
  EXPECT_EQ(1.0f, q.QuantizeStochastic(1.125f, 0.74f));   // 2.25 steps
  EXPECT_EQ(1.5f, q.QuantizeStochastic(1.125f, 0.75f));
  EXPECT_EQ(-1.5f, q.QuantizeStochastic(-1.125f, 0.24f));
  EXPECT_EQ(-1.0f, q.QuantizeStochastic(-1.125f, 0.25f));
  const double mean = testing::MeanOfStochasticRoundings(q, 0.3f, 1 << 20, 3);
  EXPECT_NEAR(0.3, mean, 5 * 0.25 / 1024);
}

TEST(IntegerAffineTest, PerChannelQuantizersFollowEachChannelsRange) {
  const std::vector<float> weights = {-1.0f, -0.5f, 0.5f, 1.0f,   // channel 0
                                      0.0f, 1.0f, 2.0f, 6.0f,     // channel 1
                                      kNaN, 0.25f, -0.25f, 0.0f}; // channel 2: NaN ignored
  const std::vector<AffineQuantizer> quantizers = ChoosePerChannelQuantizers(kInt8, weights.data(), 3, 4);
  ASSERT_EQ(3u, quantizers.size());
  EXPECT_EQ(-1, quantizers[0].zero_point);
  EXPECT_EQ(static_cast<float>(2.0 / 255), quantizers[0].scale);
  EXPECT_EQ(-128, quantizers[1].zero_point);  // [0, 6]: real 0 at the bottom code
  EXPECT_EQ(static_cast<float>(6.0 / 255), quantizers[1].scale);
  EXPECT_EQ(static_cast<float>(0.5 / 255), quantizers[2].scale);

  for (Rounding rounding : {Rounding::kNearest, Rounding::kStochastic}) {
    std::vector<float> out(weights.size());
    QuantizeStats stats;
    const int64_t saturated = QuantizePerChannel(quantizers, weights.data(), out.data(), 4, rounding, 17, 100,
                                                 &stats);
    EXPECT_EQ(12, stats.count);
    int64_t expected_saturated = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      const AffineQuantizer& q = quantizers[i / 4];
      bool clipped = false;
      const float expected = rounding == Rounding::kNearest
                                 ? q.Quantize(weights[i], &clipped)
                                 : q.QuantizeStochastic(weights[i], UniformDraw(17, 100 + i), &clipped);
      expected_saturated += clipped;
      EXPECT_TRUE(testing::SameFloat(expected, out[i])) << "element " << i;
    }
    EXPECT_EQ(expected_saturated, saturated);
    if (rounding == Rounding::kNearest) {
      EXPECT_EQ(0, saturated);
    }
  }
}

TEST(IntegerAffineTest, BadSchemesAndRangesAreRejected) {
  const auto message = [](const AffineScheme& scheme, float min, float max) {
    try {
      ChooseAffineQuantizer(scheme, min, max, "layer 'fc': ");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(0u, message({0, true, false}, -1, 1).find("layer 'fc': bits = 0"));
  EXPECT_NE(std::string::npos, message({25, true, false}, -1, 1).find("bits = 25"));
  EXPECT_NE(std::string::npos, message({1, true, true}, -1, 1).find("bits = 1"));
  EXPECT_EQ("no error", message({1, false, false}, 0, 1));
  EXPECT_NE(std::string::npos, message(kInt8, 2, 1).find("greater than its maximum"));
  EXPECT_NE(std::string::npos, message(kInt8, kNaN, 1).find("finite"));
  EXPECT_NE(std::string::npos, message(kInt8, -kInf, 1).find("finite"));
  EXPECT_THROW((AffineQuantizer{0.0f, 0, -128, 127}).QuantizeArray(nullptr, nullptr, 0), Error);
  EXPECT_THROW((AffineQuantizer{1.0f, 200, -128, 127}).Validate(""), Error);
  EXPECT_NO_THROW((AffineQuantizer{1.0f, 127, -128, 127}).Validate(""));
}

}  // namespace
}  // namespace condense
