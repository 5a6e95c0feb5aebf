// Convolution and InnerProduct with accumulator_bits: a wide accumulator gives exactly the float
// layer's outputs (on values where float is exact) and its gradients, at every thread count; a narrow
// one saturates its running sums in the reduction order, as computed by hand, and the wrapper's report
// counts the sums that overflowed. Layers that cannot take the integer path refuse the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "condense/quant/layer_quantizer.hpp"
#include "layer_test_helpers.hpp"

namespace condense {
namespace {

using testing::FillUniformBlob;
using testing::Gradients;
using testing::Values;

// A layer with its quantization_param attached, as the Net does.
std::unique_ptr<Layer> MakeQuantizedLayer(const std::string& text, Phase phase = TEST) {
  const LayerParameter param = testing::ParseLayer(text, phase);
  std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
  layer->set_quantization(MakeLayerQuantization(param, "test.prototxt"));
  return layer;
}

// The report's accumulator line (empty, with a failure, when there is none).
TensorQuantizationReport AccumulatorReport(const Layer& layer) {
  for (const TensorQuantizationReport& report : layer.quantization()->Reports()) {
    if (report.tensor == "accumulator") return report;
  }
  ADD_FAILURE() << "no accumulator line in the report";
  return {};
}

// Inputs on an 8-bit grid with fl 4 and 6-bit weights with fl 4: every product is a multiple of 2^-8
// below 2^12 steps, so float sums of a few dozen are exact in any order and both paths must agree
// bit for bit. Outputs stay float to compare the sums themselves.
const char* kFormats = R"(
    bw_layer_in: 8 fl_layer_in: 4 bw_params: 6 fl_params: 4 quantize_outputs: false)";

std::string WithAccumulator(const std::string& layer, const std::string& accumulator) {
  return layer + " quantization_param { " + kFormats + " " + accumulator + " }";
}

void ExpectSameForwardAndBackward(const std::string& layer_text, Blob* bottom) {
  auto integer = MakeQuantizedLayer(WithAccumulator(layer_text, "accumulator_bits: 32"), TRAIN);
  auto floating = MakeQuantizedLayer(WithAccumulator(layer_text, ""), TRAIN);
  Blob integer_top, float_top;
  integer->SetUp({bottom}, {&integer_top});
  floating->SetUp({bottom}, {&float_top});
  for (size_t b = 0; b < integer->blobs().size(); ++b) {
    FillUniformBlob(integer->blobs()[b].get(), -2.0f, 2.0f, 40 + b);
    floating->blobs()[b]->CopyFrom(*integer->blobs()[b]);
  }
  integer->quantization()->set_collect_stats(true);
  floating->Forward({bottom}, {&float_top});
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    SetThreadCount(threads);
    integer->Forward({bottom}, {&integer_top});
    ASSERT_EQ(Values(float_top), Values(integer_top));
  }

  // The same top gradient through both: the backward is the float straight-through one either way.
  Blob top_gradient;
  top_gradient.ReshapeLike(float_top);
  FillUniformBlob(&top_gradient, -1.0f, 1.0f, 50);
  auto gradients_of = [&](Layer* layer, Blob* top) {
    std::copy(top_gradient.data(), top_gradient.data() + top_gradient.count(), top->mutable_diff());
    bottom->SetDiff(0.0f);
    for (auto& blob : layer->blobs()) blob->SetDiff(0.0f);
    layer->Backward({top}, {true}, {bottom});
    std::vector<std::vector<float>> gradients = {Gradients(*bottom)};
    for (auto& blob : layer->blobs()) gradients.push_back(Gradients(*blob));
    return gradients;
  };
  EXPECT_EQ(gradients_of(floating.get(), &float_top), gradients_of(integer.get(), &integer_top));

  const TensorQuantizationReport accumulator = AccumulatorReport(*integer);
  EXPECT_EQ("acc 32b fl 8", accumulator.format);
  EXPECT_EQ(3 * integer_top.count(), accumulator.stats.count) << "one value per sum and forward";
  EXPECT_EQ(0, accumulator.stats.saturated);
}

class AccumulatorLayersTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_threads_ = ThreadCount(); }
  void TearDown() override { SetThreadCount(saved_threads_); }
  int saved_threads_ = 1;
};

TEST_F(AccumulatorLayersTest, WideAccumulatorGivesTheFloatConvolution) {
  Blob bottom({3, 4, 6, 5});
  FillUniformBlob(&bottom, -4.0f, 4.0f);
  ExpectSameForwardAndBackward(
      "type: 'ConvolutionRistretto' convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 2 }",
      &bottom);
  ExpectSameForwardAndBackward(
      "type: 'Convolution' convolution_param { num_output: 4 kernel_h: 2 kernel_w: 3 group: 2 "
      "dilation: 2 bias_term: false }",
      &bottom);
  ExpectSameForwardAndBackward("type: 'Convolution' convolution_param { num_output: 3 kernel_size: 1 }",
                               &bottom);
}

TEST_F(AccumulatorLayersTest, WideAccumulatorGivesTheFloatInnerProduct) {
  Blob bottom({5, 2, 3, 2});
  FillUniformBlob(&bottom, -4.0f, 4.0f);
  ExpectSameForwardAndBackward("type: 'FcRistretto' inner_product_param { num_output: 7 }", &bottom);
  ExpectSameForwardAndBackward(
      "type: 'InnerProduct' inner_product_param { num_output: 3 transpose: true bias_term: false }",
      &bottom);
  Blob vector({1, 9});
  FillUniformBlob(&vector, -4.0f, 4.0f);
  ExpectSameForwardAndBackward("type: 'InnerProduct' inner_product_param { num_output: 2 }", &vector);
}

// Integer codes (fl 0), a 4-bit accumulator: [-8, 7].
const char* kNarrow = R"(
    quantization_param { bw_layer_in: 8 fl_layer_in: 0 bw_params: 8 fl_params: 0 bw_layer_out: 16
                         fl_layer_out: 0 accumulator_bits: 4 })";

TEST_F(AccumulatorLayersTest, NarrowAccumulatorSaturatesConvolutionSumsInIm2colOrder) {
  auto layer = MakeQuantizedLayer(
      std::string("name: 'conv' type: 'Convolution' ") +
      "convolution_param { num_output: 2 kernel_size: 2 }" + kNarrow);
  Blob bottom({2, 1, 2, 2});  // image 0: rows (3, 3) and (-3, 1); image 1: zeros
  const float image[] = {3, 3, -3, 1};
  std::copy(image, image + 4, bottom.mutable_data());
  Blob top;
  layer->SetUp({&bottom}, {&top});
  // Channel 0: products 6, 3, -6, 1 in order (row 0 then row 1, column by column): 6, 9 -> 7
  // (saturated), 1, 2; the exact sum would be 4. Channel 1: 3, 6, 3, 4 with a bias of 0 -> 4, and
  // with a bias of -1: 2, 5, 2, 3.
  const float weights[] = {2, 1, 2, 1, 1, 1, 1, 1};
  std::copy(weights, weights + 8, layer->blobs()[0]->mutable_data());
  layer->blobs()[1]->mutable_data()[0] = 0.0f;
  layer->blobs()[1]->mutable_data()[1] = -1.0f;
  layer->quantization()->set_collect_stats(true);
  layer->Forward({&bottom}, {&top});
  EXPECT_EQ((std::vector<float>{2, 3, 0, -1}), Values(top));

  const TensorQuantizationReport accumulator = AccumulatorReport(*layer);
  EXPECT_EQ("acc 4b fl 0", accumulator.format);
  EXPECT_EQ(4, accumulator.stats.count);
  EXPECT_EQ(1, accumulator.stats.saturated);
  EXPECT_DOUBLE_EQ(0.25, accumulator.stats.SaturatedShare());
  EXPECT_DOUBLE_EQ(4.0, accumulator.stats.noise_energy) << "2 instead of 4";
}

TEST_F(AccumulatorLayersTest, NarrowAccumulatorSaturatesInnerProductSumsInInputOrder) {
  for (const char* transpose : {"false", "true"}) {
    SCOPED_TRACE(transpose);
    auto layer = MakeQuantizedLayer(
        std::string("name: 'fc' type: 'InnerProduct' inner_product_param { num_output: 1 bias_term: "
                    "false transpose: ") + transpose + " }" + kNarrow);
    Blob bottom({2, 3});
    const float inputs[] = {5, 5, -5, -5, 5, 5};  // 5, 10 -> 7, 2; and -5, 0, 5
    std::copy(inputs, inputs + 6, bottom.mutable_data());
    Blob top;
    layer->SetUp({&bottom}, {&top});
    layer->blobs()[0]->SetData(1.0f);
    layer->quantization()->set_collect_stats(true);
    layer->Forward({&bottom}, {&top});
    EXPECT_EQ((std::vector<float>{2, 5}), Values(top));
    EXPECT_EQ(2, AccumulatorReport(*layer).stats.count);
    EXPECT_EQ(1, AccumulatorReport(*layer).stats.saturated);
  }
}

TEST_F(AccumulatorLayersTest, ActivationsKeptFloatInTrainKeepTheFloatPath) {
  auto layer = MakeQuantizedLayer(
      "name: 'fc' type: 'InnerProduct' inner_product_param { num_output: 1 bias_term: false }"
      " quantization_param { bw_layer_in: 8 fl_layer_in: 0 bw_params: 8 fl_params: 0"
      " bw_layer_out: 16 fl_layer_out: 0 accumulator_bits: 4 quantize_activations_in_train: false }",
      TRAIN);
  Blob bottom({1, 3});
  const float inputs[] = {5, 5, -5};
  std::copy(inputs, inputs + 3, bottom.mutable_data());
  Blob top;
  layer->SetUp({&bottom}, {&top});
  layer->blobs()[0]->SetData(1.0f);
  layer->Forward({&bottom}, {&top});
  EXPECT_EQ(5.0f, top.data()[0]) << "float inputs have no codes: no accumulator to simulate";
}

TEST_F(AccumulatorLayersTest, NaNInputsStopTheForwardWithTheLayersName) {
  auto layer = MakeQuantizedLayer(
      std::string("name: 'fc' type: 'InnerProduct' inner_product_param { num_output: 1 }") + kNarrow);
  Blob bottom({1, 3});
  bottom.mutable_data()[1] = std::numeric_limits<float>::quiet_NaN();
  Blob top;
  layer->SetUp({&bottom}, {&top});
  try {
    layer->Forward({&bottom}, {&top});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string::npos, std::string(error.what()).find("layer 'fc' (InnerProduct): "
                                                                "accumulator_bits: input 0 holds NaN"))
        << error.what();
  }
}

TEST_F(AccumulatorLayersTest, OtherLayersRefuseTheField) {
  for (const char* text :
       {"name: 'deconv' type: 'DeconvolutionRistretto' convolution_param { num_output: 2 kernel_size: 1 }",
        "name: 'pool' type: 'Pooling' pooling_param { pool: MAX kernel_size: 2 }",
        "name: 'scale' type: 'Scale' scale_param { bias_term: true }"}) {
    SCOPED_TRACE(text);
    auto layer = MakeQuantizedLayer(std::string(text) +
                                    " quantization_param { bw_layer_in: 8 accumulator_bits: 16 }");
    Blob bottom({1, 1, 4, 4});
    Blob top;
    try {
      layer->SetUp({&bottom}, {&top});
      FAIL() << "no error";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(std::string::npos, message.find("test.prototxt: layer '")) << message;
      EXPECT_NE(std::string::npos,
                message.find("accumulator_bits applies to Convolution and InnerProduct layers only"))
          << message;
    }
  }
}

}  // namespace
}  // namespace condense
