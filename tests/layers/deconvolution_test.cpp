// Deconvolution: Caffe's shapes and weight layout, values against a direct scatter, the adjoint
// relation with Convolution under shared weights, and numerical gradients.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

std::unique_ptr<Layer> MakeLayer(const std::string& type, const std::string& convolution_param) {
  LayerParameter param;
  ParseTextProto("name: 'deconv' type: '" + type + "' convolution_param { " + convolution_param +
                     " weight_filler { type: 'gaussian' std: 0.5 }"
                     " bias_filler { type: 'gaussian' std: 0.5 } }",
                 "test layer", &param);
  return LayerRegistry::Create(param);
}

// Each bottom pixel scatters its kernel-weighted value onto the top window it spreads to.
std::vector<float> DirectDeconvolution(const Blob& bottom, const Blob& weights, const Blob* bias,
                                       int64_t group, int64_t kernel, int64_t pad, int64_t stride,
                                       int64_t dilation, const std::vector<int64_t>& top_shape) {
  const int64_t num = bottom.shape(0);
  const int64_t channels = bottom.shape(1);
  const int64_t height = bottom.shape(2);
  const int64_t width = bottom.shape(3);
  const int64_t outputs = top_shape[1];
  const int64_t top_h = top_shape[2];
  const int64_t top_w = top_shape[3];
  const int64_t in_per_group = channels / group;
  const int64_t out_per_group = outputs / group;
  std::vector<double> top(num * outputs * top_h * top_w, 0.0);
  for (int64_t n = 0; n < num; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) {
          const float value = bottom.data()[((n * channels + c) * height + y) * width + x];
          const int64_t g = c / in_per_group;
          for (int64_t oi = 0; oi < out_per_group; ++oi)
            for (int64_t ky = 0; ky < kernel; ++ky)
              for (int64_t kx = 0; kx < kernel; ++kx) {
                const int64_t ty = y * stride - pad + ky * dilation;
                const int64_t tx = x * stride - pad + kx * dilation;
                if (ty < 0 || ty >= top_h || tx < 0 || tx >= top_w) continue;
                const float weight = weights.data()[((c * out_per_group + oi) * kernel + ky) * kernel + kx];
                const int64_t o = g * out_per_group + oi;
                top[((n * outputs + o) * top_h + ty) * top_w + tx] += double{value} * weight;
              }
        }
  std::vector<float> result(top.size());
  for (size_t i = 0; i < top.size(); ++i) {
    const int64_t o = (static_cast<int64_t>(i) / (top_h * top_w)) % outputs;
    result[i] = static_cast<float>(top[i] + (bias ? bias->data()[o] : 0.0f));
  }
  return result;
}

class DeconvolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = ThreadCount();
    SetThreadCount(1);  // thousands of tiny passes in the gradient checks
    SeedRandom(1701);
    bottom_.Reshape({2, 3, 6, 4});
    FillGaussian(bottom_.count(), 0.0f, 1.0f, bottom_.mutable_data());
    small_.Reshape({2, 3, 3, 2});
    FillGaussian(small_.count(), 0.0f, 1.0f, small_.mutable_data());
  }
  void TearDown() override { SetThreadCount(saved_threads_); }

  Blob bottom_;
  Blob small_;
  Blob top_;
  int saved_threads_ = 1;
};

TEST_F(DeconvolutionTest, SetUpShapesTopsAndParameterBlobsAsCaffe) {
  std::unique_ptr<Layer> layer =
      MakeLayer("Deconvolution", "num_output: 4 kernel_size: 3 stride: 2");
  layer->SetUp({&bottom_}, {&top_});
  // stride * (in - 1) + kernel - 2 * pad
  EXPECT_EQ((std::vector<int64_t>{2, 4, 13, 9}), top_.shape());
  EXPECT_EQ((std::vector<int64_t>{3, 4, 3, 3}), layer->blobs()[0]->shape());
  EXPECT_EQ((std::vector<int64_t>{4}), layer->blobs()[1]->shape());

  std::unique_ptr<Layer> grouped =
      MakeLayer("Deconvolution", "num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 3");
  grouped->SetUp({&bottom_}, {&top_});
  EXPECT_EQ((std::vector<int64_t>{2, 6, 11, 7}), top_.shape());
  EXPECT_EQ((std::vector<int64_t>{3, 2, 3, 3}), grouped->blobs()[0]->shape());
}

TEST_F(DeconvolutionTest, ForwardMatchesDirectScatter) {
  struct Case {
    std::string param;
    int64_t group, kernel, pad, stride, dilation;
  };
  const std::vector<Case> cases = {
      {"num_output: 4 kernel_size: 3 stride: 2", 1, 3, 0, 2, 1},
      {"num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 3", 3, 3, 1, 2, 1},
      {"num_output: 2 kernel_size: 2 dilation: 2 pad: 1", 1, 2, 1, 1, 2},
      {"num_output: 5 kernel_size: 1", 1, 1, 0, 1, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.param);
    std::unique_ptr<Layer> layer = MakeLayer("Deconvolution", c.param);
    layer->SetUp({&bottom_}, {&top_});
    layer->Forward({&bottom_}, {&top_});
    const std::vector<float> expected =
        DirectDeconvolution(bottom_, *layer->blobs()[0], layer->blobs()[1].get(), c.group, c.kernel,
                            c.pad, c.stride, c.dilation, top_.shape());
    ASSERT_EQ(static_cast<int64_t>(expected.size()), top_.count());
    for (int64_t i = 0; i < top_.count(); ++i) ASSERT_NEAR(expected[i], top_.data()[i], 1e-4) << i;
  }
}

TEST_F(DeconvolutionTest, IsTheAdjointOfConvolutionWithSharedWeights) {
  // <conv(x), y> = <x, deconv(y)> when both use the same weight blob and no bias.
  // A 5x3 input is covered exactly by 3x3 windows with stride 2 and pad 1, so the shapes round-trip.
  Blob x({2, 3, 5, 3});
  FillGaussian(x.count(), 0.0f, 1.0f, x.mutable_data());
  std::unique_ptr<Layer> conv =
      MakeLayer("Convolution", "num_output: 4 kernel_size: 3 stride: 2 pad: 1 bias_term: false");
  Blob conv_top;
  conv->SetUp({&x}, {&conv_top});
  Blob y(conv_top.shape());
  FillGaussian(y.count(), 0.0f, 1.0f, y.mutable_data());
  std::unique_ptr<Layer> deconv =
      MakeLayer("Deconvolution", "num_output: 3 kernel_size: 3 stride: 2 pad: 1 bias_term: false");
  Blob deconv_top;
  deconv->SetUp({&y}, {&deconv_top});
  ASSERT_EQ(x.shape(), deconv_top.shape());
  ASSERT_EQ(conv->blobs()[0]->shape(), deconv->blobs()[0]->shape());
  deconv->blobs()[0]->CopyFrom(*conv->blobs()[0]);
  conv->Forward({&x}, {&conv_top});
  deconv->Forward({&y}, {&deconv_top});
  double lhs = 0.0;
  double rhs = 0.0;
  for (int64_t i = 0; i < y.count(); ++i) lhs += double{conv_top.data()[i]} * y.data()[i];
  for (int64_t i = 0; i < x.count(); ++i) rhs += double{x.data()[i]} * deconv_top.data()[i];
  EXPECT_NEAR(lhs, rhs, 1e-3);
}

TEST_F(DeconvolutionTest, Gradient) {
  std::unique_ptr<Layer> layer = MakeLayer("Deconvolution", "num_output: 2 kernel_size: 2 stride: 2");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&small_}, {&top_});
}

TEST_F(DeconvolutionTest, GradientGroupPadDilation) {
  std::unique_ptr<Layer> layer = MakeLayer(
      "Deconvolution", "num_output: 3 kernel_size: 3 stride: 1 pad: 1 dilation: 2 group: 3");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&small_}, {&top_});
}

TEST_F(DeconvolutionTest, GradientOneByOneWithoutBias) {
  std::unique_ptr<Layer> layer =
      MakeLayer("Deconvolution", "num_output: 2 kernel_size: 1 bias_term: false");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&small_}, {&top_});
}

TEST_F(DeconvolutionTest, GradientThreeDimensional) {
  Blob volume({2, 1, 2, 2, 2});
  FillGaussian(volume.count(), 0.0f, 1.0f, volume.mutable_data());
  std::unique_ptr<Layer> layer = MakeLayer("Deconvolution", "num_output: 2 kernel_size: 2");
  testing::GradientChecker checker(1e-2f, 1e-3f);
  checker.CheckGradientExhaustive(layer.get(), {&volume}, {&top_});
}

TEST_F(DeconvolutionTest, TwoThreadsGiveTheSameGradients) {
  Blob batch({5, 3, 4, 4});
  FillGaussian(batch.count(), 0.0f, 1.0f, batch.mutable_data());
  std::unique_ptr<Layer> layer =
      MakeLayer("Deconvolution", "num_output: 4 kernel_size: 3 stride: 2 pad: 1");
  layer->SetUp({&batch}, {&top_});
  FillGaussian(top_.count(), 0.0f, 1.0f, top_.mutable_diff());
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    SetThreadCount(threads);
    for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
    layer->Forward({&batch}, {&top_});
    layer->Backward({&top_}, {true}, {&batch});
    std::vector<float> run(top_.data(), top_.data() + top_.count());
    for (const Blob* blob : {&batch, layer->blobs()[0].get(), layer->blobs()[1].get()}) {
      run.insert(run.end(), blob->diff(), blob->diff() + blob->count());
    }
    runs.push_back(run);
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (size_t i = 0; i < runs[0].size(); ++i) {
    EXPECT_NEAR(runs[0][i], runs[1][i], 1e-4f * std::max(1.0f, std::abs(runs[0][i]))) << i;
  }
}

}  // namespace
}  // namespace condense
