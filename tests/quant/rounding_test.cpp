#include "condense/quant/rounding.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "condense/quant/quantize_stats.hpp"

namespace condense {
namespace {

TEST(RoundingTest, DrawsAreMultiplesOfTwoToTheMinus24InUnitInterval) {
  for (uint64_t index = 0; index < 10000; ++index) {
    const float u = UniformDraw(3, index);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    const float scaled = u * (1 << kDrawBits);
    ASSERT_EQ(std::floor(scaled), scaled);
  }
}

TEST(RoundingTest, DrawsArePureFunctionsOfSeedAndIndex) {
  EXPECT_EQ(UniformDraw(5, 123456789), UniformDraw(5, 123456789));
  EXPECT_EQ(DrawBits(DrawStreamKey(5), 99), DrawBits(DrawStreamKey(5), 99));
  int same = 0;
  for (uint64_t index = 0; index < 1000; ++index) same += UniformDraw(5, index) == UniformDraw(6, index);
  EXPECT_LT(same, 5) << "neighbouring seeds should give unrelated streams";
  std::set<uint64_t> keys;
  for (uint64_t seed = 0; seed < 1000; ++seed) keys.insert(DrawStreamKey(seed));
  EXPECT_EQ(1000u, keys.size());
}

TEST(RoundingTest, DrawsLookUniformAndIndependent) {
  const int n = 1 << 20;
  const int bins = 16;
  std::vector<int> histogram(bins, 0);
  double sum = 0, lag_product = 0;
  float previous = UniformDraw(11, 0);
  for (int i = 0; i < n; ++i) {
    const float u = UniformDraw(11, static_cast<uint64_t>(i));
    ++histogram[static_cast<int>(u * bins)];
    sum += u;
    if (i > 0) lag_product += (u - 0.5) * (previous - 0.5);
    previous = u;
  }
  EXPECT_NEAR(0.5, sum / n, 5 * std::sqrt(1.0 / 12 / n));
  double chi_square = 0;
  const double expected = static_cast<double>(n) / bins;
  for (int count : histogram) chi_square += (count - expected) * (count - expected) / expected;
  EXPECT_LT(chi_square, 45.0);  // 15 degrees of freedom: p < 1e-4 beyond
  // Correlation of neighbours: variance of the product is 1/144 per term.
  EXPECT_NEAR(0.0, lag_product / n, 5 * std::sqrt(1.0 / 144 / n));
}

TEST(RoundingTest, RoundingNames) {
  EXPECT_STREQ("nearest", RoundingName(Rounding::kNearest));
  EXPECT_STREQ("stochastic", RoundingName(Rounding::kStochastic));
}

TEST(QuantizeStatsTest, SharesAndSqnr) {
  QuantizeStats empty;
  EXPECT_EQ(0.0, empty.SaturatedShare());
  EXPECT_EQ(0.0, empty.SqnrDb());
  QuantizeStats a{10, 1, 100.0, 1.0};
  const QuantizeStats b{30, 3, 100.0, 1.0};
  a.Merge(b);
  EXPECT_EQ(40, a.count);
  EXPECT_EQ(4, a.saturated);
  EXPECT_DOUBLE_EQ(0.1, a.SaturatedShare());
  EXPECT_DOUBLE_EQ(20.0, a.SqnrDb());
  const QuantizeStats lossless{5, 0, 3.0, 0.0};
  EXPECT_TRUE(std::isinf(lossless.SqnrDb()));
}

}  // namespace
}  // namespace condense
