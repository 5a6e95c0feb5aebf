// Convolution: shapes and parameter blobs as Caffe makes them, values against a direct (no im2col)
// convolution and a hand-computed case, the N-d path against the 2-d one, numerical gradients for
// every option, and determinism with several threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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

std::unique_ptr<Layer> MakeLayer(const std::string& text) {
  LayerParameter param;
  ParseTextProto(text, "test layer", &param);
  return LayerRegistry::Create(param);
}

std::string ConvolutionText(const std::string& convolution_param) {
  return "name: 'conv' type: 'Convolution' convolution_param { " + convolution_param +
         " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 } }";
}

// A direct convolution over (N, C, D, H, W) with the same window rules as Caffe; a 2-d blob is the
// case D = 1 with a depth kernel of 1.
struct Window3d {
  std::vector<int64_t> kernel = {1, 1, 1};
  std::vector<int64_t> pad = {0, 0, 0};
  std::vector<int64_t> stride = {1, 1, 1};
  std::vector<int64_t> dilation = {1, 1, 1};
};

std::vector<int64_t> As5d(const std::vector<int64_t>& shape) {
  if (shape.size() == 5) return shape;
  return {shape[0], shape[1], 1, shape[2], shape[3]};
}

std::vector<float> DirectConvolution(const Blob& bottom, const Blob& weights, const Blob* bias,
                                     int64_t group, const Window3d& w,
                                     const std::vector<int64_t>& top_shape) {
  const std::vector<int64_t> in = As5d(bottom.shape());
  const std::vector<int64_t> out = As5d(top_shape);
  const int64_t in_per_group = in[1] / group;
  const int64_t out_per_group = out[1] / group;
  std::vector<float> result(out[0] * out[1] * out[2] * out[3] * out[4], 0.0f);
  const float* x = bottom.data();
  const float* k = weights.data();
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t o = 0; o < out[1]; ++o)
      for (int64_t z = 0; z < out[2]; ++z)
        for (int64_t y = 0; y < out[3]; ++y)
          for (int64_t xo = 0; xo < out[4]; ++xo) {
            double sum = bias ? bias->data()[o] : 0.0;
            const int64_t g = o / out_per_group;
            for (int64_t ci = 0; ci < in_per_group; ++ci)
              for (int64_t kz = 0; kz < w.kernel[0]; ++kz)
                for (int64_t ky = 0; ky < w.kernel[1]; ++ky)
                  for (int64_t kx = 0; kx < w.kernel[2]; ++kx) {
                    const int64_t iz = z * w.stride[0] - w.pad[0] + kz * w.dilation[0];
                    const int64_t iy = y * w.stride[1] - w.pad[1] + ky * w.dilation[1];
                    const int64_t ix = xo * w.stride[2] - w.pad[2] + kx * w.dilation[2];
                    if (iz < 0 || iz >= in[2] || iy < 0 || iy >= in[3] || ix < 0 || ix >= in[4]) {
                      continue;
                    }
                    const int64_t c = g * in_per_group + ci;
                    const float value = x[(((n * in[1] + c) * in[2] + iz) * in[3] + iy) * in[4] + ix];
                    const float weight =
                        k[(((o * in_per_group + ci) * w.kernel[0] + kz) * w.kernel[1] + ky) *
                              w.kernel[2] +
                          kx];
                    sum += double{value} * weight;
                  }
            result[(((n * out[1] + o) * out[2] + z) * out[3] + y) * out[4] + xo] =
                static_cast<float>(sum);
          }
  return result;
}

class ConvolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = ThreadCount();
    // Gradient checks run thousands of tiny passes: one thread keeps them quick; the tests that are
    // about threads set their own count.
    SetThreadCount(1);
    SeedRandom(1701);
    bottom_.Reshape({2, 3, 6, 4});
    FillGaussian(bottom_.count(), 0.0f, 1.0f, bottom_.mutable_data());
    bottom2_.Reshape({2, 3, 6, 4});
    FillGaussian(bottom2_.count(), 0.0f, 1.0f, bottom2_.mutable_data());
  }
  void TearDown() override { SetThreadCount(saved_threads_); }

  void ExpectMatchesDirect(const std::string& param, const Window3d& window, int64_t group,
                           bool bias = true) {
    SCOPED_TRACE(param);
    std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText(param));
    layer->SetUp({&bottom_}, {&top_});
    layer->Forward({&bottom_}, {&top_});
    const std::vector<float> expected = DirectConvolution(
        bottom_, *layer->blobs()[0], bias ? layer->blobs()[1].get() : nullptr, group, window,
        top_.shape());
    ASSERT_EQ(static_cast<int64_t>(expected.size()), top_.count());
    for (int64_t i = 0; i < top_.count(); ++i) ASSERT_NEAR(expected[i], top_.data()[i], 1e-4) << i;
  }

  Blob bottom_;
  Blob bottom2_;
  Blob top_;
  Blob top2_;
  int saved_threads_ = 1;
};

TEST_F(ConvolutionTest, SetUpShapesTopsAndParameterBlobsAsCaffe) {
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 4 kernel_size: 3 stride: 2"));
  layer->SetUp({&bottom_, &bottom2_}, {&top_, &top2_});
  EXPECT_EQ((std::vector<int64_t>{2, 4, 2, 1}), top_.shape());
  EXPECT_EQ((std::vector<int64_t>{2, 4, 2, 1}), top2_.shape());
  ASSERT_EQ(2u, layer->blobs().size());
  EXPECT_EQ((std::vector<int64_t>{4, 3, 3, 3}), layer->blobs()[0]->shape());
  EXPECT_EQ((std::vector<int64_t>{4}), layer->blobs()[1]->shape());

  std::unique_ptr<Layer> grouped =
      MakeLayer(ConvolutionText("num_output: 3 kernel_size: 3 stride: 2 group: 3 bias_term: false"));
  grouped->SetUp({&bottom_}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 3, 2, 1}), top_.shape());
  ASSERT_EQ(1u, grouped->blobs().size());
  EXPECT_EQ((std::vector<int64_t>{3, 1, 3, 3}), grouped->blobs()[0]->shape());
}

TEST_F(ConvolutionTest, OutputSizeUsesPadStrideAndDilation) {
  Blob image({1, 1, 28, 28});
  std::unique_ptr<Layer> layer =
      MakeLayer(ConvolutionText("num_output: 2 kernel_size: 5 pad: 2 stride: 3 dilation: 2"));
  layer->SetUp({&image}, {&top_});
  // (28 + 4 - (2 * 4 + 1)) / 3 + 1 = 8
  EXPECT_EQ((std::vector<int64_t>{1, 2, 8, 8}), top_.shape());
}

TEST_F(ConvolutionTest, HandComputedTwoChannelConvolution) {
  // Channel 0 holds 1..9, channel 1 ones; all weights 1, bias 0.5, 3x3 kernel with pad 1: each output
  // is the sum of its in-image neighbourhood over both channels plus 0.5.
  Blob image({1, 2, 3, 3});
  float* data = image.mutable_data();
  for (int i = 0; i < 9; ++i) data[i] = static_cast<float>(i + 1);
  for (int i = 9; i < 18; ++i) data[i] = 1.0f;
  std::unique_ptr<Layer> layer = MakeLayer(
      "name: 'conv' type: 'Convolution' convolution_param { num_output: 1 kernel_size: 3 pad: 1 "
      "weight_filler { type: 'constant' value: 1 } bias_filler { type: 'constant' value: 0.5 } }");
  layer->SetUp({&image}, {&top_});
  layer->Forward({&image}, {&top_});
  const std::vector<float> expected = {16.5f, 27.5f, 20.5f, 33.5f, 54.5f,
                                       39.5f, 28.5f, 45.5f, 32.5f};
  EXPECT_EQ(expected, std::vector<float>(top_.data(), top_.data() + top_.count()));
}

TEST_F(ConvolutionTest, ForwardMatchesDirectConvolution) {
  Window3d plain;
  plain.kernel = {1, 3, 3};
  plain.stride = {1, 2, 2};
  ExpectMatchesDirect("num_output: 4 kernel_size: 3 stride: 2", plain, 1);

  Window3d padded = plain;
  padded.pad = {0, 1, 1};
  padded.stride = {1, 1, 1};
  padded.dilation = {1, 2, 2};
  ExpectMatchesDirect("num_output: 5 kernel_size: 3 pad: 1 dilation: 2", padded, 1);

  Window3d rectangular;
  rectangular.kernel = {1, 3, 2};
  rectangular.pad = {0, 2, 1};
  rectangular.stride = {1, 2, 1};
  ExpectMatchesDirect(
      "num_output: 2 kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 1 stride_h: 2 stride_w: 1",
      rectangular, 1);

  Window3d grouped;
  grouped.kernel = {1, 2, 2};
  ExpectMatchesDirect("num_output: 6 kernel_size: 2 group: 3", grouped, 3);

  Window3d one_by_one;
  ExpectMatchesDirect("num_output: 7 kernel_size: 1", one_by_one, 1);
  ExpectMatchesDirect("num_output: 6 kernel_size: 1 group: 3 bias_term: false", one_by_one, 3,
                      false);
}

TEST_F(ConvolutionTest, ThreeDimensionalConvolutionMatchesDirect) {
  Blob volume({2, 2, 4, 5, 3});
  FillGaussian(volume.count(), 0.0f, 1.0f, volume.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText(
      "num_output: 3 kernel_size: 2 kernel_size: 3 kernel_size: 2 pad: 1 pad: 0 pad: 1 stride: 2 "
      "stride: 1 stride: 1"));
  layer->SetUp({&volume}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 3, 3, 3, 4}), top_.shape());
  EXPECT_EQ((std::vector<int64_t>{3, 2, 2, 3, 2}), layer->blobs()[0]->shape());
  layer->Forward({&volume}, {&top_});
  Window3d window;
  window.kernel = {2, 3, 2};
  window.pad = {1, 0, 1};
  window.stride = {2, 1, 1};
  const std::vector<float> expected =
      DirectConvolution(volume, *layer->blobs()[0], layer->blobs()[1].get(), 1, window, top_.shape());
  for (int64_t i = 0; i < top_.count(); ++i) ASSERT_NEAR(expected[i], top_.data()[i], 1e-4) << i;
}

TEST_F(ConvolutionTest, ForcedNdIm2ColGivesTheSameBits) {
  const std::string param = "num_output: 3 kernel_size: 3 pad: 1 stride: 2 dilation: 1";
  std::unique_ptr<Layer> fast = MakeLayer(ConvolutionText(param));
  std::unique_ptr<Layer> nd = MakeLayer(ConvolutionText(param + " force_nd_im2col: true"));
  fast->SetUp({&bottom_}, {&top_});
  nd->SetUp({&bottom_}, {&top2_});
  nd->blobs()[0]->CopyFrom(*fast->blobs()[0]);
  nd->blobs()[1]->CopyFrom(*fast->blobs()[1]);
  fast->Forward({&bottom_}, {&top_});
  nd->Forward({&bottom_}, {&top2_});
  ASSERT_EQ(0, std::memcmp(top_.data(), top2_.data(), sizeof(float) * top_.count()));

  top_.SetDiff(0.5f);
  top2_.SetDiff(0.5f);
  Blob bottom_copy;
  bottom_copy.CopyFrom(bottom_, false, true);
  fast->Backward({&top_}, {true}, {&bottom_});
  nd->Backward({&top2_}, {true}, {&bottom_copy});
  EXPECT_EQ(0, std::memcmp(bottom_.diff(), bottom_copy.diff(), sizeof(float) * bottom_.count()));
  EXPECT_EQ(0, std::memcmp(fast->blobs()[0]->diff(), nd->blobs()[0]->diff(),
                           sizeof(float) * fast->blobs()[0]->count()));
}

TEST_F(ConvolutionTest, AxisTwoTreatsLeadingAxesAsTheBatch) {
  Blob input({2, 3, 4, 5, 5});
  FillGaussian(input.count(), 0.0f, 1.0f, input.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 2 kernel_size: 3 axis: 2"));
  layer->SetUp({&input}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 3, 2, 3, 3}), top_.shape());
  layer->Forward({&input}, {&top_});
  Blob flat({6, 4, 5, 5});
  flat.ShareData(input);
  Window3d window;
  window.kernel = {1, 3, 3};
  const std::vector<float> expected = DirectConvolution(
      flat, *layer->blobs()[0], layer->blobs()[1].get(), 1, window, {6, 2, 3, 3});
  for (int64_t i = 0; i < top_.count(); ++i) ASSERT_NEAR(expected[i], top_.data()[i], 1e-4) << i;
}

TEST_F(ConvolutionTest, GradientTwoBottoms) {
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 2 kernel_size: 3 stride: 2"));
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_, &bottom2_}, {&top_, &top2_});
}

TEST_F(ConvolutionTest, GradientGroupDilationPad) {
  std::unique_ptr<Layer> layer = MakeLayer(
      ConvolutionText("num_output: 3 kernel_size: 2 group: 3 dilation: 2 pad: 1 stride: 1"));
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(ConvolutionTest, GradientRectangularWithoutBias) {
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText(
      "num_output: 2 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 2 stride_w: 1 "
      "bias_term: false"));
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom_}, {&top_});
}

TEST_F(ConvolutionTest, GradientOneByOne) {
  Blob small({2, 3, 3, 2});
  FillGaussian(small.count(), 0.0f, 1.0f, small.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 4 kernel_size: 1"));
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&small}, {&top_});
}

TEST_F(ConvolutionTest, GradientThreeDimensional) {
  Blob volume({2, 2, 3, 4, 3});
  FillGaussian(volume.count(), 0.0f, 1.0f, volume.mutable_data());
  std::unique_ptr<Layer> layer =
      MakeLayer(ConvolutionText("num_output: 2 kernel_size: 2 pad: 1 stride: 2"));
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&volume}, {&top_});
}

TEST_F(ConvolutionTest, GradientWithTwoThreads) {
  SetThreadCount(2);
  Blob batch({3, 2, 4, 3});
  FillGaussian(batch.count(), 0.0f, 1.0f, batch.mutable_data());
  std::unique_ptr<Layer> layer =
      MakeLayer(ConvolutionText("num_output: 2 kernel_size: 3 pad: 1 stride: 2"));
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradient(layer.get(), {&batch}, {&top_});
}

TEST_F(ConvolutionTest, ParameterGradientsRepeatBitForBitWithTwoThreads) {
  SetThreadCount(2);
  Blob batch({7, 3, 9, 8});
  FillGaussian(batch.count(), 0.0f, 1.0f, batch.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 8 kernel_size: 3 pad: 1"));
  layer->SetUp({&batch}, {&top_});
  layer->Forward({&batch}, {&top_});
  FillGaussian(top_.count(), 0.0f, 1.0f, top_.mutable_diff());
  std::vector<std::vector<float>> runs;
  for (int run = 0; run < 2; ++run) {
    for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
    layer->Backward({&top_}, {true}, {&batch});
    const Blob& weights = *layer->blobs()[0];
    runs.emplace_back(weights.diff(), weights.diff() + weights.count());
    runs.back().insert(runs.back().end(), layer->blobs()[1]->diff(),
                       layer->blobs()[1]->diff() + layer->blobs()[1]->count());
  }
  EXPECT_EQ(0, std::memcmp(runs[0].data(), runs[1].data(), sizeof(float) * runs[0].size()));

  // One thread sums in another order, but to the same values.
  SetThreadCount(1);
  for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
  layer->Backward({&top_}, {true}, {&batch});
  const Blob& weights = *layer->blobs()[0];
  for (int64_t i = 0; i < weights.count(); ++i) {
    EXPECT_NEAR(runs[0][i], weights.diff()[i], 1e-4f * std::max(1.0f, std::abs(runs[0][i])));
  }
}

TEST_F(ConvolutionTest, ParameterGradientsAccumulate) {
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 2 kernel_size: 3"));
  layer->SetUp({&bottom_}, {&top_});
  layer->Forward({&bottom_}, {&top_});
  top_.SetDiff(1.0f);
  for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
  layer->Backward({&top_}, {false}, {&bottom_});
  const float once = layer->blobs()[1]->diff()[0];
  layer->Backward({&top_}, {false}, {&bottom_});
  // 2 images with a 4x2 output each: the bias gradient grows by 16 per pass.
  EXPECT_FLOAT_EQ(16.0f, once);
  EXPECT_FLOAT_EQ(32.0f, layer->blobs()[1]->diff()[0]);
}

TEST_F(ConvolutionTest, RejectsBadParameters) {
  const std::vector<std::string> bad = {
      "num_output: 4 kernel_size: 3 group: 2",           // 3 channels do not divide into 2
      "num_output: 0 kernel_size: 3",                     // no outputs
      "num_output: 2",                                    // no kernel
      "num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3",  // both forms
      "num_output: 2 kernel_size: 3 kernel_size: 3 kernel_size: 3",  // 3 sizes for 2 axes
      "num_output: 2 kernel_size: 7",                     // larger than the 6x4 input
      "num_output: 2 kernel_size: 3 stride: 0",
  };
  for (const std::string& param : bad) {
    std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText(param));
    EXPECT_THROW(layer->SetUp({&bottom_}, {&top_}), Error) << param;
  }
}

TEST_F(ConvolutionTest, ReshapeRejectsAChangedChannelCount) {
  std::unique_ptr<Layer> layer = MakeLayer(ConvolutionText("num_output: 2 kernel_size: 3"));
  layer->SetUp({&bottom_}, {&top_});
  Blob other({2, 4, 6, 4});
  EXPECT_THROW(layer->Reshape({&other}, {&top_}), Error);
}

}  // namespace
}  // namespace condense
