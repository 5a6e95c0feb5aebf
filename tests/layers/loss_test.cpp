// EuclideanLoss and SigmoidCrossEntropyLoss: values against their definitions, normalisation,
// ignore_label, and numerical gradients (both bottoms for Euclidean, the predictions for the
// other).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

TEST(EuclideanLossTest, Forward) {
  Blob a({10, 5, 1, 1}), b({10, 5, 1, 1}), loss;
  FillGaussianBlob(&a, 1.0f, 1);
  FillGaussianBlob(&b, 1.0f, 2);
  std::vector<Blob*> bottoms = {&a, &b}, tops = {&loss};
  auto layer = MakeLayer("type: 'EuclideanLoss'");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(layer->loss(0), 1.0f);
  EXPECT_TRUE(layer->AllowForceBackward(1));
  double expected = 0.0;
  for (int64_t i = 0; i < a.count(); ++i) expected += std::pow(a.data()[i] - b.data()[i], 2.0);
  expected /= 2.0 * 10;
  EXPECT_NEAR(layer->Forward(bottoms, tops), expected, 1e-5);
  EXPECT_NEAR(loss.data()[0], expected, 1e-5);
}

TEST(EuclideanLossTest, GradientBothBottoms) {
  Blob a({10, 5, 1, 1}), b({10, 5}), loss;
  FillGaussianBlob(&a, 1.0f, 1);
  FillGaussianBlob(&b, 1.0f, 2);
  std::vector<Blob*> bottoms = {&a, &b}, tops = {&loss};
  auto layer = MakeLayer("type: 'EuclideanLoss' loss_weight: 2.5");
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST(EuclideanLossTest, SizesMustMatch) {
  Blob a({10, 5}), b({10, 4}), loss;
  std::vector<Blob*> bottoms = {&a, &b}, tops = {&loss};
  auto layer = MakeLayer("type: 'EuclideanLoss'");
  EXPECT_THROW(layer->SetUp(bottoms, tops), Error);
  Blob c({9, 5});
  bottoms = {&a, &c};
  EXPECT_THROW(MakeLayer("type: 'EuclideanLoss'")->SetUp(bottoms, tops), Error);
}

class SigmoidCrossEntropyLossTest : public ::testing::Test {
 protected:
  SigmoidCrossEntropyLossTest() : logits_({10, 5, 1, 1}), targets_({10, 5, 1, 1}) {
    FillGaussianBlob(&logits_, 3.0f);
    FillUniformBlob(&targets_, 0.0f, 1.0f, 2);
  }
  std::vector<Blob*> bottoms() { return {&logits_, &targets_}; }

  double ReferenceSum(float ignored = -100.0f) {
    double loss = 0.0;
    for (int64_t i = 0; i < logits_.count(); ++i) {
      const double t = targets_.data()[i];
      if (static_cast<int>(t) == static_cast<int>(ignored)) continue;
      const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(logits_.data()[i])));
      loss -= t * std::log(p) + (1 - t) * std::log(1 - p);
    }
    return loss;
  }

  float Loss(const std::string& text) {
    auto layer = MakeLayer(text);
    std::vector<Blob*> tops = {&loss_};
    layer->SetUp(bottoms(), tops);
    return layer->Forward(bottoms(), tops);
  }

  Blob logits_;
  Blob targets_;
  Blob loss_;
};

TEST_F(SigmoidCrossEntropyLossTest, BatchSizeNormalisationByDefault) {
  EXPECT_NEAR(Loss("type: 'SigmoidCrossEntropyLoss'"), ReferenceSum() / 10, 1e-4);
  EXPECT_NEAR(Loss("type: 'SigmoidCrossEntropyLoss' loss_param { normalization: FULL }"),
              ReferenceSum() / 50, 1e-4);
  EXPECT_NEAR(Loss("type: 'SigmoidCrossEntropyLoss' loss_param { normalize: true }"),
              ReferenceSum() / 50, 1e-4);
}

TEST_F(SigmoidCrossEntropyLossTest, StableForLargeLogits) {
  logits_.mutable_data()[0] = 200.0f;
  targets_.mutable_data()[0] = 0.0f;
  logits_.mutable_data()[1] = -200.0f;
  targets_.mutable_data()[1] = 1.0f;
  const float loss = Loss("type: 'SigmoidCrossEntropyLoss' loss_param { normalization: NONE }");
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 400.0f);
}

TEST_F(SigmoidCrossEntropyLossTest, IgnoreLabel) {
  for (int64_t i = 0; i < targets_.count(); i += 3) targets_.mutable_data()[i] = -1.0f;
  int valid = 0;
  for (int64_t i = 0; i < targets_.count(); ++i) valid += targets_.data()[i] != -1.0f;
  EXPECT_NEAR(Loss("type: 'SigmoidCrossEntropyLoss' loss_param { ignore_label: -1 "
                   "normalization: VALID }"),
              ReferenceSum(-1.0f) / valid, 1e-4);
  auto layer = MakeLayer("type: 'SigmoidCrossEntropyLoss' loss_param { ignore_label: -1 }");
  std::vector<Blob*> tops = {&loss_};
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms(), tops, 0);
  for (int64_t i = 0; i < targets_.count(); i += 3) EXPECT_EQ(logits_.diff()[i], 0.0f);
}

TEST_F(SigmoidCrossEntropyLossTest, Gradient) {
  auto layer = MakeLayer("type: 'SigmoidCrossEntropyLoss'");
  std::vector<Blob*> tops = {&loss_};
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms(), tops, 0);
}

TEST_F(SigmoidCrossEntropyLossTest, CountsMustMatch) {
  Blob targets({10, 4});
  std::vector<Blob*> bottoms = {&logits_, &targets}, tops = {&loss_};
  EXPECT_THROW(MakeLayer("type: 'SigmoidCrossEntropyLoss'")->SetUp(bottoms, tops), Error);
}

}  // namespace
}  // namespace condense::testing
