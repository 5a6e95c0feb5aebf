// Scale and Bias: learned or second-bottom operands on various axes, scalars, the bias_term that
// makes Scale own a Bias blob, in-place runs, and numerical gradients for all inputs and
// parameters.
#include <gtest/gtest.h>

#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

class ScaleBiasTest : public ::testing::Test {
 protected:
  ScaleBiasTest() : bottom_({2, 3, 4, 5}) { FillGaussianBlob(&bottom_, 1.0f, 1); }
  Blob bottom_, top_;
};

TEST_F(ScaleBiasTest, ScaleDefaultsToOnesPerChannel) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Scale'");
  layer->SetUp(bottoms, tops);
  ASSERT_EQ(layer->blobs().size(), 1u);
  EXPECT_EQ(layer->blobs()[0]->shape(), std::vector<int64_t>({3}));
  layer->Forward(bottoms, tops);
  EXPECT_EQ(Values(top_), Values(bottom_));
}

TEST_F(ScaleBiasTest, ScaleWithBiasTerm) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer = MakeLayer(
      "type: 'Scale' scale_param { axis: 1 num_axes: 2 bias_term: true "
      "filler { type: 'gaussian' } bias_filler { type: 'constant' value: 0.5 } }");
  layer->SetUp(bottoms, tops);
  ASSERT_EQ(layer->blobs().size(), 2u);
  EXPECT_EQ(layer->blobs()[0]->shape(), std::vector<int64_t>({3, 4}));
  EXPECT_EQ(layer->blobs()[1]->shape(), std::vector<int64_t>({3, 4}));
  layer->Forward(bottoms, tops);
  const float* scale = layer->blobs()[0]->data();
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    const int64_t d = (i / 5) % 12;
    EXPECT_FLOAT_EQ(top_.data()[i], bottom_.data()[i] * scale[d] + 0.5f);
  }
}

TEST_F(ScaleBiasTest, ScaleBySecondBottom) {
  Blob scale({2, 3});
  FillGaussianBlob(&scale, 1.0f, 2);
  std::vector<Blob*> bottoms = {&bottom_, &scale}, tops = {&top_};
  auto layer = MakeLayer("type: 'Scale' scale_param { axis: 0 }");
  layer->SetUp(bottoms, tops);
  EXPECT_TRUE(layer->blobs().empty());
  layer->Forward(bottoms, tops);
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    EXPECT_FLOAT_EQ(top_.data()[i], bottom_.data()[i] * scale.data()[i / 20]);
  }
}

TEST_F(ScaleBiasTest, ScalarScaleIgnoresAxis) {
  Blob scale(std::vector<int64_t>{});
  scale.mutable_data()[0] = -3.0f;
  std::vector<Blob*> bottoms = {&bottom_, &scale}, tops = {&top_};
  auto layer = MakeLayer("type: 'Scale' scale_param { axis: 7 }");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    EXPECT_FLOAT_EQ(top_.data()[i], -3.0f * bottom_.data()[i]);
  }
}

TEST_F(ScaleBiasTest, ShapeMismatchIsRefused) {
  Blob scale({4});
  std::vector<Blob*> bottoms = {&bottom_, &scale}, tops = {&top_};
  EXPECT_THROW(MakeLayer("type: 'Scale'")->SetUp(bottoms, tops), Error);
  std::vector<Blob*> one = {&bottom_};
  EXPECT_THROW(MakeLayer("type: 'Scale' scale_param { axis: 2 num_axes: 3 }")->SetUp(one, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'Bias' bias_param { num_axes: -2 }")->SetUp(one, tops), Error);
}

TEST_F(ScaleBiasTest, ScaleGradientLearned) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer = MakeLayer(
      "type: 'Scale' scale_param { filler { type: 'gaussian' } bias_term: true "
      "bias_filler { type: 'gaussian' } }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST_F(ScaleBiasTest, ScaleGradientAllAxes) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer =
      MakeLayer("type: 'Scale' scale_param { axis: 0 num_axes: -1 filler { type: 'gaussian' } }");
  GradientChecker(1e-2f, 1e-3f).CheckGradient(layer.get(), bottoms, tops);
}

TEST_F(ScaleBiasTest, ScaleGradientSecondBottom) {
  Blob scale({3, 4});
  FillGaussianBlob(&scale, 1.0f, 2);
  std::vector<Blob*> bottoms = {&bottom_, &scale}, tops = {&top_};
  auto layer = MakeLayer("type: 'Scale' scale_param { bias_term: true }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST_F(ScaleBiasTest, ScaleGradientScalarBottom) {
  Blob scale(std::vector<int64_t>{});
  scale.mutable_data()[0] = 1.5f;
  std::vector<Blob*> bottoms = {&bottom_, &scale}, tops = {&top_};
  auto layer = MakeLayer("type: 'Scale'");
  GradientChecker(1e-2f, 1e-3f).CheckGradient(layer.get(), bottoms, tops);
}

TEST_F(ScaleBiasTest, ScaleInPlaceMatches) {
  const std::string text =
      "type: 'Scale' scale_param { filler { type: 'gaussian' } bias_term: true "
      "bias_filler { type: 'gaussian' } }";
  Blob top_gradient(bottom_.shape());
  FillGaussianBlob(&top_gradient, 1.0f, 5);
  std::vector<float> outputs[2], inputs_gradient[2], scale_gradient[2], bias_gradient[2];
  for (int in_place = 0; in_place < 2; ++in_place) {
    Blob input, output;
    input.CopyFrom(bottom_, false, true);
    std::vector<Blob*> bottoms = {&input}, tops = {in_place ? &input : &output};
    SeedRandom(11);  // both layers draw the same parameters
    auto layer = MakeLayer(text);
    layer->SetUp(bottoms, tops);
    for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
    layer->Forward(bottoms, tops);
    outputs[in_place] = Values(*tops[0]);
    Copy(top_gradient.count(), top_gradient.data(), tops[0]->mutable_diff());
    layer->Backward(tops, {true}, bottoms);
    inputs_gradient[in_place] = Gradients(input);
    scale_gradient[in_place] = Gradients(*layer->blobs()[0]);
    bias_gradient[in_place] = Gradients(*layer->blobs()[1]);
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(inputs_gradient[0], inputs_gradient[1]);
  EXPECT_EQ(scale_gradient[0], scale_gradient[1]);
  EXPECT_EQ(bias_gradient[0], bias_gradient[1]);
}

TEST_F(ScaleBiasTest, ParameterGradientsAccumulate) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Scale' scale_param { bias_term: true }");
  layer->SetUp(bottoms, tops);
  for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
  layer->Forward(bottoms, tops);
  top_.SetDiff(1.0f);
  layer->Backward(tops, {false}, bottoms);
  const auto once = Gradients(*layer->blobs()[1]);
  layer->Backward(tops, {false}, bottoms);
  for (size_t i = 0; i < once.size(); ++i) {
    EXPECT_FLOAT_EQ(layer->blobs()[1]->diff()[i], 2.0f * once[i]);
    EXPECT_FLOAT_EQ(once[i], 40.0f);
  }
}

TEST_F(ScaleBiasTest, BiasLearnedDefaultsToZero) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Bias'");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(layer->blobs()[0]->shape(), std::vector<int64_t>({3}));
  EXPECT_EQ(layer->blobs()[0]->asum_data(), 0.0f);
}

TEST_F(ScaleBiasTest, BiasBySecondBottom) {
  Blob bias({4, 5});
  FillGaussianBlob(&bias, 1.0f, 3);
  std::vector<Blob*> bottoms = {&bottom_, &bias}, tops = {&top_};
  auto layer = MakeLayer("type: 'Bias' bias_param { axis: 2 }");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    EXPECT_FLOAT_EQ(top_.data()[i], bottom_.data()[i] + bias.data()[i % 20]);
  }
  GradientChecker(1e-2f, 1e-3f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST_F(ScaleBiasTest, BiasGradientLearned) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer =
      MakeLayer("type: 'Bias' bias_param { axis: 1 num_axes: 2 filler { type: 'gaussian' } }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST_F(ScaleBiasTest, BiasInPlace) {
  Blob bias({3});
  bias.SetData(2.0f);
  Blob shared;
  shared.CopyFrom(bottom_, false, true);
  std::vector<Blob*> bottoms = {&shared, &bias}, tops = {&shared};
  auto layer = MakeLayer("type: 'Bias'");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  for (int64_t i = 0; i < bottom_.count(); ++i)
    EXPECT_FLOAT_EQ(shared.data()[i], bottom_.data()[i] + 2.0f);
  shared.SetDiff(1.0f);
  layer->Backward(tops, {true, true}, bottoms);
  EXPECT_EQ(shared.diff()[0], 1.0f);
  EXPECT_EQ(bias.diff()[2], 40.0f);
}

}  // namespace
}  // namespace condense::testing
