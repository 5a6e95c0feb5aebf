// BatchNorm: batch statistics in TRAIN, Caffe's running sums in its three blobs, the stored
// statistics in TEST, the forced lr_mult 0, and numerical gradients in both modes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

class BatchNormTest : public ::testing::Test {
 protected:
  BatchNormTest() : bottom_({2, 3, 4, 5}) {
    FillGaussianBlob(&bottom_, 2.0f);
    // Give each channel its own offset so that the mean matters.
    for (int n = 0; n < 2; ++n) {
      for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 20; ++i)
          bottom_.mutable_data()[(n * 3 + c) * 20 + i] += 3.0f * c - 2.0f;
      }
    }
  }
  std::vector<Blob*> bottoms() { return {&bottom_}; }
  std::vector<Blob*> tops() { return {&top_}; }

  // Mean and biased variance of one channel over the batch.
  std::pair<double, double> ChannelStats(const Blob& blob, int c) {
    double sum = 0.0, squares = 0.0;
    for (int n = 0; n < 2; ++n) {
      for (int i = 0; i < 20; ++i) {
        const double v = blob.data()[(n * 3 + c) * 20 + i];
        sum += v;
        squares += v * v;
      }
    }
    const double mean = sum / 40;
    return {mean, squares / 40 - mean * mean};
  }

  Blob bottom_, top_;
};

TEST_F(BatchNormTest, BlobsAndFrozenLearningRate) {
  auto layer = MakeLayer("type: 'BatchNorm'");
  layer->SetUp(bottoms(), tops());
  ASSERT_EQ(layer->blobs().size(), 3u);
  EXPECT_EQ(layer->blobs()[0]->shape(), std::vector<int64_t>({3}));
  EXPECT_EQ(layer->blobs()[1]->shape(), std::vector<int64_t>({3}));
  EXPECT_EQ(layer->blobs()[2]->shape(), std::vector<int64_t>({1}));
  ASSERT_EQ(layer->layer_param().param_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(layer->layer_param().param(i).lr_mult(), 0.0f);
    EXPECT_FALSE(layer->param_propagate_down(i));
  }
  EXPECT_THROW(MakeLayer("type: 'BatchNorm' param { lr_mult: 1 }")->SetUp(bottoms(), tops()),
               Error);
  MakeLayer("type: 'BatchNorm' param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }")
      ->SetUp(bottoms(), tops());
}

TEST_F(BatchNormTest, TrainNormalisesEachChannel) {
  auto layer = MakeLayer("type: 'BatchNorm'", TRAIN);
  layer->SetUp(bottoms(), tops());
  layer->Forward(bottoms(), tops());
  for (int c = 0; c < 3; ++c) {
    const auto [mean, variance] = ChannelStats(top_, c);
    EXPECT_NEAR(mean, 0.0, 1e-5);
    EXPECT_NEAR(variance, 1.0, 1e-3);
  }
}

TEST_F(BatchNormTest, RunningSumsAsCaffeStoresThem) {
  auto layer =
      MakeLayer("type: 'BatchNorm' batch_norm_param { moving_average_fraction: 0.9 }", TRAIN);
  layer->SetUp(bottoms(), tops());
  layer->Forward(bottoms(), tops());
  layer->Forward(bottoms(), tops());
  // After two batches: weight = 0.9 * 1 + 1, sums = mean * (0.9 + 1), unbiased variance likewise.
  EXPECT_NEAR(layer->blobs()[2]->data()[0], 1.9f, 1e-6f);
  for (int c = 0; c < 3; ++c) {
    const auto [mean, variance] = ChannelStats(bottom_, c);
    EXPECT_NEAR(layer->blobs()[0]->data()[c], 1.9 * mean, 1e-4);
    EXPECT_NEAR(layer->blobs()[1]->data()[c], 1.9 * variance * 40 / 39, 1e-3);
  }
}

TEST_F(BatchNormTest, TestUsesStoredStatistics) {
  auto layer = MakeLayer("type: 'BatchNorm'", TEST);
  layer->SetUp(bottoms(), tops());
  const float means[3] = {1.0f, -2.0f, 0.5f};
  const float variances[3] = {4.0f, 0.25f, 1.0f};
  for (int c = 0; c < 3; ++c) {
    layer->blobs()[0]->mutable_data()[c] = 2.0f * means[c];
    layer->blobs()[1]->mutable_data()[c] = 2.0f * variances[c];
  }
  layer->blobs()[2]->mutable_data()[0] = 2.0f;
  layer->Forward(bottoms(), tops());
  for (int n = 0; n < 2; ++n) {
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < 20; ++i) {
        const int64_t index = (n * 3 + c) * 20 + i;
        EXPECT_NEAR(top_.data()[index],
                    (bottom_.data()[index] - means[c]) / std::sqrt(variances[c] + 1e-5f), 1e-5f);
      }
    }
  }
  // The statistics stay as they were.
  EXPECT_EQ(layer->blobs()[2]->data()[0], 2.0f);
}

TEST_F(BatchNormTest, UseGlobalStatsOverridesPhase) {
  auto layer = MakeLayer("type: 'BatchNorm' batch_norm_param { use_global_stats: false }", TEST);
  layer->SetUp(bottoms(), tops());
  layer->Forward(bottoms(), tops());
  EXPECT_EQ(layer->blobs()[2]->data()[0], 1.0f);
  EXPECT_NEAR(ChannelStats(top_, 1).first, 0.0, 1e-5);
}

TEST_F(BatchNormTest, TwoAxisBottom) {
  Blob flat({8, 3});
  FillGaussianBlob(&flat);
  std::vector<Blob*> bottom = {&flat};
  auto layer = MakeLayer("type: 'BatchNorm'", TRAIN);
  layer->SetUp(bottom, tops());
  layer->Forward(bottom, tops());
  for (int c = 0; c < 3; ++c) {
    double sum = 0.0;
    for (int n = 0; n < 8; ++n) sum += top_.data()[n * 3 + c];
    EXPECT_NEAR(sum, 0.0, 1e-5);
  }
}

TEST_F(BatchNormTest, GradientWithBatchStatistics) {
  auto layer = MakeLayer("type: 'BatchNorm'", TRAIN);
  GradientChecker(1e-2f, 4e-3f).CheckGradientExhaustive(layer.get(), bottoms(), tops());
}

// With stored statistics the layer is a fixed affine map per channel (the statistics get no
// gradient, so the numerical checker, which probes every blob, does not apply).
TEST_F(BatchNormTest, GradientWithGlobalStatistics) {
  auto layer = MakeLayer("type: 'BatchNorm'", TEST);
  layer->SetUp(bottoms(), tops());
  const float variances[3] = {3.0f, 0.5f, 8.0f};
  for (int c = 0; c < 3; ++c) layer->blobs()[1]->mutable_data()[c] = variances[c];
  layer->blobs()[2]->SetData(1.0f);
  layer->Forward(bottoms(), tops());
  FillGaussianBlob(&top_, 1.0f, 6);
  for (int64_t i = 0; i < top_.count(); ++i) top_.mutable_diff()[i] = top_.data()[i];
  layer->Backward(tops(), {true}, bottoms());
  for (int64_t i = 0; i < top_.count(); ++i) {
    const int c = static_cast<int>((i / 20) % 3);
    EXPECT_NEAR(bottom_.diff()[i], top_.diff()[i] / std::sqrt(variances[c] + 1e-5f), 1e-6f);
  }
}

TEST_F(BatchNormTest, InPlaceMatches) {
  auto apart = MakeLayer("type: 'BatchNorm'", TRAIN);
  apart->SetUp(bottoms(), tops());
  apart->Forward(bottoms(), tops());
  Blob top_gradient(top_.shape());
  FillGaussianBlob(&top_gradient, 1.0f, 4);
  for (int64_t i = 0; i < top_.count(); ++i) top_.mutable_diff()[i] = top_gradient.data()[i];
  apart->Backward(tops(), {true}, bottoms());

  Blob shared;
  shared.CopyFrom(bottom_, false, true);
  std::vector<Blob*> same = {&shared};
  auto in_place = MakeLayer("type: 'BatchNorm'", TRAIN);
  in_place->SetUp(same, same);
  in_place->Forward(same, same);
  for (int64_t i = 0; i < top_.count(); ++i) EXPECT_NEAR(shared.data()[i], top_.data()[i], 1e-6f);
  for (int64_t i = 0; i < top_.count(); ++i) shared.mutable_diff()[i] = top_gradient.data()[i];
  in_place->Backward(same, {true}, same);
  for (int64_t i = 0; i < top_.count(); ++i)
    EXPECT_NEAR(shared.diff()[i], bottom_.diff()[i], 1e-6f);
}

}  // namespace
}  // namespace condense::testing
