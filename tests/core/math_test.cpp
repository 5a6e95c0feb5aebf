#include "condense/core/math.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "condense/core/parallel.hpp"
#include "condense/core/random.hpp"

namespace condense {
namespace {

TEST(MathTest, GemmMatchesHandComputedProduct) {
  // A (2x3) * B (3x2)
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<float> b = {7, 8, 9, 10, 11, 12};
  std::vector<float> c(4, 1.0f);
  Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 3, 1.0f, a.data(), b.data(), 0.0f, c.data());
  EXPECT_EQ((std::vector<float>{58, 64, 139, 154}), c);
  // A^T (3x2)^T ... C = A^T * A gives 3x3; check one entry with beta accumulation.
  std::vector<float> d(9, 1.0f);
  Gemm(Transpose::kYes, Transpose::kNo, 3, 3, 2, 1.0f, a.data(), a.data(), 1.0f, d.data());
  EXPECT_EQ(1.0f + 1 * 1 + 4 * 4, d[0]);
  EXPECT_EQ(1.0f + 3 * 3 + 6 * 6, d[8]);
}

TEST(MathTest, GemvBothWays) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // 2x3
  const std::vector<float> x3 = {1, 1, 1};
  const std::vector<float> x2 = {1, 2};
  std::vector<float> y2(2, 0.0f);
  std::vector<float> y3(3, 0.0f);
  Gemv(Transpose::kNo, 2, 3, 1.0f, a.data(), x3.data(), 0.0f, y2.data());
  Gemv(Transpose::kYes, 2, 3, 1.0f, a.data(), x2.data(), 0.0f, y3.data());
  EXPECT_EQ((std::vector<float>{6, 15}), y2);
  EXPECT_EQ((std::vector<float>{9, 12, 15}), y3);
}

TEST(MathTest, ElementWiseKernels) {
  const std::vector<float> a = {1, -2, 3};
  const std::vector<float> b = {2, 2, 2};
  std::vector<float> y(3);
  Add(3, a.data(), b.data(), y.data());
  EXPECT_EQ((std::vector<float>{3, 0, 5}), y);
  Mul(3, a.data(), b.data(), y.data());
  EXPECT_EQ((std::vector<float>{2, -4, 6}), y);
  Sign(3, a.data(), y.data());
  EXPECT_EQ((std::vector<float>{1, -1, 1}), y);
  EXPECT_EQ(6.0f, Asum(3, a.data()));
  EXPECT_EQ(14.0f, SumSq(3, a.data()));
  EXPECT_EQ(4.0f, Dot(3, a.data(), b.data()));
  y = {1, 1, 1};
  Axpby(3, 2.0f, a.data(), 0.5f, y.data());
  EXPECT_EQ((std::vector<float>{2.5f, -3.5f, 6.5f}), y);
}

TEST(ParallelTest, CoversTheRangeOnceAndSplitsStatically) {
  SetThreadCount(2);
  std::vector<int> hits(1000, 0);
  std::vector<int> owner(1000, -1);
  ParallelFor(1000, [&](int64_t begin, int64_t end, int thread) {
    for (int64_t i = begin; i < end; ++i) {
      ++hits[i];
      owner[i] = thread;
    }
  });
  for (int h : hits) EXPECT_EQ(1, h);
  EXPECT_EQ(0, owner[0]);
  EXPECT_EQ(1, owner[999]);
  EXPECT_EQ(0, owner[499]);
  EXPECT_EQ(1, owner[500]);
}

// A ParallelFor inside another (a kernel called from a layer's loop over images) still covers every
// index once, whatever team size the inner region gets.
TEST(ParallelTest, NestedLoopsCoverEveryIndex) {
  SetThreadCount(2);
  std::vector<std::vector<int>> hits(4, std::vector<int>(1000, 0));
  ParallelFor(4, [&](int64_t begin, int64_t end, int) {
    for (int64_t outer = begin; outer < end; ++outer) {
      ParallelFor(1000, [&](int64_t inner_begin, int64_t inner_end, int) {
        for (int64_t i = inner_begin; i < inner_end; ++i) ++hits[outer][i];
      });
    }
  });
  for (const std::vector<int>& row : hits) {
    for (int h : row) EXPECT_EQ(1, h);
  }
}

TEST(ParallelTest, ExceptionsCrossTheRegion) {
  SetThreadCount(2);
  EXPECT_THROW(ParallelFor(10, [](int64_t, int64_t, int thread) {
                 if (thread == 1) throw std::runtime_error("worker failed");
               }),
               std::runtime_error);
}

TEST(RandomTest, SameSeedSameSequence) {
  std::vector<float> first(16), second(16);
  SeedRandom(42);
  FillGaussian(16, 0.0f, 1.0f, first.data());
  SeedRandom(42);
  FillGaussian(16, 0.0f, 1.0f, second.data());
  EXPECT_EQ(first, second);
  SeedRandom(43);
  FillGaussian(16, 0.0f, 1.0f, second.data());
  EXPECT_NE(first, second);
}

TEST(RandomTest, UniformStaysInRange) {
  std::vector<float> values(10000);
  SeedRandom(1);
  FillUniform(10000, -0.5f, 0.25f, values.data());
  for (float v : values) {
    EXPECT_GE(v, -0.5f);
    EXPECT_LE(v, 0.25f);
  }
}

}  // namespace
}  // namespace condense
