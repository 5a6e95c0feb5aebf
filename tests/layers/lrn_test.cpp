// LRN: both regions against a direct evaluation of Caffe's definition, and numerical gradients.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

// Caffe's definitions, evaluated value by value in double precision.
std::vector<float> ReferenceLRN(const Blob& x, int size, double alpha, double beta, double k,
                                bool across_channels) {
  const int64_t num = x.shape(0), channels = x.shape(1), height = x.shape(2), width = x.shape(3);
  const int64_t pad = (size - 1) / 2;
  std::vector<float> y(x.count());
  for (int64_t n = 0; n < num; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t h = 0; h < height; ++h) {
        for (int64_t w = 0; w < width; ++w) {
          double sum = 0.0;
          double scale = 0.0;
          if (across_channels) {
            for (int64_t cc = std::max<int64_t>(0, c - pad); cc <= std::min(channels - 1, c + pad);
                 ++cc) {
              const double v = x.data()[x.offset(n, cc, h, w)];
              sum += v * v;
            }
            scale = k + alpha / size * sum;
          } else {
            for (int64_t hh = std::max<int64_t>(0, h - pad); hh <= std::min(height - 1, h + pad);
                 ++hh) {
              for (int64_t ww = std::max<int64_t>(0, w - pad); ww <= std::min(width - 1, w + pad);
                   ++ww) {
                const double v = x.data()[x.offset(n, c, hh, ww)];
                sum += v * v;
              }
            }
            // Caffe's average pooling divides by the whole (padded) window; k plays no part.
            scale = 1.0 + alpha / (size * size) * sum;
          }
          const int64_t index = x.offset(n, c, h, w);
          y[index] = static_cast<float>(x.data()[index] * std::pow(scale, -beta));
        }
      }
    }
  }
  return y;
}

class LRNTest : public ::testing::Test {
 protected:
  LRNTest() : bottom_({2, 7, 3, 3}) { FillGaussianBlob(&bottom_); }
  std::vector<Blob*> bottoms() { return {&bottom_}; }
  std::vector<Blob*> tops() { return {&top_}; }

  void ExpectMatchesReference(const std::string& text, int size, double alpha, double beta,
                              double k, bool across) {
    auto layer = MakeLayer(text);
    layer->SetUp(bottoms(), tops());
    EXPECT_EQ(top_.shape(), bottom_.shape());
    layer->Forward(bottoms(), tops());
    const auto expected = ReferenceLRN(bottom_, size, alpha, beta, k, across);
    for (int64_t i = 0; i < top_.count(); ++i) EXPECT_NEAR(top_.data()[i], expected[i], 1e-5f) << i;
  }

  Blob bottom_;
  Blob top_;
};

TEST_F(LRNTest, AcrossChannelsDefaults) {
  ExpectMatchesReference("type: 'LRN'", 5, 1.0, 0.75, 1.0, true);
}

TEST_F(LRNTest, AcrossChannelsAlexNetSettings) {
  ExpectMatchesReference("type: 'LRN' lrn_param { local_size: 3 alpha: 0.0001 beta: 0.75 k: 2 }", 3,
                         0.0001, 0.75, 2.0, true);
}

TEST_F(LRNTest, AcrossChannelsOtherBeta) {
  ExpectMatchesReference("type: 'LRN' lrn_param { local_size: 5 alpha: 0.5 beta: 0.6 k: 1.5 }", 5,
                         0.5, 0.6, 1.5, true);
}

TEST_F(LRNTest, WindowWiderThanChannels) {
  ExpectMatchesReference("type: 'LRN' lrn_param { local_size: 11 alpha: 2 }", 11, 2.0, 0.75, 1.0,
                         true);
}

TEST_F(LRNTest, WithinChannelIgnoresK) {
  ExpectMatchesReference(
      "type: 'LRN' lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 alpha: 2 k: 5 }", 3, 2.0,
      0.75, 1.0, false);
}

TEST_F(LRNTest, WithinChannelBigWindow) {
  ExpectMatchesReference(
      "type: 'LRN' lrn_param { norm_region: WITHIN_CHANNEL local_size: 5 alpha: 3 beta: 0.5 }", 5,
      3.0, 0.5, 1.0, false);
}

TEST_F(LRNTest, AcrossChannelsGradient) {
  auto layer = MakeLayer("type: 'LRN' lrn_param { local_size: 3 alpha: 1 beta: 0.75 k: 1 }");
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms(), tops());
}

TEST_F(LRNTest, AcrossChannelsGradientOtherBeta) {
  auto layer = MakeLayer("type: 'LRN' lrn_param { local_size: 5 alpha: 0.5 beta: 0.6 k: 2 }");
  GradientChecker(1e-2f, 1e-2f).CheckGradient(layer.get(), bottoms(), tops());
}

TEST_F(LRNTest, WithinChannelGradient) {
  auto layer =
      MakeLayer("type: 'LRN' lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 alpha: 1 }");
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms(), tops());
}

// Big enough to be split over threads: the result must not depend on the thread count.
TEST(LRNThreadsTest, SameResultWithOneAndTwoThreads) {
  const int saved = ThreadCount();
  for (const char* region : {"ACROSS_CHANNELS", "WITHIN_CHANNEL"}) {
    Blob bottom({4, 16, 24, 24});
    FillGaussianBlob(&bottom);
    std::vector<float> outputs[2], gradients[2];
    for (int threads = 1; threads <= 2; ++threads) {
      SetThreadCount(threads);
      Blob top;
      std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
      auto layer = MakeLayer(std::string("type: 'LRN' lrn_param { norm_region: ") + region + " }");
      layer->SetUp(bottoms, tops);
      layer->Forward(bottoms, tops);
      for (int64_t i = 0; i < top.count(); ++i) top.mutable_diff()[i] = top.data()[i];
      layer->Backward(tops, {true}, bottoms);
      outputs[threads - 1] = Values(top);
      gradients[threads - 1] = Gradients(bottom);
    }
    SetThreadCount(saved);
    EXPECT_EQ(outputs[0], outputs[1]) << region;
    EXPECT_EQ(gradients[0], gradients[1]) << region;
    const auto expected = ReferenceLRN(bottom, 5, 1.0, 0.75, 1.0, region[0] == 'A');
    for (size_t i = 0; i < expected.size(); ++i)
      ASSERT_NEAR(outputs[1][i], expected[i], 1e-5f) << i;
  }
  SetThreadCount(saved);
}

TEST_F(LRNTest, EvenSizeIsRefused) {
  auto layer = MakeLayer("type: 'LRN' lrn_param { local_size: 4 }");
  EXPECT_THROW(layer->SetUp(bottoms(), tops()), Error);
}

TEST_F(LRNTest, NeedsFourAxes) {
  Blob flat({2, 7});
  std::vector<Blob*> bottom = {&flat};
  auto layer = MakeLayer("type: 'LRN'");
  EXPECT_THROW(layer->SetUp(bottom, tops()), Error);
}

}  // namespace
}  // namespace condense::testing
