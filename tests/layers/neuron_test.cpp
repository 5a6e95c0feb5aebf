// The element-wise layers: ReLU, PReLU, ELU, Sigmoid, TanH, AbsVal, Power, Dropout. Each is checked
// against its formula and by numerical gradients; in-place runs must match out-of-place ones.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

class NeuronTest : public ::testing::Test {
 protected:
  NeuronTest() : bottom_({2, 3, 4, 5}) { FillGaussianBlob(&bottom_); }

  std::vector<Blob*> bottoms() { return {&bottom_}; }
  std::vector<Blob*> tops() { return {&top_}; }

  // Runs the layer forward and returns its outputs.
  std::vector<float> Forward(const std::string& text, Phase phase = TRAIN) {
    auto layer = MakeLayer(text, phase);
    layer->SetUp(bottoms(), tops());
    layer->Forward(bottoms(), tops());
    return Values(top_);
  }

  // Forward and backward out of place and in place, with the same top gradient: the bottom
  // gradients and outputs must agree.
  void ExpectInPlaceMatches(const std::string& text) {
    Blob top_gradient(bottom_.shape());
    FillGaussianBlob(&top_gradient, 1.0f, 7);
    // Same seed, so that both layers draw the same parameters.
    SeedRandom(11);
    auto apart = MakeLayer(text);
    apart->SetUp(bottoms(), tops());
    apart->Forward(bottoms(), tops());
    Copy(top_.count(), top_gradient.data(), top_.mutable_diff());
    apart->Backward(tops(), {true}, bottoms());

    Blob shared;
    shared.CopyFrom(bottom_, false, true);
    std::vector<Blob*> same = {&shared};
    SeedRandom(11);
    auto in_place = MakeLayer(text);
    in_place->SetUp(same, same);
    in_place->Forward(same, same);
    EXPECT_EQ(Values(top_), Values(shared));
    Copy(shared.count(), top_gradient.data(), shared.mutable_diff());
    in_place->Backward(same, {true}, same);
    for (int64_t i = 0; i < shared.count(); ++i) {
      EXPECT_NEAR(bottom_.diff()[i], shared.diff()[i], 1e-6f) << i;
    }
  }

  Blob bottom_;
  Blob top_;
};

TEST_F(NeuronTest, ReLUForwardZeroesNegatives) {
  const auto y = Forward("type: 'ReLU'");
  for (int64_t i = 0; i < bottom_.count(); ++i) EXPECT_EQ(y[i], std::max(bottom_.data()[i], 0.0f));
}

TEST_F(NeuronTest, ReLUNegativeSlopeScalesNegatives) {
  const auto y = Forward("type: 'ReLU' relu_param { negative_slope: 0.01 }");
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    const float x = bottom_.data()[i];
    EXPECT_FLOAT_EQ(y[i], x > 0 ? x : 0.01f * x);
  }
}

TEST_F(NeuronTest, ReLUGradient) {
  auto layer = MakeLayer("type: 'ReLU'");
  GradientChecker(1e-2f, 1e-3f, 1701, 0.0f, 0.01f)
      .CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, LeakyReLUGradient) {
  auto layer = MakeLayer("type: 'ReLU' relu_param { negative_slope: 0.01 }");
  GradientChecker(1e-2f, 1e-3f, 1701, 0.0f, 0.01f)
      .CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, ReLUInPlace) {
  ExpectInPlaceMatches("type: 'ReLU' relu_param { negative_slope: 0.2 }");
}

TEST_F(NeuronTest, SigmoidForward) {
  const auto y = Forward("type: 'Sigmoid'");
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    EXPECT_NEAR(y[i], 1.0f / (1.0f + std::exp(-bottom_.data()[i])), 1e-6f);
    EXPECT_GE(y[i], 0.0f);
    EXPECT_LE(y[i], 1.0f);
  }
}

TEST_F(NeuronTest, SigmoidGradient) {
  auto layer = MakeLayer("type: 'Sigmoid'");
  GradientChecker(1e-2f, 1e-3f).CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, SigmoidInPlace) { ExpectInPlaceMatches("type: 'Sigmoid'"); }

TEST_F(NeuronTest, TanHForward) {
  const auto y = Forward("type: 'TanH'");
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    const float x = bottom_.data()[i];
    EXPECT_NEAR(y[i], (std::exp(2 * x) - 1) / (std::exp(2 * x) + 1), 1e-6f);
  }
}

TEST_F(NeuronTest, TanHGradient) {
  auto layer = MakeLayer("type: 'TanH'");
  GradientChecker(1e-2f, 1e-3f).CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, TanHInPlace) { ExpectInPlaceMatches("type: 'TanH'"); }

TEST_F(NeuronTest, AbsValForward) {
  const auto y = Forward("type: 'AbsVal'");
  for (int64_t i = 0; i < bottom_.count(); ++i) EXPECT_EQ(y[i], std::fabs(bottom_.data()[i]));
}

TEST_F(NeuronTest, AbsValGradient) {
  auto layer = MakeLayer("type: 'AbsVal'");
  GradientChecker(1e-3f, 1e-2f, 1701, 0.0f, 0.01f)
      .CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, AbsValRefusesInPlace) {
  auto layer = MakeLayer("type: 'AbsVal'");
  EXPECT_THROW(layer->SetUp(bottoms(), bottoms()), Error);
}

TEST_F(NeuronTest, ELUForward) {
  const auto y = Forward("type: 'ELU' elu_param { alpha: 0.5 }");
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    const float x = bottom_.data()[i];
    EXPECT_NEAR(y[i], x > 0 ? x : 0.5f * (std::exp(x) - 1.0f), 1e-6f);
  }
}

TEST_F(NeuronTest, ELUGradient) {
  auto layer = MakeLayer("type: 'ELU' elu_param { alpha: 0.5 }");
  GradientChecker(1e-2f, 1e-3f, 1701, 0.0f, 0.01f)
      .CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, ELUInPlace) { ExpectInPlaceMatches("type: 'ELU' elu_param { alpha: 0.5 }"); }

// Power over a positive base, so that fractional powers stay real.
class PowerTest : public NeuronTest {
 protected:
  PowerTest() { FillUniformBlob(&bottom_, 0.5f, 2.0f); }

  void Check(float power, float scale, float shift) {
    const std::string text = "type: 'Power' power_param { power: " + std::to_string(power) +
                             " scale: " + std::to_string(scale) +
                             " shift: " + std::to_string(shift) + " }";
    const auto y = Forward(text);
    for (int64_t i = 0; i < bottom_.count(); ++i) {
      const float expected = std::pow(shift + scale * bottom_.data()[i], power);
      EXPECT_NEAR(y[i], expected, 1e-5f * std::max(1.0f, std::fabs(expected))) << text;
    }
    auto layer = MakeLayer(text);
    GradientChecker(1e-3f, 1e-2f).CheckGradientEltwise(layer.get(), bottoms(), tops());
  }
};

TEST_F(PowerTest, FractionalPower) { Check(0.37f, 0.83f, 0.4f); }
TEST_F(PowerTest, NegativePower) { Check(-0.75f, 1.0f, 1.0f); }
TEST_F(PowerTest, Square) { Check(2.0f, 0.83f, -2.4f); }
TEST_F(PowerTest, Linear) { Check(1.0f, 0.83f, -2.4f); }
TEST_F(PowerTest, ZeroPowerIsOne) { Check(0.0f, 0.83f, -2.4f); }
TEST_F(PowerTest, ZeroScaleIsConstant) { Check(1.5f, 0.0f, 2.0f); }

TEST_F(NeuronTest, PReLUDefaultsToQuarterSlopePerChannel) {
  auto layer = MakeLayer("type: 'PReLU'");
  layer->SetUp(bottoms(), tops());
  ASSERT_EQ(layer->blobs().size(), 1u);
  EXPECT_EQ(layer->blobs()[0]->shape(), std::vector<int64_t>({3}));
  for (int c = 0; c < 3; ++c) EXPECT_EQ(layer->blobs()[0]->data()[c], 0.25f);
  layer->Forward(bottoms(), tops());
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    const float x = bottom_.data()[i];
    EXPECT_FLOAT_EQ(top_.data()[i], x > 0 ? x : 0.25f * x);
  }
}

TEST_F(NeuronTest, PReLUChannelSharedIsScalar) {
  auto layer = MakeLayer("type: 'PReLU' prelu_param { channel_shared: true }");
  layer->SetUp(bottoms(), tops());
  EXPECT_EQ(layer->blobs()[0]->num_axes(), 0);
  EXPECT_EQ(layer->blobs()[0]->count(), 1);
}

TEST_F(NeuronTest, PReLUForwardUsesChannelSlope) {
  auto layer = MakeLayer("type: 'PReLU'");
  layer->SetUp(bottoms(), tops());
  float* slopes = layer->blobs()[0]->mutable_data();
  slopes[0] = 0.1f, slopes[1] = -0.5f, slopes[2] = 2.0f;
  layer->Forward(bottoms(), tops());
  for (int64_t i = 0; i < bottom_.count(); ++i) {
    const float x = bottom_.data()[i];
    const float slope = slopes[(i / 20) % 3];
    EXPECT_FLOAT_EQ(top_.data()[i], x > 0 ? x : slope * x);
  }
}

TEST_F(NeuronTest, PReLUGradient) {
  auto layer = MakeLayer("type: 'PReLU' prelu_param { filler { type: 'gaussian' } }");
  GradientChecker(1e-2f, 1e-3f, 1701, 0.0f, 0.01f)
      .CheckGradientExhaustive(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, PReLUSharedGradient) {
  auto layer =
      MakeLayer("type: 'PReLU' prelu_param { channel_shared: true filler { type: 'gaussian' } }");
  GradientChecker(1e-2f, 1e-3f, 1701, 0.0f, 0.01f)
      .CheckGradientExhaustive(layer.get(), bottoms(), tops());
}

TEST_F(NeuronTest, PReLUInPlaceGivesSameSlopeGradient) {
  const std::string text = "type: 'PReLU' prelu_param { filler { type: 'gaussian' } }";
  ExpectInPlaceMatches(text);
  // The slope gradient needs the inputs, which in place are overwritten by Forward.
  Blob top_gradient(bottom_.shape());
  FillGaussianBlob(&top_gradient, 1.0f, 7);
  std::vector<float> slope_gradients[2];
  for (int in_place = 0; in_place < 2; ++in_place) {
    Blob input;
    input.CopyFrom(bottom_, false, true);
    Blob output;
    std::vector<Blob*> bottom = {&input};
    std::vector<Blob*> top = {in_place ? &input : &output};
    SeedRandom(11);
    auto layer = MakeLayer(text);
    layer->SetUp(bottom, top);
    layer->blobs()[0]->SetDiff(0.0f);
    layer->Forward(bottom, top);
    Copy(top_gradient.count(), top_gradient.data(), top[0]->mutable_diff());
    layer->Backward(top, {true}, bottom);
    slope_gradients[in_place] = Gradients(*layer->blobs()[0]);
  }
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(slope_gradients[0][c], slope_gradients[1][c], 1e-5f);
}

TEST_F(NeuronTest, PReLUNeedsTwoAxes) {
  Blob flat({6});
  std::vector<Blob*> bottom = {&flat};
  auto layer = MakeLayer("type: 'PReLU'");
  EXPECT_THROW(layer->SetUp(bottom, tops()), Error);
}

TEST(DropoutTest, TrainKeepsOrScalesEachValue) {
  Blob bottom({1000, 10});
  FillUniformBlob(&bottom, 1.0f, 2.0f);
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Dropout' dropout_param { dropout_ratio: 0.3 }", TRAIN);
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  int64_t kept = 0;
  for (int64_t i = 0; i < bottom.count(); ++i) {
    if (top.data()[i] != 0.0f) {
      ++kept;
      EXPECT_FLOAT_EQ(top.data()[i], bottom.data()[i] / 0.7f);
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / bottom.count(), 0.7, 0.02);
}

TEST(DropoutTest, TestPhaseIsIdentity) {
  Blob bottom({4, 5});
  FillGaussianBlob(&bottom);
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Dropout'", TEST);
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  EXPECT_EQ(Values(top), Values(bottom));
  FillGaussianBlob(&top, 1.0f, 3);
  Copy(top.count(), top.data(), top.mutable_diff());
  layer->Backward(tops, {true}, bottoms);
  EXPECT_EQ(Gradients(bottom), Values(top));
}

TEST(DropoutTest, SameSeedSameMask) {
  Blob bottom({100});
  bottom.SetData(1.0f);
  Blob first, second;
  std::vector<Blob*> bottoms = {&bottom};
  auto layer = MakeLayer("type: 'Dropout'", TRAIN);
  std::vector<Blob*> tops = {&first};
  layer->SetUp(bottoms, tops);
  SeedRandom(5);
  layer->Forward(bottoms, tops);
  tops = {&second};
  layer->Reshape(bottoms, tops);
  SeedRandom(5);
  layer->Forward(bottoms, tops);
  EXPECT_EQ(Values(first), Values(second));
}

TEST(DropoutTest, Gradient) {
  Blob bottom({2, 3, 4, 5});
  FillGaussianBlob(&bottom);
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Dropout' dropout_param { dropout_ratio: 0.4 }", TRAIN);
  GradientChecker(1e-2f, 1e-3f).CheckGradientEltwise(layer.get(), bottoms, tops);
}

TEST(DropoutTest, RatioOfOneIsRefused) {
  Blob bottom({2, 3});
  Blob top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Dropout' dropout_param { dropout_ratio: 1 }", TRAIN);
  EXPECT_THROW(layer->SetUp(bottoms, tops), Error);
}

}  // namespace
}  // namespace condense::testing
