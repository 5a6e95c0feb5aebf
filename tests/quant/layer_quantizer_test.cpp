// The quantization mechanism on real layers: formats read with Ristretto's meaning, inputs quantized
// into the wrapper's own buffers, weights swapped, outputs in place, gradients straight through.
#include "condense/quant/layer_quantizer.hpp"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/core/parallel.hpp"
#include "condense/core/random.hpp"
#include "condense/net/layer_registry.hpp"
#include "condense/net/net.hpp"
#include "support/gradient_checker.hpp"

namespace condense {
namespace {

LayerParameter ParseLayer(const std::string& text) {
  LayerParameter param;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  return param;
}

QuantizationParameter ParseQuant(const std::string& text) {
  QuantizationParameter param;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  return param;
}

std::string ErrorOf(const QuantizationParameter& param) {
  try {
    ReadLayerFormats(param, "net.prototxt: layer 'conv1'");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

std::unique_ptr<Layer> MakeLayer(const std::string& text) {
  const LayerParameter param = ParseLayer(text);
  std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
  layer->set_quantization(MakeLayerQuantization(param, "test.prototxt"));
  return layer;
}

TEST(LayerFormatsTest, RistrettoMeaningOfEachPrecision) {
  const LayerFormats fixed = ReadLayerFormats(
      ParseQuant("bw_layer_in: 8 fl_layer_in: 7 bw_layer_out: 6 fl_layer_out: 2 bw_params: 4 fl_params: 3"),
      "x");
  EXPECT_EQ(7, std::get<DynamicFixedPoint>(fixed.input.format()).fractional_bits);
  EXPECT_EQ(6, std::get<DynamicFixedPoint>(fixed.output.format()).bit_width);
  EXPECT_EQ(4, std::get<DynamicFixedPoint>(fixed.weights.format()).bit_width);
  EXPECT_EQ(4, std::get<DynamicFixedPoint>(fixed.bias.format()).bit_width) << "biases share bw_params";

  const LayerFormats pow2 = ReadLayerFormats(
      ParseQuant("precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -6 exp_max: -1 bw_layer_in: 8 "
                 "fl_layer_in: 4 bw_layer_out: 8 fl_layer_out: 3"),
      "x");
  EXPECT_EQ(-6, std::get<PowerOfTwo>(pow2.weights.format()).min_exponent);
  EXPECT_TRUE(pow2.bias.is_float()) << "Ristretto keeps biases in float for power-of-two weights";
  EXPECT_EQ(8, std::get<DynamicFixedPoint>(pow2.input.format()).bit_width);

  const LayerFormats mini = ReadLayerFormats(ParseQuant("precision: MINIFLOAT mant_bits: 3 exp_bits: 4"), "x");
  EXPECT_EQ(3, std::get<Minifloat>(mini.input.format()).mantissa_bits);
  EXPECT_EQ(4, std::get<Minifloat>(mini.bias.format()).exponent_bits);

  const LayerFormats separate_bias = ReadLayerFormats(
      ParseQuant("bw_params: 4 fl_params: 3 bw_bias: 16 fl_bias: 10 rounding_scheme: STOCHASTIC"), "x");
  EXPECT_EQ(16, std::get<DynamicFixedPoint>(separate_bias.bias.format()).bit_width);
  EXPECT_EQ(Rounding::kStochastic, separate_bias.weights.rounding());
}

// params_precision gives the weights their own format, read from the fields of that precision, while
// the inputs and outputs keep `precision`.
TEST(LayerFormatsTest, ParamsPrecisionGivesTheWeightsTheirOwnFormat) {
  const LayerFormats affine_weights = ReadLayerFormats(
      ParseQuant("bw_layer_in: 8 fl_layer_in: 4 bw_layer_out: 8 fl_layer_out: 2 "
                 "params_precision: INTEGER_AFFINE bw_params: 2 affine_symmetric: false per_channel: true"),
      "x");
  EXPECT_EQ(4, std::get<DynamicFixedPoint>(affine_weights.input.format()).fractional_bits);
  EXPECT_EQ(2, std::get<DynamicFixedPoint>(affine_weights.output.format()).fractional_bits);
  const auto& weights = std::get<AffineFromData>(affine_weights.weights.format());
  EXPECT_EQ(2, weights.scheme.bits);
  EXPECT_TRUE(weights.per_channel);
  EXPECT_TRUE(affine_weights.per_channel);
  EXPECT_TRUE(affine_weights.bias.is_float()) << "affine biases stay float unless bw_bias is set";

  const LayerFormats with_bias = ReadLayerFormats(
      ParseQuant("params_precision: INTEGER_AFFINE bw_params: 4 bw_bias: 32 fl_bias: 12"), "x");
  EXPECT_EQ(32, std::get<DynamicFixedPoint>(with_bias.bias.format()).bit_width);

  const LayerFormats pow2_weights = ReadLayerFormats(
      ParseQuant("precision: MINIFLOAT exp_bits: 4 mant_bits: 3 "
                 "params_precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -7 exp_max: 0"),
      "x");
  EXPECT_EQ(3, std::get<Minifloat>(pow2_weights.input.format()).mantissa_bits);
  EXPECT_EQ(-7, std::get<PowerOfTwo>(pow2_weights.weights.format()).min_exponent);

  // The same precision twice is what Ristretto's single field says.
  const LayerFormats same = ReadLayerFormats(
      ParseQuant("bw_params: 4 fl_params: 3 params_precision: DYNAMIC_FIXED_POINT"), "x");
  EXPECT_EQ(3, std::get<DynamicFixedPoint>(same.weights.format()).fractional_bits);
  EXPECT_EQ(3, std::get<DynamicFixedPoint>(same.bias.format()).fractional_bits);
}

TEST(LayerFormatsTest, BadValuesNameTheFileLayerAndField) {
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {"bw_params: 0", "bw_params"},
           {"bw_layer_in: 33", "bw_layer_in"},
           {"bw_layer_out: 4294967295", "bw_layer_out"},  // -1 written into the unsigned field
           {"precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -1 exp_max: -4", "exp_min"},
           {"precision: MINIFLOAT exp_bits: 9 mant_bits: 3", "exp_bits"},
           {"precision: MINIFLOAT exp_bits: 4 mant_bits: 40", "mant_bits"},
           {"per_channel: true", "per_channel"},
           {"accumulator_bits: 1", "accumulator_bits"},
           {"accumulator_bits: 65", "accumulator_bits = 65"},
           // The integer accumulator multiplies codes: only dynamic fixed point has them.
           {"precision: MINIFLOAT exp_bits: 4 mant_bits: 3 accumulator_bits: 16", "MINIFLOAT"},
           {"precision: INTEGER_POWER_OF_2_WEIGHTS accumulator_bits: 16", "INTEGER_POWER_OF_2_WEIGHTS"},
           {"precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 accumulator_bits: 16",
            "INTEGER_AFFINE"},
           // per_channel and the accumulator look at the weights' precision.
           {"precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 "
            "params_precision: DYNAMIC_FIXED_POINT per_channel: true",
            "per_channel"},
           {"params_precision: INTEGER_AFFINE bw_params: 4 accumulator_bits: 16", "params_precision"},
           {"params_precision: INTEGER_AFFINE bw_params: 0", "bw_params"},
           {"accumulator_bits: 16 quantize_inputs: false", "quantize_inputs"},
           {"accumulator_bits: 16 quantize_params: false", "quantize_params"},
           // One end of a range alone would fall back to each batch's range without a word.
           {"precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 range_in_max: 2",
            "range_in_min and range_in_max"},
           {"precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 range_out_min: -1",
            "range_out_min and range_out_max"}}) {
    const std::string message = ErrorOf(ParseQuant(text));
    EXPECT_NE(std::string::npos, message.find("net.prototxt: layer 'conv1'")) << text << ": " << message;
    EXPECT_NE(std::string::npos, message.find(field)) << text << ": " << message;
  }
}

// Widths of tensors a switch leaves float are not read, so their defaults (32) need no affine meaning.
TEST(LayerFormatsTest, AffineWidthsOfFloatTensorsAreNotRead) {
  const LayerFormats formats = ReadLayerFormats(
      ParseQuant("precision: INTEGER_AFFINE bw_layer_out: 8 quantize_inputs: false quantize_params: false"),
      "x");
  EXPECT_TRUE(formats.input.is_float());
  EXPECT_TRUE(formats.weights.is_float());
  EXPECT_FALSE(formats.output.is_float());
}

// Per-tensor ranges taken from the data leave infinities out, as per-channel ones do: the finite values
// keep their resolution and the infinity saturates.
TEST(LayerFormatsTest, AffineRangeFromDataSkipsInfinities) {
  const LayerFormats formats =
      ReadLayerFormats(ParseQuant("precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8"), "x");
  const float in[4] = {-1.0f, 0.5f, 1.0f, std::numeric_limits<float>::infinity()};
  float out[4];
  EXPECT_EQ(1, formats.input.Apply(in, out, 4, 1, 0, nullptr));
  EXPECT_NEAR(-1.0f, out[0], 0.01f);
  EXPECT_NEAR(0.5f, out[1], 0.01f);
  EXPECT_NEAR(1.0f, out[3], 0.01f);
}

TEST(LayerQuantizerTest, PerChannelNeedsAChannelAxisAndSomethingMustBeQuantized) {
  auto pooling = MakeLayer(R"(name: "pool" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }
      quantization_param { precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 per_channel: true })");
  Blob bottom({1, 1, 4, 4});
  Blob top;
  EXPECT_THROW(pooling->SetUp({&bottom}, {&top}), Error);
  auto silence = MakeLayer(R"(name: "quiet" type: "Silence" quantization_param { bw_layer_in: 8 })");
  try {
    silence->SetUp({&bottom}, {});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string::npos, std::string(error.what()).find("nothing to quantize")) << error.what();
  }
}

const char* kQuantizedInnerProduct = R"(
  name: "fc" type: "FcRistretto"
  inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 }
                        bias_filler { type: "gaussian" std: 0.5 } }
  quantization_param { bw_layer_in: 6 fl_layer_in: 3 bw_layer_out: 6 fl_layer_out: 2
                       bw_params: 5 fl_params: 3 clipped_gradient: PASS })";

TEST(LayerQuantizerTest, ForwardEqualsFloatLayerOnQuantizedValues) {
  SeedRandom(5);
  auto layer = MakeLayer(kQuantizedInnerProduct);
  EXPECT_STREQ("InnerProduct", layer->type());
  Blob bottom({4, 5});
  FillGaussian(bottom.count(), 0.0f, 2.0f, bottom.mutable_data());
  Blob original;
  original.CopyFrom(bottom, false, true);
  Blob top;
  layer->SetUp({&bottom}, {&top});
  const std::vector<float> float_weights(layer->blobs()[0]->data(),
                                         layer->blobs()[0]->data() + layer->blobs()[0]->count());
  layer->Forward({&bottom}, {&top});
  // Inputs are quantized into the wrapper's own buffer, never in place, and the weights stay float.
  for (int64_t i = 0; i < bottom.count(); ++i) EXPECT_EQ(original.data()[i], bottom.data()[i]);
  for (size_t i = 0; i < float_weights.size(); ++i) EXPECT_EQ(float_weights[i], layer->blobs()[0]->data()[i]);

  const DynamicFixedPoint in{6, 3}, out{6, 2}, params{5, 3};
  for (int n = 0; n < 4; ++n) {
    for (int o = 0; o < 3; ++o) {
      float sum = params.Quantize(layer->blobs()[1]->data()[o]);
      for (int k = 0; k < 5; ++k) {
        sum += in.Quantize(bottom.data()[n * 5 + k]) * params.Quantize(float_weights[o * 5 + k]);
      }
      EXPECT_FLOAT_EQ(out.Quantize(sum), top.data()[n * 3 + o]) << "sample " << n << " output " << o;
    }
  }
}

// Convolution and InnerProduct apply the output format in their bias pass (FusibleOutputFormat); with
// statistics on, the wrapper's own pass does it. Both must give the same values, and the same clipped
// gradients in training.
TEST(LayerQuantizerTest, OutputsQuantizedInTheBiasPassEqualTheWrappersPass) {
  const std::string quantization =
      " quantization_param { bw_layer_in: 8 fl_layer_in: 4 bw_layer_out: 5 fl_layer_out: 2 "
      "bw_params: 6 fl_params: 4 } phase: TRAIN";
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {R"(name: "c" type: "Convolution" convolution_param { num_output: 6 kernel_size: 3
          weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 1 } })",
       {3, 2, 7, 7}},
      {R"(name: "c" type: "Convolution" convolution_param { num_output: 4 kernel_size: 1
          bias_term: false weight_filler { type: "gaussian" std: 0.5 } })",
       {2, 3, 5, 5}},
      {R"(name: "f" type: "InnerProduct" inner_product_param { num_output: 7
          weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 1 } })",
       {5, 9}},
      {R"(name: "f" type: "InnerProduct" inner_product_param { num_output: 7
          weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 1 } })",
       {1, 9}},
      // 32 768 outputs per image: the kernel that quantizes one image splits it over threads from
      // inside the layer's own loop over images, where OpenMP gives it a team of one.
      {R"(name: "c" type: "Convolution" convolution_param { num_output: 32 kernel_size: 1
          weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 1 } })",
       {2, 1, 32, 32}},
  };
  const int saved_threads = ThreadCount();
  SetThreadCount(2);
  for (const auto& [text, shape] : cases) {
    SeedRandom(21);
    auto fused = MakeLayer(text + quantization);
    auto separate = MakeLayer(text + quantization);
    separate->quantization()->set_collect_stats(true);
    Blob bottom(shape);
    FillGaussian(bottom.count(), 0.0f, 3.0f, bottom.mutable_data());
    Blob top_fused, top_separate;
    fused->SetUp({&bottom}, {&top_fused});
    separate->SetUp({&bottom}, {&top_separate});
    for (size_t b = 0; b < fused->blobs().size(); ++b) separate->blobs()[b]->CopyFrom(*fused->blobs()[b]);
    ASSERT_NE(nullptr, fused->quantization()->FusibleOutputFormat()) << text;
    EXPECT_EQ(nullptr, separate->quantization()->FusibleOutputFormat()) << "statistics need the pass";
    fused->Forward({&bottom}, {&top_fused});
    separate->Forward({&bottom}, {&top_separate});
    int64_t saturated = 0;
    for (int64_t i = 0; i < top_fused.count(); ++i) {
      ASSERT_EQ(top_separate.data()[i], top_fused.data()[i]) << text << " output " << i;
      saturated += (top_fused.data()[i] >= 3.75f || top_fused.data()[i] <= -4.0f) ? 1 : 0;
    }
    EXPECT_GT(saturated, 0) << "the case must clip some outputs";
    // The clipped-gradient rule needs to know which outputs saturated, fused or not.
    top_fused.SetDiff(-1.0f);
    top_separate.SetDiff(-1.0f);
    Blob diff_fused, diff_separate;
    fused->Backward({&top_fused}, {true}, {&bottom});
    diff_fused.CopyFrom(bottom, true, true);
    separate->Backward({&top_separate}, {true}, {&bottom});
    diff_separate.CopyFrom(bottom, true, true);
    for (int64_t i = 0; i < bottom.count(); ++i) {
      ASSERT_EQ(diff_separate.diff()[i], diff_fused.diff()[i]) << text << " input gradient " << i;
    }
  }
  SetThreadCount(saved_threads);
}

TEST(LayerQuantizerTest, GradientsPassStraightThroughToTheFloatWeights) {
  SeedRandom(6);
  auto quantized = MakeLayer(kQuantizedInnerProduct);
  Blob bottom({4, 5});
  FillGaussian(bottom.count(), 0.0f, 2.0f, bottom.mutable_data());
  Blob top;
  quantized->SetUp({&bottom}, {&top});
  quantized->Forward({&bottom}, {&top});
  FillGaussian(top.count(), 0.0f, 1.0f, top.mutable_diff());
  quantized->blobs()[0]->SetDiff(0.0f);
  quantized->blobs()[1]->SetDiff(0.0f);
  quantized->Backward({&top}, {true}, {&bottom});

  // The straight-through estimator: the float layer's gradients at the quantized input and weights.
  auto plain = LayerRegistry::Create(ParseLayer(R"(name: "fc" type: "InnerProduct"
      inner_product_param { num_output: 3 })"));
  Blob plain_bottom({4, 5});
  const DynamicFixedPoint in{6, 3}, params{5, 3};
  for (int64_t i = 0; i < bottom.count(); ++i) plain_bottom.mutable_data()[i] = in.Quantize(bottom.data()[i]);
  Blob plain_top;
  plain->SetUp({&plain_bottom}, {&plain_top});
  for (int b = 0; b < 2; ++b) {
    for (int64_t i = 0; i < plain->blobs()[b]->count(); ++i) {
      plain->blobs()[b]->mutable_data()[i] = params.Quantize(quantized->blobs()[b]->data()[i]);
    }
    plain->blobs()[b]->SetDiff(0.0f);
  }
  plain->Forward({&plain_bottom}, {&plain_top});
  Copy(top.count(), top.diff(), plain_top.mutable_diff());
  plain->Backward({&plain_top}, {true}, {&plain_bottom});
  for (int64_t i = 0; i < bottom.count(); ++i) EXPECT_FLOAT_EQ(plain_bottom.diff()[i], bottom.diff()[i]);
  for (int b = 0; b < 2; ++b) {
    for (int64_t i = 0; i < plain->blobs()[b]->count(); ++i) {
      EXPECT_FLOAT_EQ(plain->blobs()[b]->diff()[i], quantized->blobs()[b]->diff()[i]);
    }
  }
}

// With a fine format the quantizers are nearly the identity: numerical gradients of the quantized layer
// must then agree with the straight-through ones.
TEST(LayerQuantizerTest, GradientCheckQuantizedConvolution) {
  SeedRandom(7);
  auto layer = MakeLayer(R"(name: "conv" type: "ConvolutionRistretto"
      convolution_param { num_output: 3 kernel_size: 3 pad: 1 stride: 2
                          weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.3 } }
      quantization_param { bw_layer_in: 24 fl_layer_in: 16 bw_layer_out: 24 fl_layer_out: 16
                           bw_params: 24 fl_params: 16 })");
  Blob bottom({2, 2, 5, 5});
  FillGaussian(bottom.count(), 0.0f, 1.0f, bottom.mutable_data());
  Blob top;
  testing::GradientChecker checker(1e-2f, 1e-2f);
  checker.CheckGradient(layer.get(), {&bottom}, {&top});
}

TEST(LayerQuantizerTest, GradientCheckQuantizedInnerProduct) {
  SeedRandom(8);
  auto layer = MakeLayer(R"(name: "fc" type: "FcRistretto"
      inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.3 } }
      quantization_param { bw_layer_in: 24 fl_layer_in: 16 bw_layer_out: 24 fl_layer_out: 16
                           bw_params: 24 fl_params: 16 })");
  Blob bottom({3, 6});
  FillGaussian(bottom.count(), 0.0f, 1.0f, bottom.mutable_data());
  Blob top;
  testing::GradientChecker checker(1e-2f, 1e-2f);
  checker.CheckGradientExhaustive(layer.get(), {&bottom}, {&top});
}

TEST(LayerQuantizerTest, StochasticRoundingDrawsAfreshEachForwardButNotInBackward) {
  SeedRandom(9);
  auto layer = MakeLayer(R"(name: "fc" type: "InnerProduct"
      inner_product_param { num_output: 8 weight_filler { type: "gaussian" std: 1 } }
      quantization_param { bw_params: 4 fl_params: 1 bw_layer_in: 32 bw_layer_out: 32
                           rounding_scheme: STOCHASTIC })");
  Blob bottom({2, 16});
  FillGaussian(bottom.count(), 0.0f, 1.0f, bottom.mutable_data());
  Blob top;
  layer->SetUp({&bottom}, {&top});
  layer->Forward({&bottom}, {&top});
  const std::vector<float> first(top.data(), top.data() + top.count());
  layer->Forward({&bottom}, {&top});
  const std::vector<float> second(top.data(), top.data() + top.count());
  EXPECT_NE(first, second) << "a new pass draws new roundings";
}

TEST(LayerQuantizerTest, ActivationsStayFloatInTrainWhenAskedAsRistretto) {
  const char* text = R"(name: "fc" type: "InnerProduct" phase: TRAIN
      inner_product_param { num_output: 2 weight_filler { type: "constant" value: 1 } }
      quantization_param { bw_layer_in: 4 fl_layer_in: 0 bw_layer_out: 4 fl_layer_out: 0
                           bw_params: 8 fl_params: 4 quantize_activations_in_train: false })";
  auto layer = MakeLayer(text);
  Blob bottom({1, 2});
  bottom.mutable_data()[0] = 0.3f;
  bottom.mutable_data()[1] = 0.3f;
  Blob top;
  layer->SetUp({&bottom}, {&top});
  layer->Forward({&bottom}, {&top});
  EXPECT_FLOAT_EQ(0.6f, top.data()[0]) << "inputs and outputs stay float in TRAIN";
}

TEST(LayerQuantizerTest, ZeroRuleDropsGradientsOfClippedValues) {
  auto layer = MakeLayer(R"(name: "relu" type: "ReLU"
      quantization_param { bw_layer_in: 4 fl_layer_in: 0 bw_layer_out: 4 fl_layer_out: 0
                           clipped_gradient: ZERO })");
  Blob bottom({3});
  bottom.mutable_data()[0] = 3.0f;
  bottom.mutable_data()[1] = 20.0f;   // beyond 7: clipped at the input
  bottom.mutable_data()[2] = -20.0f;  // beyond -8: clipped at the input
  Blob top;
  layer->SetUp({&bottom}, {&top});
  layer->Forward({&bottom}, {&top});
  EXPECT_EQ(7.0f, top.data()[1]);
  top.SetDiff(1.0f);
  layer->Backward({&top}, {true}, {&bottom});
  EXPECT_EQ(1.0f, bottom.diff()[0]);
  EXPECT_EQ(0.0f, bottom.diff()[1]);
  EXPECT_EQ(0.0f, bottom.diff()[2]);
}

TEST(LayerQuantizerTest, InwardRuleKeepsOnlyGradientsThatBringClippedValuesBack) {
  auto layer = MakeLayer(R"(name: "relu" type: "ReLU"
      quantization_param { bw_layer_in: 32 bw_layer_out: 4 fl_layer_out: 0 })");
  Blob bottom({4});
  const float values[] = {3.0f, 20.0f, 20.0f, 1.0f};
  for (int i = 0; i < 4; ++i) bottom.mutable_data()[i] = values[i];
  Blob top;
  layer->SetUp({&bottom}, {&top});
  layer->Forward({&bottom}, {&top});
  const float grads[] = {-1.0f, -1.0f, 1.0f, 1.0f};  // -1 pushes a value up, +1 pulls it down
  for (int i = 0; i < 4; ++i) top.mutable_diff()[i] = grads[i];
  layer->Backward({&top}, {true}, {&bottom});
  EXPECT_EQ(-1.0f, bottom.diff()[0]);
  EXPECT_EQ(0.0f, bottom.diff()[1]) << "pushing a saturated value further out is dropped";
  EXPECT_EQ(1.0f, bottom.diff()[2]) << "pulling it back into range passes";
  EXPECT_EQ(1.0f, bottom.diff()[3]);
}

std::string SetUpError(Layer* layer, const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  try {
    layer->SetUp(bottom, top);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Per-channel scales go along the weights' first axis; Deconvolution and a transposed InnerProduct keep
// their outputs on the second, so there the field is refused rather than applied to the inputs.
TEST(LayerQuantizerTest, PerChannelNeedsTheOutputsOnTheWeightsFirstAxis) {
  const std::string per_channel =
      " quantization_param { precision: INTEGER_AFFINE bw_params: 4 bw_layer_in: 8 bw_layer_out: 8 "
      "per_channel: true }";
  Blob image({1, 2, 4, 4}), vectors({2, 6}), top;
  auto deconvolution = MakeLayer(
      R"(name: "up" type: "Deconvolution" convolution_param { num_output: 3 kernel_size: 2 stride: 2 })" +
      per_channel);
  EXPECT_NE(std::string::npos, SetUpError(deconvolution.get(), {&image}, {&top}).find("axis 1"));
  auto transposed = MakeLayer(
      R"(name: "fc" type: "InnerProduct" inner_product_param { num_output: 3 transpose: true })" + per_channel);
  EXPECT_NE(std::string::npos, SetUpError(transposed.get(), {&vectors}, {&top}).find("axis 1"));
  auto plain = MakeLayer(R"(name: "fc" type: "InnerProduct" inner_product_param { num_output: 3 })" + per_channel);
  EXPECT_EQ("", SetUpError(plain.get(), {&vectors}, {&top}));
}

// A layer whose output is its input's memory (Flatten, Reshape) cannot quantize it without changing a
// blob another layer reads; an in-place layer (one blob) may, as Caffe's in-place layers change it.
TEST(LayerQuantizerTest, OutputsSharingTheInputsMemoryAreRefused) {
  Blob bottom({2, 3, 2, 2}), top;
  auto flatten = MakeLayer(R"(name: "flat" type: "Flatten" quantization_param { bw_layer_out: 8 fl_layer_out: 4 })");
  EXPECT_NE(std::string::npos, SetUpError(flatten.get(), {&bottom}, {&top}).find("input's memory"));
  auto relu = MakeLayer(R"(name: "relu" type: "ReLU" quantization_param { bw_layer_out: 8 fl_layer_out: 4 })");
  EXPECT_EQ("", SetUpError(relu.get(), {&bottom}, {&bottom}));
}

// Tops that hold indices keep them exact: a max pooling's mask, an argmax.
TEST(LayerQuantizerTest, IndexOutputsStayExact) {
  Blob bottom({1, 1, 8, 8});
  for (int i = 0; i < 64; ++i) bottom.mutable_data()[i] = static_cast<float>(i % 7) * 0.1f;
  Blob pooled, mask;
  auto pooling = MakeLayer(R"(name: "pool" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }
      quantization_param { bw_layer_in: 4 fl_layer_in: 2 bw_layer_out: 4 fl_layer_out: 2 })");
  pooling->SetUp({&bottom}, {&pooled, &mask});
  pooling->Forward({&bottom}, {&pooled, &mask});
  float largest_index = 0.0f;
  for (int i = 0; i < mask.count(); ++i) {
    EXPECT_EQ(mask.data()[i], std::floor(mask.data()[i])) << i;
    largest_index = std::max(largest_index, mask.data()[i]);
  }
  EXPECT_GT(largest_index, 1.75f) << "indices past the format's range must come out unchanged";
  Blob scores({2, 40}), classes;
  for (int i = 0; i < 80; ++i) scores.mutable_data()[i] = static_cast<float>(i) * 0.01f;
  auto argmax = MakeLayer(R"(name: "am" type: "ArgMax" quantization_param { bw_layer_in: 8 fl_layer_in: 4 })");
  argmax->SetUp({&scores}, {&classes});
  argmax->Forward({&scores}, {&classes});
  EXPECT_EQ(39.0f, classes.data()[0]);
  EXPECT_EQ(39.0f, classes.data()[1]);
}

// BatchNorm's blobs are running statistics its forward updates: they stay float, so that a quantized
// BatchNorm in training still keeps them.
TEST(LayerQuantizerTest, BatchNormKeepsItsRunningStatistics) {
  Blob bottom({4, 2, 1, 1}), top;
  for (int i = 0; i < 8; ++i) bottom.mutable_data()[i] = static_cast<float>(i);
  auto batch_norm = MakeLayer(R"(name: "bn" type: "BatchNorm" phase: TRAIN
      quantization_param { bw_layer_in: 8 fl_layer_in: 2 bw_layer_out: 8 fl_layer_out: 4 bw_params: 4 fl_params: 0 })");
  batch_norm->SetUp({&bottom}, {&top});
  batch_norm->Forward({&bottom}, {&top});
  // Channel means of the batch: (0 + 2 + 4 + 6) / 4 = 3 and 4; the scale factor after one pass is 1.
  EXPECT_FLOAT_EQ(3.0f, batch_norm->blobs()[0]->data()[0]);
  EXPECT_FLOAT_EQ(4.0f, batch_norm->blobs()[0]->data()[1]);
  EXPECT_FLOAT_EQ(1.0f, batch_norm->blobs()[2]->data()[0]);
}

// A forward that throws (NaN on the integer path) leaves the float weights in place, not the quantized
// copies.
TEST(LayerQuantizerTest, AFailedForwardPutsTheFloatWeightsBack) {
  SeedRandom(3);
  auto layer = MakeLayer(R"(name: "fc" type: "InnerProduct"
      inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.3 } }
      quantization_param { bw_layer_in: 8 fl_layer_in: 4 bw_layer_out: 8 fl_layer_out: 4
                           bw_params: 4 fl_params: 2 accumulator_bits: 16 })");
  Blob bottom({2, 5}), top;
  layer->SetUp({&bottom}, {&top});
  const std::vector<float> weights(layer->blobs()[0]->data(), layer->blobs()[0]->data() + 15);
  bottom.mutable_data()[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(layer->Forward({&bottom}, {&top}), Error);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(weights[i], layer->blobs()[0]->data()[i]) << i;
}

TEST(LayerQuantizerTest, NetReportsSaturationAndSqnr) {
  NetParameter param;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 4 } } }
    layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
            inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.3 } }
            quantization_param { bw_layer_in: 4 fl_layer_in: 3 bw_layer_out: 8 fl_layer_out: 4
                                 bw_params: 8 fl_params: 6 } })", &param));
  SeedRandom(10);
  param.mutable_state()->set_phase(TEST);
  Net net(param);
  Blob* x = net.blob_by_name("x");
  for (int64_t i = 0; i < x->count(); ++i) x->mutable_data()[i] = i % 2 ? 5.0f : 0.3f;
  net.layers()[1]->quantization()->set_collect_stats(true);
  net.Forward();
  const auto reports = net.layers()[1]->quantization()->Reports();
  ASSERT_EQ(4u, reports.size());
  EXPECT_EQ("input 0", reports[0].tensor);
  EXPECT_DOUBLE_EQ(0.5, reports[0].stats.SaturatedShare()) << "every 5.0 clips at 0.875";
  EXPECT_GT(reports[1].stats.SqnrDb(), 20.0);
}

}  // namespace
}  // namespace condense
