// Eltwise: PROD, SUM with coefficients and MAX against direct evaluation, Caffe's MAX tie rule, and
// numerical gradients for every operation (both PROD gradient formulas).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "condense/core/error.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

class EltwiseTest : public ::testing::Test {
 protected:
  EltwiseTest() : a_({2, 3, 4, 5}), b_({2, 3, 4, 5}), c_({2, 3, 4, 5}) {
    FillUniformBlob(&a_, -1.0f, 1.0f, 1);
    FillUniformBlob(&b_, -1.0f, 1.0f, 2);
    FillUniformBlob(&c_, -1.0f, 1.0f, 3);
  }
  std::vector<Blob*> bottoms() { return {&a_, &b_, &c_}; }
  std::vector<Blob*> tops() { return {&top_}; }
  void Run(const std::string& text) {
    auto layer = MakeLayer(text);
    layer->SetUp(bottoms(), tops());
    layer->Forward(bottoms(), tops());
  }
  Blob a_, b_, c_, top_;
};

TEST_F(EltwiseTest, Prod) {
  Run("type: 'Eltwise' eltwise_param { operation: PROD }");
  for (int64_t i = 0; i < top_.count(); ++i) {
    EXPECT_FLOAT_EQ(top_.data()[i], a_.data()[i] * b_.data()[i] * c_.data()[i]);
  }
}

TEST_F(EltwiseTest, SumIsTheDefault) {
  Run("type: 'Eltwise'");
  for (int64_t i = 0; i < top_.count(); ++i) {
    EXPECT_FLOAT_EQ(top_.data()[i], a_.data()[i] + b_.data()[i] + c_.data()[i]);
  }
}

TEST_F(EltwiseTest, SumWithCoefficients) {
  Run("type: 'Eltwise' eltwise_param { operation: SUM coeff: 1 coeff: -0.5 coeff: 2 }");
  for (int64_t i = 0; i < top_.count(); ++i) {
    EXPECT_NEAR(top_.data()[i], a_.data()[i] - 0.5f * b_.data()[i] + 2.0f * c_.data()[i], 1e-6f);
  }
}

TEST_F(EltwiseTest, Max) {
  Run("type: 'Eltwise' eltwise_param { operation: MAX }");
  for (int64_t i = 0; i < top_.count(); ++i) {
    EXPECT_EQ(top_.data()[i], std::max({a_.data()[i], b_.data()[i], c_.data()[i]}));
  }
}

TEST_F(EltwiseTest, MaxTieRule) {
  // Between the first two a tie goes to the second; later bottoms must be strictly larger.
  a_.SetData(1.0f);
  b_.SetData(1.0f);
  c_.SetData(1.0f);
  auto layer = MakeLayer("type: 'Eltwise' eltwise_param { operation: MAX }");
  layer->SetUp(bottoms(), tops());
  layer->Forward(bottoms(), tops());
  top_.SetDiff(1.0f);
  layer->Backward(tops(), {true, true, true}, bottoms());
  EXPECT_EQ(a_.asum_diff(), 0.0f);
  EXPECT_EQ(b_.asum_diff(), static_cast<float>(b_.count()));
  EXPECT_EQ(c_.asum_diff(), 0.0f);
}

TEST_F(EltwiseTest, Errors) {
  EXPECT_THROW(
      MakeLayer("type: 'Eltwise' eltwise_param { coeff: 1 coeff: 2 }")->SetUp(bottoms(), tops()),
      Error);
  EXPECT_THROW(
      MakeLayer("type: 'Eltwise' eltwise_param { operation: PROD coeff: 1 coeff: 2 coeff: 3 }")
          ->SetUp(bottoms(), tops()),
      Error);
  Blob other({2, 3, 4, 6});
  std::vector<Blob*> mismatched = {&a_, &other};
  EXPECT_THROW(MakeLayer("type: 'Eltwise'")->SetUp(mismatched, tops()), Error);
}

TEST_F(EltwiseTest, GradientProdStable) {
  auto layer = MakeLayer("type: 'Eltwise' eltwise_param { operation: PROD }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(EltwiseTest, GradientProdByDivision) {
  auto layer =
      MakeLayer("type: 'Eltwise' eltwise_param { operation: PROD stable_prod_grad: false }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(EltwiseTest, GradientSum) {
  auto layer = MakeLayer("type: 'Eltwise' eltwise_param { coeff: 1 coeff: -0.5 coeff: 2 }");
  GradientChecker(1e-2f, 1e-3f).CheckGradientEltwise(layer.get(), bottoms(), tops());
}

TEST_F(EltwiseTest, GradientMax) {
  auto layer = MakeLayer("type: 'Eltwise' eltwise_param { operation: MAX }");
  GradientChecker(1e-4f, 1e-2f).CheckGradientEltwise(layer.get(), bottoms(), tops());
}

}  // namespace
}  // namespace condense::testing
