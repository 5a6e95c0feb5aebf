// Pooling: Caffe's output sizes (ceil rounding and its padding rule), hand-computed MAX / AVE / global /
// STOCHASTIC values, the argmax mask and gradient routing, numerical gradients, and the vectorised
// kernels against the plain references bit for bit on random planes with a fixed seed.
#include "condense/layers/pooling.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/core/random.hpp"
#include "condense/net/layer_registry.hpp"
#include "support/gradient_checker.hpp"

namespace condense {
namespace {

std::unique_ptr<Layer> MakeLayer(const std::string& pooling_param, Phase phase = TRAIN) {
  LayerParameter param;
  ParseTextProto("name: 'pool' type: 'Pooling' pooling_param { " + pooling_param + " }", "test layer",
                 &param);
  param.set_phase(phase);
  return LayerRegistry::Create(param);
}

std::vector<float> Values(const Blob& blob) { return {blob.data(), blob.data() + blob.count()}; }

// Distinct values spaced well above the gradient checker's step, so no maximum changes under it.
void FillDistinct(Blob* blob, uint64_t seed) {
  std::vector<float> values(blob->count());
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>(i) - 3.0f;
  std::shuffle(values.begin(), values.end(), std::mt19937_64(seed));
  std::copy(values.begin(), values.end(), blob->mutable_data());
}

class PoolingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = ThreadCount();
    SetThreadCount(1);
    SeedRandom(1701);
    bottom_.Reshape({2, 3, 6, 5});
    FillDistinct(&bottom_, 5);
  }
  void TearDown() override { SetThreadCount(saved_threads_); }

  std::vector<int64_t> TopShape(const std::string& param, const std::vector<int64_t>& bottom_shape) {
    Blob bottom(bottom_shape);
    std::unique_ptr<Layer> layer = MakeLayer(param);
    layer->SetUp({&bottom}, {&top_});
    return top_.shape();
  }

  Blob bottom_;
  Blob top_;
  Blob mask_;
  int saved_threads_ = 1;
};

TEST_F(PoolingTest, OutputShapesRoundUpAsCaffe) {
  EXPECT_EQ((std::vector<int64_t>{2, 3, 3, 2}), TopShape("kernel_size: 3 stride: 2", {2, 3, 6, 5}));
  EXPECT_EQ((std::vector<int64_t>{2, 3, 4, 3}),
            TopShape("kernel_size: 3 stride: 2 pad: 1", {2, 3, 6, 5}));
  // cifar10_quick: 32 -> 16 -> 8 -> 4 with 3x3 windows and stride 2.
  EXPECT_EQ((std::vector<int64_t>{1, 32, 16, 16}),
            TopShape("kernel_size: 3 stride: 2", {1, 32, 32, 32}));
  EXPECT_EQ((std::vector<int64_t>{1, 1, 4, 4}), TopShape("kernel_size: 3 stride: 2", {1, 1, 8, 8}));
  // LeNet: 24 -> 12 with 2x2 windows and stride 2.
  EXPECT_EQ((std::vector<int64_t>{64, 20, 12, 12}),
            TopShape("kernel_size: 2 stride: 2", {64, 20, 24, 24}));
  EXPECT_EQ((std::vector<int64_t>{2, 3, 3, 2}),
            TopShape("kernel_size: 2 stride: 2 round_mode: FLOOR", {2, 3, 6, 5}));
  EXPECT_EQ((std::vector<int64_t>{2, 3, 3, 3}), TopShape("kernel_size: 2 stride: 2", {2, 3, 6, 5}));
  EXPECT_EQ((std::vector<int64_t>{2, 3, 1, 1}), TopShape("global_pooling: true", {2, 3, 6, 5}));
  EXPECT_EQ((std::vector<int64_t>{2, 3, 5, 2}),
            TopShape("kernel_h: 2 kernel_w: 4 stride_h: 1 stride_w: 2", {2, 3, 6, 5}));
}

TEST_F(PoolingTest, PaddedWindowStartingInThePaddingIsDropped) {
  // ceil((5 + 2 - 3) / 3) + 1 = 3, but the third window would start at 6 >= 5 + 1: Caffe keeps 2.
  EXPECT_EQ((std::vector<int64_t>{1, 1, 2, 2}),
            TopShape("kernel_size: 3 stride: 3 pad: 1", {1, 1, 5, 5}));
  // The rule applies to both axes as soon as either has padding, as in Caffe: without it the
  // height would be ceil((5 - 1) / 3) + 1 = 3.
  EXPECT_EQ((std::vector<int64_t>{1, 1, 2, 2}),
            TopShape("kernel_h: 1 kernel_w: 2 stride: 3 pad_h: 0 pad_w: 1", {1, 1, 5, 5}));
  EXPECT_EQ((std::vector<int64_t>{1, 1, 3, 2}),
            TopShape("kernel_h: 1 kernel_w: 2 stride: 3", {1, 1, 5, 4}));
}

TEST_F(PoolingTest, HandComputedMaxWithMask) {
  Blob image({1, 1, 4, 5});
  const std::vector<float> values = {1, 9, 2, 2, 0,
                                     3, 4, 8, 7, 6,
                                     5, 5, 1, 1, 1,
                                     5, 5, 1, 1, 2};
  std::copy(values.begin(), values.end(), image.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("pool: MAX kernel_size: 2 stride: 2");
  layer->SetUp({&image}, {&top_, &mask_});
  ASSERT_EQ((std::vector<int64_t>{1, 1, 2, 3}), top_.shape());
  ASSERT_EQ(top_.shape(), mask_.shape());
  layer->Forward({&image}, {&top_, &mask_});
  EXPECT_EQ((std::vector<float>{9, 8, 6, 5, 1, 2}), Values(top_));
  // Flat indices; ties (the 5s, the 1s) go to the first in row-major order.
  EXPECT_EQ((std::vector<float>{1, 7, 9, 10, 12, 19}), Values(mask_));

  top_.SetDiff(1.0f);
  layer->Backward({&top_, &mask_}, {true}, {&image});
  std::vector<float> expected_diff(20, 0.0f);
  for (int index : {1, 7, 9, 10, 12, 19}) expected_diff[index] = 1.0f;
  EXPECT_EQ(expected_diff, std::vector<float>(image.diff(), image.diff() + 20));
}

TEST_F(PoolingTest, OverlappingMaxWindowsAddTheirGradients) {
  Blob image({1, 1, 3, 3});
  const std::vector<float> values = {1, 2, 3,
                                     4, 9, 5,
                                     6, 7, 8};
  std::copy(values.begin(), values.end(), image.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("pool: MAX kernel_size: 2 stride: 1");
  layer->SetUp({&image}, {&top_});
  layer->Forward({&image}, {&top_});
  EXPECT_EQ((std::vector<float>{9, 9, 9, 9}), Values(top_));
  const std::vector<float> top_diff = {1, 2, 3, 4};
  std::copy(top_diff.begin(), top_diff.end(), top_.mutable_diff());
  layer->Backward({&top_}, {true}, {&image});
  EXPECT_EQ(10.0f, image.diff()[4]);
  EXPECT_EQ(10.0f, image.asum_diff());
}

TEST_F(PoolingTest, HandComputedPaddedAverageDividesByThePaddedWindow) {
  Blob image({1, 1, 3, 3});
  image.SetData(2.0f);
  std::unique_ptr<Layer> layer = MakeLayer("pool: AVE kernel_size: 3 stride: 1 pad: 1");
  layer->SetUp({&image}, {&top_});
  layer->Forward({&image}, {&top_});
  // Corners see 4 pixels of a 9-window, edges 6, the centre all 9.
  const std::vector<float> expected = {8.0f / 9, 12.0f / 9, 8.0f / 9, 12.0f / 9, 2.0f,
                                       12.0f / 9, 8.0f / 9, 12.0f / 9, 8.0f / 9};
  const std::vector<float> actual = Values(top_);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(expected[i], actual[i]) << i;

  top_.SetDiff(9.0f);
  layer->Backward({&top_}, {true}, {&image});
  // Each pixel receives 1 from every window that holds it: 4 at corners, 6 at edges, 9 at the centre.
  EXPECT_EQ((std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}),
            std::vector<float>(image.diff(), image.diff() + 9));
}

TEST_F(PoolingTest, CeilRoundedAverageAtTheBorderUsesTheClippedWindow) {
  // 3x3 windows with stride 2 over 4 columns: the second window holds columns 2..3 only (no padding,
  // so the divisor is the clipped size 2 per row).
  Blob image({1, 1, 1, 4});
  const std::vector<float> values = {1, 2, 3, 5};
  std::copy(values.begin(), values.end(), image.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("pool: AVE kernel_h: 1 kernel_w: 3 stride: 2");
  layer->SetUp({&image}, {&top_});
  layer->Forward({&image}, {&top_});
  EXPECT_EQ((std::vector<float>{2, 4}), Values(top_));
}

TEST_F(PoolingTest, GlobalPoolingReducesEachPlane) {
  std::unique_ptr<Layer> max = MakeLayer("pool: MAX global_pooling: true");
  max->SetUp({&bottom_}, {&top_});
  max->Forward({&bottom_}, {&top_});
  std::unique_ptr<Layer> ave = MakeLayer("pool: AVE global_pooling: true");
  Blob mean;
  ave->SetUp({&bottom_}, {&mean});
  ave->Forward({&bottom_}, {&mean});
  for (int64_t plane = 0; plane < 6; ++plane) {
    const float* begin = bottom_.data() + plane * 30;
    EXPECT_EQ(*std::max_element(begin, begin + 30), top_.data()[plane]);
    EXPECT_NEAR(std::accumulate(begin, begin + 30, 0.0) / 30.0, mean.data()[plane], 1e-5);
  }
}

TEST_F(PoolingTest, StochasticTrainSamplesAValueOfTheWindowAndRoutesItsGradient) {
  Blob image({1, 2, 4, 4});
  FillUniform(image.count(), 0.5f, 1.0f, image.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("pool: STOCHASTIC kernel_size: 2 stride: 2", TRAIN);
  layer->SetUp({&image}, {&top_});
  layer->Forward({&image}, {&top_});
  top_.SetDiff(1.0f);
  layer->Backward({&top_}, {true}, {&image});
  for (int64_t plane = 0; plane < 2; ++plane) {
    for (int64_t ph = 0; ph < 2; ++ph) {
      for (int64_t pw = 0; pw < 2; ++pw) {
        const float value = top_.data()[(plane * 2 + ph) * 2 + pw];
        int found = 0;
        for (int64_t h = 2 * ph; h < 2 * ph + 2; ++h) {
          for (int64_t w = 2 * pw; w < 2 * pw + 2; ++w) {
            const int64_t index = (plane * 4 + h) * 4 + w;
            if (image.diff()[index] == 1.0f) {
              ++found;
              EXPECT_EQ(value, image.data()[index]);
            }
          }
        }
        EXPECT_EQ(1, found) << "one value drawn per window";
      }
    }
  }
}

TEST_F(PoolingTest, StochasticTestIsTheValueWeightedAverage) {
  Blob image({1, 1, 2, 2});
  const std::vector<float> values = {1, 2, 3, 4};
  std::copy(values.begin(), values.end(), image.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("pool: STOCHASTIC kernel_size: 2 stride: 2", TEST);
  layer->SetUp({&image}, {&top_});
  layer->Forward({&image}, {&top_});
  EXPECT_FLOAT_EQ(30.0f / 10.0f, top_.data()[0]);
}

TEST_F(PoolingTest, GradientMax) {
  std::unique_ptr<Layer> layer = MakeLayer("pool: MAX kernel_size: 3 stride: 2");
  testing::GradientChecker checker(1e-3f, 1e-2f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(PoolingTest, GradientMaxPaddedRectangularWithMaskTop) {
  std::unique_ptr<Layer> layer =
      MakeLayer("pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 1");
  testing::GradientChecker checker(1e-3f, 1e-2f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_, &mask_});
}

TEST_F(PoolingTest, GradientAve) {
  std::unique_ptr<Layer> layer = MakeLayer("pool: AVE kernel_size: 3 stride: 2");
  testing::GradientChecker checker(1e-2f, 1e-2f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(PoolingTest, GradientAvePadded) {
  std::unique_ptr<Layer> layer = MakeLayer("pool: AVE kernel_size: 3 stride: 2 pad: 2");
  testing::GradientChecker checker(1e-2f, 1e-2f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(PoolingTest, GradientGlobalWithTwoThreads) {
  SetThreadCount(2);
  std::unique_ptr<Layer> ave = MakeLayer("pool: AVE global_pooling: true");
  testing::GradientChecker checker(1e-2f, 1e-2f);
  checker.CheckGradientExhaustive(ave.get(), {&bottom_}, {&top_});
  std::unique_ptr<Layer> max = MakeLayer("pool: MAX global_pooling: true");
  checker.CheckGradientExhaustive(max.get(), {&bottom_}, {&top_});
}

TEST_F(PoolingTest, RejectsBadParametersAndShapes) {
  const std::vector<std::string> bad = {
      "pool: MAX",                                       // no kernel
      "kernel_size: 2 kernel_h: 2 kernel_w: 2",          // both forms
      "kernel_h: 2",                                     // half of the rectangular form
      "global_pooling: true kernel_size: 2",             // a kernel with global pooling
      "kernel_size: 2 pad: 2",                           // pad not below the kernel
      "kernel_size: 2 pad: 1 pad_h: 1 pad_w: 1",         // both pad forms
      "pool: STOCHASTIC kernel_size: 2 pad: 1",          // padding with stochastic pooling
      "kernel_size: 2 stride: 0",
      "kernel_size: 9",                                  // larger than the 6x5 plane
  };
  for (const std::string& param : bad) {
    std::unique_ptr<Layer> layer = MakeLayer(param);
    EXPECT_THROW(layer->SetUp({&bottom_}, {&top_}), Error) << param;
  }
  Blob three_axes({2, 3, 6});
  std::unique_ptr<Layer> layer = MakeLayer("kernel_size: 2");
  EXPECT_THROW(layer->SetUp({&three_axes}, {&top_}), Error);
  std::unique_ptr<Layer> ave = MakeLayer("pool: AVE kernel_size: 2");
  EXPECT_THROW(ave->SetUp({&bottom_}, {&top_, &mask_}), Error) << "only MAX has a mask top";
}

// --- fast kernels against the references -------------------------------------------------------

PoolingGeometry Geometry(int64_t height, int64_t width, int64_t kernel, int64_t stride) {
  PoolingGeometry g;
  g.height = height;
  g.width = width;
  g.kernel_h = g.kernel_w = kernel;
  g.stride_h = g.stride_w = stride;
  g.pooled_height = static_cast<int64_t>(std::ceil(static_cast<float>(height - kernel) / stride)) + 1;
  g.pooled_width = static_cast<int64_t>(std::ceil(static_cast<float>(width - kernel) / stride)) + 1;
  return g;
}

// Random planes; with `ties` the values come from a handful of levels so that maxima repeat, and a
// few are -inf or NaN, which a maximum must skip exactly as the reference does.
std::vector<float> RandomPlane(int64_t count, bool ties, std::mt19937_64* engine) {
  std::vector<float> plane(count);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> level(0, 3);
  for (float& value : plane) value = ties ? static_cast<float>(level(*engine)) : normal(*engine);
  if (ties && count > 4) {
    plane[count / 2] = -std::numeric_limits<float>::infinity();
    plane[count / 3] = std::numeric_limits<float>::quiet_NaN();
    plane[0] = -FLT_MAX;
  }
  return plane;
}

using MaxKernel = void (*)(const float*, const PoolingGeometry&, float*, int32_t*);
using AveKernel = void (*)(const float*, const PoolingGeometry&, float*);

void ExpectMaxMatchesReference(MaxKernel kernel_under_test, const char* name) {
  std::mt19937_64 engine(20240607);
  int checked = 0;
  for (int64_t kernel : {2, 3}) {
    for (int64_t height = kernel; height <= 19; ++height) {
      for (int64_t width : {kernel, kernel + 1, int64_t{7}, int64_t{16}, int64_t{24}, int64_t{33},
                            int64_t{35}}) {
        for (bool ties : {false, true}) {
          const PoolingGeometry g = Geometry(height, width, kernel, 2);
          const std::vector<float> input = RandomPlane(height * width, ties, &engine);
          const int64_t outputs = g.pooled_height * g.pooled_width;
          std::vector<float> fast(outputs, 123.0f);
          std::vector<float> reference(outputs, -123.0f);
          std::vector<int32_t> fast_mask(outputs, 77);
          std::vector<int32_t> reference_mask(outputs, -77);
          kernel_under_test(input.data(), g, fast.data(), fast_mask.data());
          MaxPoolPlaneReference(input.data(), g, reference.data(), reference_mask.data());
          ASSERT_EQ(0, std::memcmp(fast.data(), reference.data(), sizeof(float) * outputs))
              << name << " " << kernel << "x" << kernel << " on " << height << "x" << width;
          ASSERT_EQ(fast_mask, reference_mask)
              << name << " " << kernel << "x" << kernel << " on " << height << "x" << width;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 200);
}

void ExpectAverageMatchesReference(AveKernel kernel_under_test, const char* name) {
  std::mt19937_64 engine(7);
  for (int64_t kernel : {2, 3}) {
    for (int64_t height = kernel; height <= 19; ++height) {
      for (int64_t width : {kernel, int64_t{8}, int64_t{17}, int64_t{32}, int64_t{35}}) {
        const PoolingGeometry g = Geometry(height, width, kernel, 2);
        std::vector<float> input = RandomPlane(height * width, false, &engine);
        // Runs of -0.0f: the fast sums must give zeros of the reference's sign.
        std::fill(input.begin(), input.begin() + std::min<int64_t>(width * 3, input.size()), -0.0f);
        const int64_t outputs = g.pooled_height * g.pooled_width;
        std::vector<float> fast(outputs, 123.0f);
        std::vector<float> reference(outputs, -123.0f);
        kernel_under_test(input.data(), g, fast.data());
        AvePoolPlaneReference(input.data(), g, reference.data());
        ASSERT_EQ(0, std::memcmp(fast.data(), reference.data(), sizeof(float) * outputs))
            << name << " " << kernel << "x" << kernel << " on " << height << "x" << width;
      }
    }
  }
}

TEST(PoolingKernelTest, FastMaxMatchesReferenceBitForBit) {
  ExpectMaxMatchesReference(MaxPoolPlane, "dispatched");
  ExpectMaxMatchesReference(MaxPoolPlanePortable, "portable");
}

TEST(PoolingKernelTest, FastAverageMatchesReferenceBitForBit) {
  ExpectAverageMatchesReference(AvePoolPlane, "dispatched");
  ExpectAverageMatchesReference(AvePoolPlanePortable, "portable");
}

TEST(PoolingKernelTest, LayerResultsDoNotDependOnTheThreadCount) {
  const int saved = ThreadCount();
  Blob input({4, 5, 13, 12});
  FillGaussian(input.count(), 0.0f, 1.0f, input.mutable_data());
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    SetThreadCount(threads);
    for (const char* param : {"pool: MAX kernel_size: 3 stride: 2", "pool: AVE kernel_size: 2 stride: 2"}) {
      Blob top;
      std::unique_ptr<Layer> layer = MakeLayer(param);
      layer->SetUp({&input}, {&top});
      layer->Forward({&input}, {&top});
      SeedRandom(3);
      FillGaussian(top.count(), 0.0f, 1.0f, top.mutable_diff());
      layer->Backward({&top}, {true}, {&input});
      results.push_back(Values(top));
      results.back().insert(results.back().end(), input.diff(), input.diff() + input.count());
    }
  }
  SetThreadCount(saved);
  EXPECT_EQ(results[0], results[2]);
  EXPECT_EQ(results[1], results[3]);
}

}  // namespace
}  // namespace condense
