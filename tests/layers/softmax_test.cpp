// Softmax and SoftmaxWithLoss: values against the definition, the loss normalisation modes and
// ignore_label, the probabilities top, and numerical gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

TEST(SoftmaxTest, ForwardAlongChannels) {
  Blob bottom({2, 10, 2, 3});
  FillGaussianBlob(&bottom, 3.0f);
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Softmax'");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  ASSERT_EQ(top.shape(), bottom.shape());
  for (int n = 0; n < 2; ++n) {
    for (int h = 0; h < 2; ++h) {
      for (int w = 0; w < 3; ++w) {
        double sum = 0.0;
        for (int c = 0; c < 10; ++c) sum += std::exp(bottom.data()[bottom.offset(n, c, h, w)]);
        for (int c = 0; c < 10; ++c) {
          const int64_t i = bottom.offset(n, c, h, w);
          EXPECT_NEAR(top.data()[i], std::exp(bottom.data()[i]) / sum, 1e-6f);
        }
      }
    }
  }
}

TEST(SoftmaxTest, LastAxisAndHugeValues) {
  Blob bottom({3, 4});
  const float values[12] = {1000, 1001, 1002, 1003, -1000, 0, 0, -1000, 5, 5, 5, 5};
  std::copy(values, values + 12, bottom.mutable_data());
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Softmax' softmax_param { axis: -1 }");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(top.data()[3], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(top.data()[5], 0.5f, 1e-6f);
  EXPECT_EQ(top.data()[4], 0.0f);
  for (int i = 8; i < 12; ++i) EXPECT_FLOAT_EQ(top.data()[i], 0.25f);
}

TEST(SoftmaxTest, Gradient) {
  Blob bottom({2, 5, 2, 3});
  FillGaussianBlob(&bottom);
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Softmax'");
  GradientChecker(1e-2f, 1e-3f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST(SoftmaxTest, GradientOtherAxisInPlaceSafe) {
  Blob bottom({3, 4, 5});
  FillGaussianBlob(&bottom);
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Softmax' softmax_param { axis: 2 }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientExhaustive(layer.get(), bottoms, tops);

  // In place: same values and same input gradient.
  Blob shared;
  shared.CopyFrom(bottom, false, true);
  std::vector<Blob*> same = {&shared};
  auto in_place = MakeLayer("type: 'Softmax' softmax_param { axis: 2 }");
  in_place->SetUp(same, same);
  layer->Forward(bottoms, tops);
  in_place->Forward(same, same);
  EXPECT_EQ(Values(top), Values(shared));
  FillGaussianBlob(&top, 1.0f, 9);
  for (int64_t i = 0; i < top.count(); ++i) {
    top.mutable_diff()[i] = top.data()[i];
    shared.mutable_diff()[i] = top.data()[i];
  }
  layer->Forward(bottoms, tops);
  layer->Backward(tops, {true}, bottoms);
  in_place->Backward(same, {true}, same);
  for (int64_t i = 0; i < bottom.count(); ++i)
    EXPECT_NEAR(bottom.diff()[i], shared.diff()[i], 1e-6f);
}

// Big enough to be split over threads: the result must not depend on the thread count.
TEST(SoftmaxThreadsTest, SameResultWithOneAndTwoThreads) {
  const int saved = ThreadCount();
  Blob bottom({64, 1000});
  FillGaussianBlob(&bottom, 3.0f);
  std::vector<float> outputs[2], gradients[2];
  for (int threads = 1; threads <= 2; ++threads) {
    SetThreadCount(threads);
    Blob top;
    std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
    auto layer = MakeLayer("type: 'Softmax'");
    layer->SetUp(bottoms, tops);
    layer->Forward(bottoms, tops);
    FillGaussianBlob(&top, 1.0f, 3);
    for (int64_t i = 0; i < top.count(); ++i) top.mutable_diff()[i] = top.data()[i];
    layer->Forward(bottoms, tops);
    layer->Backward(tops, {true}, bottoms);
    outputs[threads - 1] = Values(top);
    gradients[threads - 1] = Gradients(bottom);
  }
  SetThreadCount(saved);
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(gradients[0], gradients[1]);
  for (int n = 0; n < 64; ++n) {
    double sum = 0.0;
    for (int c = 0; c < 1000; ++c) sum += outputs[1][n * 1000 + c];
    EXPECT_NEAR(sum, 1.0, 1e-4);
  }
}

class SoftmaxWithLossTest : public ::testing::Test {
 protected:
  SoftmaxWithLossTest() : logits_({10, 5, 2, 3}), labels_({10, 1, 2, 3}) {
    FillGaussianBlob(&logits_, 2.0f);
    for (int64_t i = 0; i < labels_.count(); ++i)
      labels_.mutable_data()[i] = static_cast<float>(i % 5);
  }
  std::vector<Blob*> bottoms() { return {&logits_, &labels_}; }

  // Sum of -log softmax[label] over the positions whose label is not `ignored`, and their count.
  std::pair<double, int> Reference(int ignored) {
    double loss = 0.0;
    int valid = 0;
    for (int n = 0; n < 10; ++n) {
      for (int h = 0; h < 2; ++h) {
        for (int w = 0; w < 3; ++w) {
          const int label = static_cast<int>(labels_.data()[labels_.offset(n, 0, h, w)]);
          if (label == ignored) continue;
          double z = 0.0;
          for (int c = 0; c < 5; ++c) z += std::exp(logits_.data()[logits_.offset(n, c, h, w)]);
          loss -= logits_.data()[logits_.offset(n, label, h, w)] - std::log(z);
          ++valid;
        }
      }
    }
    return {loss, valid};
  }

  float Loss(const std::string& text) {
    auto layer = MakeLayer(text);
    std::vector<Blob*> tops = {&loss_};
    layer->SetUp(bottoms(), tops);
    return layer->Forward(bottoms(), tops);
  }

  Blob logits_;
  Blob labels_;
  Blob loss_;
};

TEST_F(SoftmaxWithLossTest, IsALossWithWeightOne) {
  auto layer = MakeLayer("type: 'SoftmaxWithLoss'");
  EXPECT_TRUE(layer->AutoTopBlobs());
  EXPECT_EQ(layer->DefaultLossWeight(0), 1.0f);
  EXPECT_FALSE(layer->AllowForceBackward(1));
  std::vector<Blob*> tops = {&loss_};
  layer->SetUp(bottoms(), tops);
  EXPECT_EQ(loss_.num_axes(), 0);
  EXPECT_EQ(layer->loss(0), 1.0f);
}

TEST_F(SoftmaxWithLossTest, ValidNormalisationByDefault) {
  const auto [sum, valid] = Reference(-1);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss'"), sum / valid, 1e-4);
  EXPECT_NEAR(loss_.data()[0], sum / valid, 1e-4);
}

TEST_F(SoftmaxWithLossTest, NormalisationModes) {
  const auto [sum, valid] = Reference(-1);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { normalization: FULL }"), sum / 60, 1e-4);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { normalization: BATCH_SIZE }"), sum / 10,
              1e-4);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { normalization: NONE }"), sum, 1e-3);
  // The deprecated flag: false means BATCH_SIZE, true VALID.
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { normalize: false }"), sum / 10, 1e-4);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { normalize: true }"), sum / valid, 1e-4);
  // `normalization` wins over `normalize` when both are given.
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { normalize: false normalization: NONE }"),
              sum, 1e-3);
}

TEST_F(SoftmaxWithLossTest, IgnoreLabel) {
  const auto [sum, valid] = Reference(2);
  ASSERT_LT(valid, 60);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { ignore_label: 2 }"), sum / valid, 1e-4);
  EXPECT_NEAR(Loss("type: 'SoftmaxWithLoss' loss_param { ignore_label: 2 normalization: FULL }"),
              sum / 60, 1e-4);
}

TEST_F(SoftmaxWithLossTest, AllIgnoredGivesZeroNotNaN) {
  labels_.SetData(3.0f);
  EXPECT_EQ(Loss("type: 'SoftmaxWithLoss' loss_param { ignore_label: 3 }"), 0.0f);
}

TEST_F(SoftmaxWithLossTest, SecondTopIsTheProbabilities) {
  auto layer = MakeLayer("type: 'SoftmaxWithLoss'");
  Blob probabilities;
  std::vector<Blob*> tops = {&loss_, &probabilities};
  layer->SetUp(bottoms(), tops);
  EXPECT_EQ(layer->loss(1), 0.0f);
  layer->Forward(bottoms(), tops);
  ASSERT_EQ(probabilities.shape(), logits_.shape());
  Blob softmax;
  std::vector<Blob*> softmax_bottom = {&logits_}, softmax_top = {&softmax};
  auto reference = MakeLayer("type: 'Softmax'");
  reference->SetUp(softmax_bottom, softmax_top);
  reference->Forward(softmax_bottom, softmax_top);
  EXPECT_EQ(Values(probabilities), Values(softmax));
}

TEST_F(SoftmaxWithLossTest, LabelOutOfRangeIsAnError) {
  labels_.mutable_data()[7] = 5.0f;
  EXPECT_THROW(Loss("type: 'SoftmaxWithLoss'"), Error);
}

TEST_F(SoftmaxWithLossTest, LabelCountMustMatch) {
  Blob labels({10, 2, 3, 1, 2});
  std::vector<Blob*> bottoms = {&logits_, &labels}, tops = {&loss_};
  auto layer = MakeLayer("type: 'SoftmaxWithLoss'");
  EXPECT_THROW(layer->SetUp(bottoms, tops), Error);
}

TEST_F(SoftmaxWithLossTest, Gradient) {
  auto layer = MakeLayer("type: 'SoftmaxWithLoss'");
  std::vector<Blob*> tops = {&loss_};
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms(), tops, 0);
}

TEST_F(SoftmaxWithLossTest, GradientIgnoreLabelAndModes) {
  for (const char* mode : {"FULL", "VALID", "BATCH_SIZE", "NONE"}) {
    auto layer = MakeLayer(std::string("type: 'SoftmaxWithLoss' loss_param { ignore_label: 1 "
                                       "normalization: ") +
                           mode + " }");
    std::vector<Blob*> tops = {&loss_};
    GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms(), tops, 0);
  }
}

TEST_F(SoftmaxWithLossTest, GradientWithLossWeight) {
  auto layer = MakeLayer("type: 'SoftmaxWithLoss' loss_weight: 3 softmax_param { axis: 1 }");
  std::vector<Blob*> tops = {&loss_};
  layer->SetUp(bottoms(), tops);
  const float loss = layer->Forward(bottoms(), tops);
  EXPECT_NEAR(loss, 3.0f * loss_.data()[0], 1e-5f);
  layer->Backward(tops, {true, false}, bottoms());
  const std::vector<float> weighted = Gradients(logits_);
  loss_.SetDiff(1.0f);
  layer->Backward(tops, {true, false}, bottoms());
  for (int64_t i = 0; i < logits_.count(); ++i) {
    EXPECT_NEAR(weighted[i], 3.0f * logits_.diff()[i], 1e-6f);
  }
}

TEST_F(SoftmaxWithLossTest, NoGradientForLabels) {
  auto layer = MakeLayer("type: 'SoftmaxWithLoss'");
  std::vector<Blob*> tops = {&loss_};
  layer->SetUp(bottoms(), tops);
  layer->Forward(bottoms(), tops);
  EXPECT_THROW(layer->Backward(tops, {true, true}, bottoms()), Error);
}

}  // namespace
}  // namespace condense::testing
