// InnerProduct: shapes and weight layouts (plain, transposed, other axis), values against a direct
// product (batch and single-vector paths), and numerical gradients.
#include <gtest/gtest.h>

#include <memory>
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

std::unique_ptr<Layer> MakeLayer(const std::string& inner_product_param) {
  LayerParameter param;
  ParseTextProto("name: 'ip' type: 'InnerProduct' inner_product_param { " + inner_product_param +
                     " weight_filler { type: 'uniform' min: -1 max: 1 }"
                     " bias_filler { type: 'uniform' min: -1 max: 1 } }",
                 "test layer", &param);
  return LayerRegistry::Create(param);
}

// top[m][n] = sum_k x[m][k] * W[n][k] + b[n], reading W as (K, N) when transposed.
std::vector<float> DirectProduct(const Blob& bottom, int64_t rows, const Blob& weights,
                                 const Blob* bias, int64_t outputs, bool transposed) {
  const int64_t inputs = bottom.count() / rows;
  std::vector<float> top(rows * outputs);
  for (int64_t m = 0; m < rows; ++m) {
    for (int64_t n = 0; n < outputs; ++n) {
      double sum = bias ? bias->data()[n] : 0.0f;
      for (int64_t k = 0; k < inputs; ++k) {
        const float weight =
            transposed ? weights.data()[k * outputs + n] : weights.data()[n * inputs + k];
        sum += double{bottom.data()[m * inputs + k]} * weight;
      }
      top[m * outputs + n] = static_cast<float>(sum);
    }
  }
  return top;
}

class InnerProductTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = ThreadCount();
    SetThreadCount(1);
    SeedRandom(1701);
    bottom_.Reshape({2, 3, 4, 5});
    FillUniform(bottom_.count(), -1.0f, 1.0f, bottom_.mutable_data());
  }
  void TearDown() override { SetThreadCount(saved_threads_); }

  void ExpectMatchesDirect(const std::string& param, Blob* bottom, int64_t rows, int64_t outputs,
                           bool transposed, bool bias = true) {
    SCOPED_TRACE(param);
    std::unique_ptr<Layer> layer = MakeLayer(param);
    layer->SetUp({bottom}, {&top_});
    layer->Forward({bottom}, {&top_});
    const std::vector<float> expected = DirectProduct(
        *bottom, rows, *layer->blobs()[0], bias ? layer->blobs()[1].get() : nullptr, outputs,
        transposed);
    ASSERT_EQ(static_cast<int64_t>(expected.size()), top_.count());
    for (int64_t i = 0; i < top_.count(); ++i) ASSERT_NEAR(expected[i], top_.data()[i], 1e-4) << i;
  }

  Blob bottom_;
  Blob top_;
  int saved_threads_ = 1;
};

TEST_F(InnerProductTest, SetUpShapesTopsAndWeightsAsCaffe) {
  std::unique_ptr<Layer> layer = MakeLayer("num_output: 10");
  layer->SetUp({&bottom_}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 10}), top_.shape());
  EXPECT_EQ((std::vector<int64_t>{10, 60}), layer->blobs()[0]->shape());
  EXPECT_EQ((std::vector<int64_t>{10}), layer->blobs()[1]->shape());

  std::unique_ptr<Layer> transposed = MakeLayer("num_output: 10 transpose: true bias_term: false");
  transposed->SetUp({&bottom_}, {&top_});
  ASSERT_EQ(1u, transposed->blobs().size());
  EXPECT_EQ((std::vector<int64_t>{60, 10}), transposed->blobs()[0]->shape());

  std::unique_ptr<Layer> axis_two = MakeLayer("num_output: 7 axis: 2");
  axis_two->SetUp({&bottom_}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 3, 7}), top_.shape());
  EXPECT_EQ((std::vector<int64_t>{7, 20}), axis_two->blobs()[0]->shape());

  std::unique_ptr<Layer> last_axis = MakeLayer("num_output: 3 axis: -1");
  last_axis->SetUp({&bottom_}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 3, 4, 3}), top_.shape());
}

TEST_F(InnerProductTest, ForwardMatchesDirectProduct) {
  ExpectMatchesDirect("num_output: 10", &bottom_, 2, 10, false);
  ExpectMatchesDirect("num_output: 10 transpose: true", &bottom_, 2, 10, true);
  ExpectMatchesDirect("num_output: 7 axis: 2 bias_term: false", &bottom_, 6, 7, false, false);
  Blob single({1, 60});
  FillUniform(single.count(), -1.0f, 1.0f, single.mutable_data());
  ExpectMatchesDirect("num_output: 9", &single, 1, 9, false);
  ExpectMatchesDirect("num_output: 9 transpose: true", &single, 1, 9, true);
}

TEST_F(InnerProductTest, TransposedWeightsGiveTheSameOutputs) {
  std::unique_ptr<Layer> plain = MakeLayer("num_output: 4");
  std::unique_ptr<Layer> transposed = MakeLayer("num_output: 4 transpose: true");
  Blob plain_top;
  Blob transposed_top;
  plain->SetUp({&bottom_}, {&plain_top});
  transposed->SetUp({&bottom_}, {&transposed_top});
  const Blob& w = *plain->blobs()[0];
  float* wt = transposed->blobs()[0]->mutable_data();
  for (int64_t n = 0; n < 4; ++n) {
    for (int64_t k = 0; k < 60; ++k) wt[k * 4 + n] = w.data()[n * 60 + k];
  }
  transposed->blobs()[1]->CopyFrom(*plain->blobs()[1]);
  plain->Forward({&bottom_}, {&plain_top});
  transposed->Forward({&bottom_}, {&transposed_top});
  for (int64_t i = 0; i < plain_top.count(); ++i) {
    EXPECT_NEAR(plain_top.data()[i], transposed_top.data()[i], 1e-5) << i;
  }
}

TEST_F(InnerProductTest, Gradient) {
  std::unique_ptr<Layer> layer = MakeLayer("num_output: 10");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(InnerProductTest, GradientTransposed) {
  std::unique_ptr<Layer> layer = MakeLayer("num_output: 10 transpose: true");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(InnerProductTest, GradientAxisTwoWithoutBias) {
  std::unique_ptr<Layer> layer = MakeLayer("num_output: 3 axis: 2 bias_term: false");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(InnerProductTest, GradientSingleVectorWithTwoThreads) {
  SetThreadCount(2);
  Blob single({1, 12});
  FillUniform(single.count(), -1.0f, 1.0f, single.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("num_output: 5");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&single}, {&top_});
}

TEST_F(InnerProductTest, LargeProductsSplitOverTwoThreadsMatchDirectSums) {
  // Large enough (32 x 160 x 256 multiply-adds) for each thread to take a slice of the outputs.
  SetThreadCount(2);
  Blob input({32, 4, 8, 8});
  FillUniform(input.count(), -1.0f, 1.0f, input.mutable_data());
  for (bool transposed : {false, true}) {
    SCOPED_TRACE(transposed ? "transposed" : "plain");
    std::unique_ptr<Layer> layer =
        MakeLayer(std::string("num_output: 160") + (transposed ? " transpose: true" : ""));
    layer->SetUp({&input}, {&top_});
    layer->Forward({&input}, {&top_});
    const Blob& weights = *layer->blobs()[0];
    const std::vector<float> expected =
        DirectProduct(input, 32, weights, layer->blobs()[1].get(), 160, transposed);
    for (int64_t i = 0; i < top_.count(); ++i) ASSERT_NEAR(expected[i], top_.data()[i], 1e-4) << i;

    FillUniform(top_.count(), -1.0f, 1.0f, top_.mutable_diff());
    for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
    layer->Backward({&top_}, {true}, {&input});
    const float* dy = top_.diff();
    const float* x = input.data();
    for (int64_t n = 0; n < 160; ++n) {
      for (int64_t k = 0; k < 256; k += 17) {
        double dw = 0.0;
        for (int64_t m = 0; m < 32; ++m) dw += double{dy[m * 160 + n]} * x[m * 256 + k];
        const int64_t at = transposed ? k * 160 + n : n * 256 + k;
        ASSERT_NEAR(dw, weights.diff()[at], 1e-4) << "dW " << n << "," << k;
      }
    }
    for (int64_t m = 0; m < 32; ++m) {
      for (int64_t k = 0; k < 256; ++k) {
        double dx = 0.0;
        for (int64_t n = 0; n < 160; ++n) {
          const float w = transposed ? weights.data()[k * 160 + n] : weights.data()[n * 256 + k];
          dx += double{dy[m * 160 + n]} * w;
        }
        ASSERT_NEAR(dx, input.diff()[m * 256 + k], 1e-4) << "dX " << m << "," << k;
      }
    }
  }
}

TEST_F(InnerProductTest, RejectsBadParametersAndShapes) {
  std::unique_ptr<Layer> no_outputs = MakeLayer("num_output: 0");
  EXPECT_THROW(no_outputs->SetUp({&bottom_}, {&top_}), Error);
  std::unique_ptr<Layer> bad_axis = MakeLayer("num_output: 2 axis: 4");
  EXPECT_THROW(bad_axis->SetUp({&bottom_}, {&top_}), Error);

  std::unique_ptr<Layer> layer = MakeLayer("num_output: 2");
  layer->SetUp({&bottom_}, {&top_});
  Blob other_size({2, 3, 4, 6});
  EXPECT_THROW(layer->Reshape({&other_size}, {&top_}), Error);
  Blob other_batch({5, 60});
  layer->Reshape({&other_batch}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{5, 2}), top_.shape());
}

}  // namespace
}  // namespace condense
