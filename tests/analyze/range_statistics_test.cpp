// RangeStatistics on hand-computed tensors (counts, extremes, histogram bins, widening, merging,
// percentiles, NaN and infinities) and the range methods: Ristretto's max rule with the sign bit on
// known maxima, and kl/mse choosing a tighter range than max where a few far outliers stretch it.
#include "condense/analyze/range_statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "condense/core/error.hpp"

namespace condense {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInfinity = std::numeric_limits<float>::infinity();

RangeStatistics StatsOf(const std::vector<float>& values, int bins = 2048) {
  RangeStatistics stats(bins);
  stats.Add(values.data(), static_cast<int64_t>(values.size()));
  return stats;
}

int64_t HistogramTotal(const RangeStatistics& stats) {
  return std::accumulate(stats.histogram().begin(), stats.histogram().end(), int64_t{0});
}

// 200 000 draws of N(0, 1) and four outliers at +-40: the max rule spends its range on the outliers.
std::vector<float> GaussianWithOutliers() {
  std::mt19937 engine(1701);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(200000);
  for (float& value : values) value = normal(engine);
  values[1000] = 40.0f, values[50000] = -40.0f, values[120000] = 39.5f, values[190000] = -39.0f;
  return values;
}

std::vector<float> Uniform(int n, float low, float high) {
  std::mt19937 engine(7);
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> values(n);
  for (float& value : values) value = uniform(engine);
  return values;
}

TEST(RangeStatisticsTest, CountsMinMaxAndMaxAbs) {
  const RangeStatistics stats = StatsOf({-3.0f, 1.0f, 0.5f, 2.0f, 0.0f});
  EXPECT_EQ(5, stats.count());
  EXPECT_EQ(5, stats.finite_count());
  EXPECT_EQ(1, stats.zero_count());
  EXPECT_EQ(-3.0f, stats.min());
  EXPECT_EQ(2.0f, stats.max());
  EXPECT_EQ(3.0f, stats.max_abs());
  EXPECT_EQ(5, HistogramTotal(stats));
}

TEST(RangeStatisticsTest, PositiveOnlyValuesKeepTheirMinimum) {
  const RangeStatistics stats = StatsOf({0.25f, 4.0f, 1.0f});
  EXPECT_EQ(0.25f, stats.min());
  EXPECT_EQ(4.0f, stats.max());
  EXPECT_EQ(4.0f, stats.max_abs());
}

TEST(RangeStatisticsTest, NanAndInfinitiesAreCountedButKeptOutOfRangesAndHistogram) {
  const RangeStatistics stats = StatsOf({1.0f, kNan, kInfinity, -kInfinity, -2.0f, kNan});
  EXPECT_EQ(6, stats.count());
  EXPECT_EQ(2, stats.finite_count());
  EXPECT_EQ(-2.0f, stats.min());
  EXPECT_EQ(1.0f, stats.max());
  EXPECT_EQ(2, HistogramTotal(stats));
  for (int64_t bin_count : stats.histogram()) EXPECT_GE(bin_count, 0);
}

TEST(RangeStatisticsTest, OnlyNonFiniteOrNothingLeavesZeros) {
  const RangeStatistics stats = StatsOf({kNan, kInfinity});
  EXPECT_EQ(2, stats.count());
  EXPECT_EQ(0, stats.finite_count());
  EXPECT_EQ(0.0f, stats.min());
  EXPECT_EQ(0.0f, stats.max());
  EXPECT_EQ(0.0f, stats.max_abs());
  EXPECT_EQ(0.0f, stats.Percentile(0.5));
  EXPECT_EQ(0, HistogramTotal(stats));
  const RangeStatistics empty;
  EXPECT_EQ(0, empty.count());
  EXPECT_EQ(0.0f, empty.bin_width());
}

TEST(RangeStatisticsTest, HistogramBinsArePowersOfTwoReachingTheMaximum) {
  // max 7.5 over 16 bins: the smallest power of two w with 16 w >= 7.5 is 0.5.
  const RangeStatistics stats = StatsOf({0.5f, -1.0f, 3.0f, 7.5f}, 16);
  EXPECT_EQ(0.5f, stats.bin_width());
  const std::vector<int64_t>& histogram = stats.histogram();
  ASSERT_EQ(16u, histogram.size());
  EXPECT_EQ(1, histogram[1]);   // 0.5
  EXPECT_EQ(1, histogram[2]);   // |-1|
  EXPECT_EQ(1, histogram[6]);   // 3
  EXPECT_EQ(1, histogram[15]);  // 7.5
  EXPECT_EQ(4, HistogramTotal(stats));
}

TEST(RangeStatisticsTest, HistogramWidensByMergingBinsWhenALaterBatchReachesFurther) {
  RangeStatistics stats = StatsOf({0.5f, -1.0f, 3.0f, 7.5f}, 16);
  const float later[] = {20.0f};
  stats.Add(later, 1);
  // 16 w >= 20 needs w = 2: two doublings, so old bin i moves to i / 4.
  EXPECT_EQ(2.0f, stats.bin_width());
  const std::vector<int64_t>& histogram = stats.histogram();
  EXPECT_EQ(2, histogram[0]);   // 0.5 and 1 (old bins 1, 2)
  EXPECT_EQ(1, histogram[1]);   // 3 (old bin 6)
  EXPECT_EQ(1, histogram[3]);   // 7.5 (old bin 15)
  EXPECT_EQ(1, histogram[10]);  // 20
  EXPECT_EQ(5, HistogramTotal(stats));
  EXPECT_EQ(20.0f, stats.max_abs());
}

TEST(RangeStatisticsTest, ZerosBeforeTheFirstNonZeroValueStayInBinZero) {
  RangeStatistics stats(16);
  const float zeros[] = {0.0f, -0.0f, 0.0f};
  stats.Add(zeros, 3);
  EXPECT_EQ(0.0f, stats.bin_width());
  EXPECT_EQ(3, stats.histogram()[0]);
  const float later[] = {1.0f};
  stats.Add(later, 1);
  EXPECT_EQ(0.0625f, stats.bin_width());
  EXPECT_EQ(3, stats.histogram()[0]);
  EXPECT_EQ(1, stats.histogram()[15]);  // exactly the reach: the last bin
  EXPECT_EQ(3, stats.zero_count());
}

// Widening is exact, so batches of growing scale, split at odd places across the chunks, bin as the
// final width would have binned them in one go. Small batches and large ones (counted in interleaved
// lanes) both widen, the large ones also in the middle of a batch.
TEST(RangeStatisticsTest, ManyBatchesMatchNaiveBinningAtTheFinalWidth) {
  std::vector<float> all;
  RangeStatistics stats(512);
  std::mt19937 engine(3);
  const std::vector<std::pair<float, int>> batches = {
      {0.01f, 7777}, {0.3f, 100}, {5.0f, 30001}, {2.0f, 8191}, {80.0f, 9000}, {1e4f, 1}};
  for (const auto& [scale, size] : batches) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> batch(size);
    for (int i = 0; i < size; ++i) {
      batch[i] = normal(engine) * (i < size / 2 ? 1.0f : 10.0f);
    }
    if (size > 4000) batch[17] = kNan, batch[4000] = -kInfinity;
    stats.Add(batch.data(), static_cast<int64_t>(batch.size()));
    all.insert(all.end(), batch.begin(), batch.end());
  }
  std::vector<int64_t> naive(512, 0);
  for (const float value : all) {
    if (!std::isfinite(value)) continue;
    naive[std::min<int64_t>(511, static_cast<int64_t>(std::fabs(value) / stats.bin_width()))] += 1;
  }
  EXPECT_EQ(naive, stats.histogram());
  EXPECT_EQ(static_cast<int64_t>(all.size()), stats.count());
  EXPECT_EQ(static_cast<int64_t>(all.size()) - 8, stats.finite_count());
}

TEST(RangeStatisticsTest, MergeEqualsAddingEverythingInEitherOrder) {
  const std::vector<float> small = Uniform(3000, -0.2f, 0.1f);
  const std::vector<float> large = Uniform(5000, -30.0f, 50.0f);
  RangeStatistics together(256);
  together.Add(small.data(), 3000);
  together.Add(large.data(), 5000);
  for (const bool small_first : {true, false}) {
    RangeStatistics merged = StatsOf(small_first ? small : large, 256);
    merged.Merge(StatsOf(small_first ? large : small, 256));
    EXPECT_EQ(together.histogram(), merged.histogram());
    EXPECT_EQ(together.bin_width(), merged.bin_width());
    EXPECT_EQ(together.count(), merged.count());
    EXPECT_EQ(together.min(), merged.min());
    EXPECT_EQ(together.max(), merged.max());
  }
}

TEST(RangeStatisticsTest, MergeWithEmptyOrZerosOnly) {
  RangeStatistics stats = StatsOf({-1.0f, 2.0f}, 16);
  stats.Merge(RangeStatistics(16));
  stats.Merge(StatsOf({0.0f, 0.0f}, 16));
  EXPECT_EQ(4, stats.count());
  EXPECT_EQ(2, stats.zero_count());
  EXPECT_EQ(-1.0f, stats.min());
  EXPECT_EQ(2.0f, stats.max());
  EXPECT_EQ(4, HistogramTotal(stats));
  RangeStatistics empty(16);
  empty.Merge(stats);
  EXPECT_EQ(stats.histogram(), empty.histogram());
  EXPECT_EQ(-1.0f, empty.min());
}

TEST(RangeStatisticsTest, MergeRejectsDifferentBinCounts) {
  RangeStatistics stats(16);
  EXPECT_THROW(stats.Merge(RangeStatistics(32)), Error);
}

TEST(RangeStatisticsTest, RejectsBadBinCounts) {
  EXPECT_THROW(RangeStatistics(1), Error);
  EXPECT_THROW(RangeStatistics(0), Error);
  EXPECT_THROW(RangeStatistics(1 << 23), Error);
}

TEST(RangeStatisticsTest, PercentileInterpolatesWithinTheBin) {
  // Bins of 1/16 (16 bins reach 0.6): 0.1 twice in bin 1, 0.6 twice in bin 9.
  const RangeStatistics stats = StatsOf({0.1f, -0.1f, 0.6f, -0.6f}, 16);
  ASSERT_EQ(0.0625f, stats.bin_width());
  EXPECT_EQ(0.0f, stats.Percentile(0.0));
  EXPECT_FLOAT_EQ(1.5f * 0.0625f, stats.Percentile(0.25));   // half-way through bin 1
  EXPECT_FLOAT_EQ(2.0f * 0.0625f, stats.Percentile(0.5));    // bin 1 complete
  EXPECT_FLOAT_EQ(9.5f * 0.0625f, stats.Percentile(0.75));   // half-way through bin 9
  EXPECT_FLOAT_EQ(0.6f, stats.Percentile(1.0));              // capped at max-abs, not the bin's edge
}

TEST(RangeStatisticsTest, PercentileCountsZerosAsExactZeros) {
  const RangeStatistics stats = StatsOf({0.0f, 0.0f, 0.0f, 1.0f}, 16);
  EXPECT_EQ(0.0f, stats.Percentile(0.5));
  EXPECT_EQ(0.0f, stats.Percentile(0.75));
  EXPECT_FLOAT_EQ(1.0f, stats.Percentile(1.0));
}

TEST(RangeStatisticsTest, PercentileOfUniformValues) {
  const RangeStatistics stats = StatsOf(Uniform(100000, -1.0f, 1.0f));
  EXPECT_NEAR(0.5f, stats.Percentile(0.5), 0.01f);
  EXPECT_NEAR(0.9f, stats.Percentile(0.9), 0.01f);
}

TEST(RangeStatisticsTest, PercentileRejectsFractionsOutsideZeroToOne) {
  const RangeStatistics stats = StatsOf({1.0f});
  EXPECT_THROW(stats.Percentile(-0.1), Error);
  EXPECT_THROW(stats.Percentile(1.5), Error);
  EXPECT_THROW(stats.Percentile(std::nan("")), Error);
}

TEST(RangeMethodTest, ParsesAndNamesEveryMethod) {
  for (const RangeMethod method :
       {RangeMethod::kMax, RangeMethod::kPercentile, RangeMethod::kKl, RangeMethod::kMse}) {
    EXPECT_EQ(method, ParseRangeMethod(RangeMethodName(method)));
  }
  EXPECT_EQ("kl", RangeMethodName(RangeMethod::kKl));
  EXPECT_EQ(RangeMethod::kPercentile, ParseRangeMethod("percentile"));
}

TEST(RangeMethodTest, UnknownNameIsAnErrorNamingItAndTheAcceptedOnes) {
  try {
    ParseRangeMethod("minmax");
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(std::string::npos, message.find("'minmax'")) << message;
    EXPECT_NE(std::string::npos, message.find("max, percentile, kl or mse")) << message;
  }
  EXPECT_THROW(ParseRangeMethod("MAX"), Error);
  EXPECT_THROW(ParseRangeMethod(""), Error);
}

int MaxRuleFl(float max_abs, int bits) {
  return ChooseFractionLength(StatsOf({0.1f * max_abs, max_abs}), RangeMethod::kMax, bits);
}

TEST(RangeMethodTest, MaxRuleFractionLengthsForKnownMaxima) {
  EXPECT_EQ(7, MaxRuleFl(0.9f, 8));    // il 1: [-1, 127/128]
  EXPECT_EQ(7, MaxRuleFl(0.999f, 8));  // saturates by less than a step: accepted
  EXPECT_EQ(6, MaxRuleFl(1.0f, 8));    // il = 1 + 1
  EXPECT_EQ(1, MaxRuleFl(3.5f, 4));    // il 3: [-4, 3.5] in steps of 0.5
  EXPECT_EQ(1, MaxRuleFl(-3.5f, 4));
  EXPECT_EQ(8, MaxRuleFl(100.0f, 16));  // 2^6 <= 100 < 2^7: il 8
  EXPECT_EQ(-3, MaxRuleFl(1000.0f, 8));
  EXPECT_EQ(13, MaxRuleFl(0.01f, 8));  // 2^-7 <= 0.01 < 2^-6: il -5, max 127 * 2^-13
}

TEST(RangeMethodTest, AllZeroTensorUsesARangeOfOne) {
  const RangeStatistics zeros = StatsOf({0.0f, 0.0f});
  for (const RangeMethod method :
       {RangeMethod::kMax, RangeMethod::kPercentile, RangeMethod::kKl, RangeMethod::kMse}) {
    EXPECT_EQ(6, ChooseFractionLength(zeros, method, 8)) << RangeMethodName(method);
    EXPECT_EQ(1.0f, ChooseClipRange(zeros, method, 8)) << RangeMethodName(method);
    EXPECT_EQ(6, ChooseFractionLength(RangeStatistics(), method, 8)) << RangeMethodName(method);
  }
}

TEST(RangeMethodTest, FractionLengthStaysWithinWhatDynamicFixedPointSimulates) {
  EXPECT_EQ(126, MaxRuleFl(1e-37f, 8));
  EXPECT_EQ(-96, MaxRuleFl(3e38f, 32));
}

TEST(RangeMethodTest, BitWidthsOutsideOneToThirtyTwoAreErrors) {
  const RangeStatistics stats = StatsOf({1.0f});
  EXPECT_THROW(ChooseFractionLength(stats, RangeMethod::kMax, 0), Error);
  EXPECT_THROW(ChooseClipRange(stats, RangeMethod::kMse, 33), Error);
}

TEST(RangeMethodTest, MaxAndPercentileClipRanges) {
  std::vector<float> values = Uniform(100000, -1.0f, 1.0f);
  values.push_back(1000.0f);
  const RangeStatistics stats = StatsOf(values);
  EXPECT_EQ(1000.0f, ChooseClipRange(stats, RangeMethod::kMax, 8));
  const float percentile = ChooseClipRange(stats, RangeMethod::kPercentile, 8);
  EXPECT_GT(percentile, 0.99f);
  EXPECT_LE(percentile, 1.0f);
  EXPECT_EQ(-3, ChooseFractionLength(stats, RangeMethod::kMax, 8));
  EXPECT_EQ(7, ChooseFractionLength(stats, RangeMethod::kPercentile, 8));
}

TEST(RangeMethodTest, MseAndKlClipTighterThanMaxForAGaussianWithFarOutliers) {
  const RangeStatistics stats = StatsOf(GaussianWithOutliers());
  ASSERT_EQ(40.0f, stats.max_abs());
  const int max_fl = ChooseFractionLength(stats, RangeMethod::kMax, 8);
  EXPECT_EQ(1, max_fl);  // 2^5 <= 40 < 2^6: il 7
  // MSE at 8 bits: fl 1 (step 0.5) rounds with error 0.5^2/12 ~ 0.021 per value; fl 2 halves the step
  // and clips the four outliers at 31.75 (~0.0014 per value): 0.0066 in all. fl 3 clips at 15.9.
  EXPECT_EQ(2, ChooseFractionLength(stats, RangeMethod::kMse, 8));
  const int kl_fl = ChooseFractionLength(stats, RangeMethod::kKl, 8);
  EXPECT_GT(kl_fl, max_fl);
  EXPECT_LE(kl_fl, max_fl + 4);

  const float mse_clip = ChooseClipRange(stats, RangeMethod::kMse, 8);
  const float kl_clip = ChooseClipRange(stats, RangeMethod::kKl, 8);
  EXPECT_LT(mse_clip, 36.0f);
  EXPECT_GT(mse_clip, 20.0f);  // the outliers' clipping error keeps it well above the Gaussian's 4-5 sigma
  EXPECT_LT(kl_clip, 20.0f);   // KL looks at the shape of the distribution: four values weigh nothing
  EXPECT_GT(kl_clip, 3.0f);
  // At 4 bits rounding costs far more, so the clipping tightens.
  EXPECT_LT(ChooseClipRange(stats, RangeMethod::kMse, 4), mse_clip);
}

TEST(RangeMethodTest, MseAndKlKeepTheMaxRuleForUniformValues) {
  // Nothing to gain by clipping a uniform distribution: both keep the whole range.
  const RangeStatistics stats = StatsOf(Uniform(100000, -1.0f, 1.0f));
  EXPECT_EQ(7, ChooseFractionLength(stats, RangeMethod::kMax, 8));
  EXPECT_EQ(7, ChooseFractionLength(stats, RangeMethod::kMse, 8));
  EXPECT_EQ(7, ChooseFractionLength(stats, RangeMethod::kKl, 8));
  EXPECT_GT(ChooseClipRange(stats, RangeMethod::kMse, 8), 0.95f);
}

TEST(RangeMethodTest, WideWordsNeedNoClipping) {
  const RangeStatistics stats = StatsOf(GaussianWithOutliers());
  EXPECT_EQ(ChooseFractionLength(stats, RangeMethod::kMax, 24),
            ChooseFractionLength(stats, RangeMethod::kMse, 24));
  EXPECT_EQ(40.0f, ChooseClipRange(stats, RangeMethod::kKl, 16));
}

}  // namespace
}  // namespace condense
