// Tests of the weight export (analyze/weight_export.hpp and `condense export`): the codes of every
// format on hand-made tensors against hand-computed values, the round trip (a quantized net computes
// bit for bit the same with the exported caffemodel as with the original weights), the C header
// (compiles with cc -std=c99 -Wall -Werror, and a C program decoding its codes by the formulas its
// comment gives gets the quantized values back), the raw files and their index, the CLI, and LeNet
// with Ristretto's prototxt on real MNIST images.
#include "condense/analyze/weight_export.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/data/idx_file.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "condense/quant/layer_quantizer.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

namespace fs = std::filesystem;

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs a shell command; returns its exit code and leaves stdout and stderr together in *output.
int RunShell(const std::string& command, std::string* output) {
  const std::string log = testing::MakeTempDir("condense_export_log_") + "/log";
  const int status = std::system((command + " > " + log + " 2>&1").c_str());
  *output = ReadWholeFile(log);
  fs::remove_all(fs::path(log).parent_path());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HaveCompiler() { return std::system("command -v cc > /dev/null 2>&1") == 0; }

NetParameter ParseNet(const std::string& text) {
  NetParameter param;
  ParseTextProto(text, "test net", &param);
  param.mutable_state()->set_phase(TEST);
  return param;
}

// Input x of shape [1, inputs] and one InnerProduct "fc" with `outputs` outputs and the given
// quantization_param body ("" for none); affine activations get 8 bits unless it says otherwise.
NetParameter OneLayerNet(std::string quantization, int inputs, int outputs) {
  if (quantization.find("INTEGER_AFFINE") != std::string::npos &&
      quantization.find("bw_layer_in") == std::string::npos) {
    quantization += " bw_layer_in: 8 bw_layer_out: 8";
  }
  return ParseNet(StrCat(
      "name: 'tiny' layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 1 dim: ", inputs,
      " } } } layer { name: 'fc' type: 'InnerProduct' bottom: 'x' top: 'y' inner_product_param { "
      "num_output: ",
      outputs, " } ", quantization.empty() ? "" : "quantization_param { " + quantization + " }", " }"));
}

void SetBlob(Net* net, const std::string& layer, int index, const std::vector<float>& values) {
  Blob& blob = *net->layer_by_name(layer)->blobs()[index];
  ASSERT_EQ(blob.count(), static_cast<int64_t>(values.size())) << layer << " blob " << index;
  std::copy(values.begin(), values.end(), blob.mutable_data());
}

WeightExport ExportOf(const Net& net) {
  NetParameter param;
  net.ToProto(&param);
  return ExportWeights(param, "test net");
}

const ExportedParameter& Find(const WeightExport& exported, const std::string& layer,
                              const std::string& blob) {
  for (const ExportedParameter& p : exported.parameters) {
    if (p.layer == layer && p.blob == blob) return p;
  }
  throw Error("no exported " + layer + " " + blob);
}

std::vector<float> Scaled(const std::vector<int64_t>& codes, float step) {
  std::vector<float> values;
  for (int64_t code : codes) values.push_back(static_cast<float>(code) * step);
  return values;
}

// A deterministic spread of values over several magnitudes, some beyond every format's range.
std::vector<float> Spread(int64_t n, uint64_t seed, float magnitude) {
  std::vector<float> values(n);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (float& value : values) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double unit = static_cast<double>(state >> 11) / 9007199254740992.0;  // [0, 1)
    value = static_cast<float>((2.0 * unit - 1.0) * magnitude * std::pow(4.0, (state >> 5) % 3));
  }
  return values;
}

// ---- codes of each format ------------------------------------------------------------------------

TEST(WeightExportTest, FixedPointCodesAreTheStepsOfTheFractionLength) {
  // 4 bits, fl 2: step 0.25, codes -8..7.
  Net net(OneLayerNet("bw_params: 4 fl_params: 2", 3, 2));
  SetBlob(&net, "fc", 0, {0.3f, -0.6f, 1.9f, -3.0f, 0.125f, -0.125f});
  SetBlob(&net, "fc", 1, {0.5f, -0.37f});
  const WeightExport exported = ExportOf(net);
  ASSERT_EQ(2u, exported.parameters.size());
  const ExportedParameter& weights = Find(exported, "fc", "weights");
  // 1.2 -> 1, -2.4 -> -2, 7.6 -> 8 clipped to 7, -12 clipped to -8, ties 0.5 and -0.5 away from zero.
  EXPECT_EQ((std::vector<int64_t>{1, -2, 7, -8, 1, -1}), weights.codes);
  EXPECT_EQ(CodeType::kInt8, weights.code_type);
  EXPECT_EQ(Scaled(weights.codes, 0.25f), weights.values);
  EXPECT_EQ((std::vector<int64_t>{2, 3}), weights.shape);
  const ExportedParameter& bias = Find(exported, "fc", "bias");
  EXPECT_EQ((std::vector<int64_t>{2, -1}), bias.codes);  // 2, -1.48 -> -1
  EXPECT_EQ((std::vector<float>{0.5f, -0.25f}), bias.values);
  EXPECT_EQ(1, exported.quantized_layers);
}

TEST(WeightExportTest, FixedPointCodeTypeFollowsTheWordWidth) {
  for (const auto& [bits, type] : std::vector<std::pair<int, CodeType>>{{8, CodeType::kInt8},
                                                                        {9, CodeType::kInt16},
                                                                        {16, CodeType::kInt16},
                                                                        {17, CodeType::kInt32},
                                                                        {32, CodeType::kInt32}}) {
    Net net(OneLayerNet(StrCat("bw_params: ", bits, " fl_params: 0"), 1, 1));
    SetBlob(&net, "fc", 0, {-1e12f});
    SetBlob(&net, "fc", 1, {1e12f});
    const WeightExport exported = ExportOf(net);
    EXPECT_EQ(type, exported.parameters[0].code_type) << bits << " bits";
    // Saturated at the ends of the word; a 32-bit word's top value 2^31 - 1 rounds to 2^31 in float,
    // whose code is kept at 2^31 - 1.
    EXPECT_EQ(-(int64_t{1} << (bits - 1)), exported.parameters[0].codes[0]) << bits << " bits";
    EXPECT_EQ((int64_t{1} << (bits - 1)) - 1, exported.parameters[1].codes[0]) << bits << " bits";
  }
}

TEST(WeightExportTest, MinifloatCodesAreSignExponentMantissaPatterns) {
  // e4m3: bias 7, largest 1.875 * 2^7 = 240, subnormal step 2^-9.
  Net net(OneLayerNet("precision: MINIFLOAT exp_bits: 4 mant_bits: 3", 3, 2));
  SetBlob(&net, "fc", 0, {1.0f, -1.0f, 0.3f, 300.0f, 0.005f, 0.0f});
  SetBlob(&net, "fc", 1, {-0.005f, -240.0f});
  const WeightExport exported = ExportOf(net);
  const ExportedParameter& weights = Find(exported, "fc", "weights");
  EXPECT_EQ(CodeType::kUint8, weights.code_type);
  // 1.0 = 0|0111|000; 0.3 -> 1.25 * 2^-2 = 0|0101|010; 300 saturates to 240 = 0|1110|111;
  // 0.005 -> 3 * 2^-9 (subnormal) = 0|0000|011.
  EXPECT_EQ((std::vector<int64_t>{0x38, 0xB8, 0x2A, 0x77, 0x03, 0x00}), weights.codes);
  EXPECT_EQ((std::vector<float>{1.0f, -1.0f, 0.3125f, 240.0f, 3.0f / 512, 0.0f}), weights.values);
  // Ristretto's minifloat covers the biases too.
  EXPECT_EQ((std::vector<int64_t>{0x83, 0xF7}), Find(exported, "fc", "bias").codes);
}

TEST(WeightExportTest, PowerOfTwoCodesAreSignedExponentOffsets) {
  // Exponents -3..0: code = sign * (e + 3 + 1), 0 for zero.
  Net net(OneLayerNet("precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -3 exp_max: 0", 3, 2));
  SetBlob(&net, "fc", 0, {0.3f, -0.9f, 5.0f, 0.05f, 0.07f, -0.125f});
  SetBlob(&net, "fc", 1, {0.3f, -0.7f});
  const WeightExport exported = ExportOf(net);
  const ExportedParameter& weights = Find(exported, "fc", "weights");
  EXPECT_EQ(CodeType::kInt8, weights.code_type);
  // 0.3 < 0.25 * sqrt(2): 2^-2; 0.9 >= 0.5 * sqrt(2): 2^0; 5 saturates at 2^0; 0.05 < 2^-4: zero;
  // 0.07 rounds to the smallest magnitude 2^-3.
  EXPECT_EQ((std::vector<int64_t>{2, -4, 4, 0, 1, -1}), weights.codes);
  EXPECT_EQ((std::vector<float>{0.25f, -1.0f, 1.0f, 0.0f, 0.125f, -0.125f}), weights.values);
  // Ristretto keeps the biases of power-of-two layers in float: exported as they are.
  const ExportedParameter& bias = Find(exported, "fc", "bias");
  EXPECT_TRUE(bias.format.is_float());
  EXPECT_EQ(CodeType::kFloat32, bias.code_type);
  EXPECT_TRUE(bias.codes.empty());
  EXPECT_EQ((std::vector<float>{0.3f, -0.7f}), bias.values);
}

TEST(WeightExportTest, AffineCodesPerTensorFromTheTensorsRange) {
  // Range [-1, 2] in int8: scale 3/255, zero point -128 + 1/scale = -43.
  Net net(OneLayerNet("precision: INTEGER_AFFINE bw_params: 8", 2, 2));
  SetBlob(&net, "fc", 0, {-1.0f, 0.0f, 0.25f, 2.0f});
  SetBlob(&net, "fc", 1, {0.1f, 0.2f});
  const WeightExport exported = ExportOf(net);
  const ExportedParameter& weights = Find(exported, "fc", "weights");
  ASSERT_EQ(1u, weights.affine.size());
  EXPECT_FLOAT_EQ(3.0f / 255.0f, weights.affine[0].scale);
  EXPECT_EQ(-43, weights.affine[0].zero_point);
  EXPECT_EQ(CodeType::kInt8, weights.code_type);
  // -85 - 43, 0 - 43, round(21.25) - 43, 170 - 43.
  EXPECT_EQ((std::vector<int64_t>{-128, -43, -22, 127}), weights.codes);
  EXPECT_TRUE(Find(exported, "fc", "bias").format.is_float());  // affine biases stay float
}

TEST(WeightExportTest, AffineCodesPerChannelSymmetricAndUnsigned) {
  Net net(
      OneLayerNet("precision: INTEGER_AFFINE bw_params: 8 affine_symmetric: true per_channel: true "
                  "bw_layer_in: 8 bw_layer_out: 8",
                  3, 2));
  SetBlob(&net, "fc", 0, {1.0f, -0.6f, 0.2f, -2.0f, 0.4f, 1.1f});
  const WeightExport exported = ExportOf(net);
  const ExportedParameter& weights = Find(exported, "fc", "weights");
  ASSERT_EQ(2u, weights.affine.size());
  EXPECT_FLOAT_EQ(1.0f / 127, weights.affine[0].scale);
  EXPECT_FLOAT_EQ(2.0f / 127, weights.affine[1].scale);
  EXPECT_EQ(0, weights.affine[1].zero_point);
  // Channel 0: 127, -76.2, 25.4; channel 1: -127, 25.4, 69.85.
  EXPECT_EQ((std::vector<int64_t>{127, -76, 25, -127, 25, 70}), weights.codes);

  // Unsigned 8-bit codes do not fit int8: uint8.
  Net unsigned_net(OneLayerNet("precision: INTEGER_AFFINE bw_params: 8 affine_signed: false", 1, 2));
  SetBlob(&unsigned_net, "fc", 0, {-1.0f, 2.0f});
  const ExportedParameter unsigned_weights = ExportOf(unsigned_net).parameters[0];
  EXPECT_EQ(CodeType::kUint8, unsigned_weights.code_type);
  EXPECT_EQ(85, unsigned_weights.affine[0].zero_point);
  EXPECT_EQ((std::vector<int64_t>{0, 255}), unsigned_weights.codes);
}

TEST(WeightExportTest, StochasticPrototxtsExportNearestRounding) {
  Net net(OneLayerNet("bw_params: 4 fl_params: 2 rounding_scheme: STOCHASTIC", 3, 1));
  SetBlob(&net, "fc", 0, {0.3f, -0.6f, 0.2f});
  const WeightExport exported = ExportOf(net);
  EXPECT_TRUE(exported.parameters[0].stochastic_in_prototxt);
  EXPECT_EQ(Rounding::kNearest, exported.parameters[0].format.rounding());
  EXPECT_EQ((std::vector<int64_t>{1, -2, 1}), exported.parameters[0].codes);
}

TEST(WeightExportTest, RefusesNonFiniteValuesInQuantizedBlobsOnly) {
  Net net(OneLayerNet("bw_params: 8 fl_params: 4", 1, 1));
  SetBlob(&net, "fc", 0, {std::nanf("")});
  try {
    ExportOf(net);
    FAIL() << "NaN exported";
  } catch (const Error& error) {
    EXPECT_NE(std::string::npos, std::string(error.what()).find("layer 'fc' weights: value 0 is nan"))
        << error.what();
  }
  Net float_net(OneLayerNet("", 1, 1));
  SetBlob(&float_net, "fc", 0, {std::nanf("")});
  EXPECT_TRUE(std::isnan(ExportOf(float_net).parameters[0].values[0]));
}

TEST(WeightExportTest, BadQuantizationParamNamesTheLayerAndField) {
  NetParameter param = OneLayerNet("", 1, 1);
  Net net(param);
  NetParameter with_blobs;
  net.ToProto(&with_blobs);
  with_blobs.mutable_layer(1)->mutable_quantization_param()->set_bw_params(0);
  try {
    ExportWeights(with_blobs, "q.prototxt");
    FAIL() << "bw_params 0 accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string::npos, std::string(error.what()).find("q.prototxt: layer 'fc'")) << error.what();
    EXPECT_NE(std::string::npos, std::string(error.what()).find("bw_params")) << error.what();
  }
}

// ---- re-quantizing ------------------------------------------------------------------------------

std::vector<float> Requantized(const ExportedParameter& p, const std::vector<float>& values) {
  std::vector<float> out(values.size());
  p.format.Apply(values.data(), out.data(), static_cast<int64_t>(values.size()), p.shape[0], 0, nullptr);
  return out;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Asymmetric affine weights take their range from the tensor: the range of the quantized values
// re-derives a scale one ulp off for this tensor (per tensor and per channel), so re-quantizing the
// on-grid values alone would move them. The export nudges the range ends so that it does not.
TEST(WeightExportTest, AffineFromDataExportRequantizesToTheSameValues) {
  const std::vector<float> original = {-0.720974863f, 0.229155958f, 0.1f, -1.14885926f, 0.826686025f, 0.3f};
  for (const char* per_channel : {"false", "true"}) {
    Net net(OneLayerNet(StrCat("precision: INTEGER_AFFINE bw_params: 8 per_channel: ", per_channel), 3, 2));
    SetBlob(&net, "fc", 0, original);
    const ExportedParameter weights = ExportOf(net).parameters[0];
    const std::vector<float> quantized = Requantized(weights, original);
    const bool grid_requantizes_exactly = SameBits(Requantized(weights, quantized), quantized);
    EXPECT_FALSE(grid_requantizes_exactly)
        << "re-quantizing affine weights is the identity now: the nudge in weight_export.cpp can go";
    EXPECT_TRUE(weights.requantizes_exactly);
    EXPECT_TRUE(SameBits(Requantized(weights, weights.values), quantized)) << "per_channel " << per_channel;
    EXPECT_EQ(!grid_requantizes_exactly, weights.nudged > 0) << "per_channel " << per_channel;
    for (size_t i = 0; i < quantized.size(); ++i) {
      EXPECT_NEAR(quantized[i], weights.values[i], 1e-6f * std::fabs(quantized[i])) << i;
    }

    // The net computes on the same weights with the exported values (with unit inputs its outputs are
    // the columns of the quantized weights), and would not with the grid values alone.
    const auto output = [&](const std::vector<float>& fc_weights) {
      Net forward(OneLayerNet(
          StrCat("precision: INTEGER_AFFINE bw_params: 8 per_channel: ", per_channel,
                 " quantize_inputs: false quantize_outputs: false bw_layer_in: 8 bw_layer_out: 8"),
          3, 2));
      SetBlob(&forward, "fc", 0, fc_weights);
      SetBlob(&forward, "fc", 1, {0.0f, 0.0f});
      std::vector<float> columns;
      for (int column = 0; column < 3; ++column) {
        float* input = forward.input_blobs()[0]->mutable_data();
        for (int j = 0; j < 3; ++j) input[j] = j == column ? 1.0f : 0.0f;
        forward.Forward();
        columns.insert(columns.end(), forward.output_blobs()[0]->data(),
                       forward.output_blobs()[0]->data() + 2);
      }
      return columns;
    };
    EXPECT_TRUE(SameBits(output(original), output(weights.values))) << "per_channel " << per_channel;
    EXPECT_FALSE(SameBits(output(original), output(quantized))) << "per_channel " << per_channel;
  }
}

// Every format's export requantizes to the quantized values of the original, over many tensors.
TEST(WeightExportTest, EveryFormatRequantizesExactlyOverManyTensors) {
  const std::vector<std::string> formats = {
      "bw_params: 4 fl_params: 3",
      "bw_params: 8 fl_params: -2",
      "precision: MINIFLOAT exp_bits: 3 mant_bits: 2",
      "precision: MINIFLOAT exp_bits: 5 mant_bits: 10",
      "precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -6 exp_max: -1",
      "precision: INTEGER_AFFINE bw_params: 4",
      "precision: INTEGER_AFFINE bw_params: 8 per_channel: true",
      "precision: INTEGER_AFFINE bw_params: 8 affine_signed: false per_channel: true",
      "precision: INTEGER_AFFINE bw_params: 6 affine_symmetric: true per_channel: true bw_layer_in: 8 "
      "bw_layer_out: 8",
      "precision: INTEGER_AFFINE bw_params: 16 affine_symmetric: true bw_layer_in: 8 bw_layer_out: 8"};
  for (const std::string& format : formats) {
    int64_t nudged_tensors = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      Net net(OneLayerNet(format, 16, 4));
      const std::vector<float> original = Spread(64, seed, std::ldexp(1.0f, static_cast<int>(seed % 9) - 4));
      SetBlob(&net, "fc", 0, original);
      const ExportedParameter weights = ExportOf(net).parameters[0];
      ASSERT_TRUE(weights.requantizes_exactly) << format << " seed " << seed;
      ASSERT_TRUE(SameBits(Requantized(weights, weights.values), Requantized(weights, original)))
          << format << " seed " << seed;
      nudged_tensors += weights.nudged > 0;
    }
    // Grids fixed by the prototxt are never nudged.
    if (format.find("AFFINE") == std::string::npos) {
      EXPECT_EQ(0, nudged_tensors) << format;
    }
  }
}

// ---- round trip through the files -----------------------------------------------------------------

// data [2, 2, 6, 6] -> conv (3 outputs, 3x3) -> ReLU -> ip (4 outputs), both with the format under
// test -> out (2 outputs, float).
NetParameter RoundTripNet(const std::string& quantization) {
  return ParseNet(
      StrCat("name: 'round trip' "
             "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 2 dim: 2 dim: 6 dim: "
             "6 } } } "
             "layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv' "
             "  convolution_param { num_output: 3 kernel_size: 3 } quantization_param { ",
             quantization,
             " } } "
             "layer { name: 'relu' type: 'ReLU' bottom: 'conv' top: 'conv' } "
             "layer { name: 'ip' type: 'InnerProduct' bottom: 'conv' top: 'ip' "
             "  inner_product_param { num_output: 4 } quantization_param { ",
             quantization,
             " } } "
             "layer { name: 'out' type: 'InnerProduct' bottom: 'ip' top: 'out' inner_product_param { "
             "num_output: 2 } }"));
}

// Every blob of the net after one forward pass on a fixed input.
std::vector<std::vector<float>> ForwardAll(Net* net) {
  Blob& input = *net->input_blobs()[0];
  const std::vector<float> data = Spread(input.count(), 99, 1.5f);
  std::copy(data.begin(), data.end(), input.mutable_data());
  net->Forward();
  std::vector<std::vector<float>> blobs;
  for (const auto& blob : net->blobs()) blobs.emplace_back(blob->data(), blob->data() + blob->count());
  return blobs;
}

class WeightExportRoundTripTest : public ::testing::TestWithParam<const char*> {};

TEST_P(WeightExportRoundTripTest, ExportedCaffemodelComputesBitForBitTheSame) {
  const NetParameter param = RoundTripNet(GetParam());
  Net original(param);
  uint64_t seed = 1;
  for (const auto& layer : original.layers()) {
    for (const auto& blob : layer->blobs()) {
      const std::vector<float> values = Spread(blob->count(), seed++, 0.4f);
      std::copy(values.begin(), values.end(), blob->mutable_data());
    }
  }
  const std::vector<std::vector<float>> expected = ForwardAll(&original);

  testing::ScopedTempDir scratch("condense_export_roundtrip_");
  WeightExport exported = ExportOf(original);
  WriteWeightExport(exported, scratch.path());
  Net reloaded(param);
  reloaded.CopyTrainedLayersFromFile(scratch.path() + "/round_trip.caffemodel");
  const std::vector<std::vector<float>> actual = ForwardAll(&reloaded);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(SameBits(expected[i], actual[i])) << "blob " << original.blob_names()[i] << " differs";
  }
  // The float layer is exported untouched, the quantized ones on their grid.
  EXPECT_TRUE(Find(exported, "out", "weights").format.is_float());
  EXPECT_FALSE(Find(exported, "conv", "weights").format.is_float());
}

INSTANTIATE_TEST_SUITE_P(
    WeightExport, WeightExportRoundTripTest,
    ::testing::Values(
        "bw_layer_in: 8 fl_layer_in: 4 bw_layer_out: 8 fl_layer_out: 3 bw_params: 4 fl_params: 3",
        "bw_layer_in: 16 fl_layer_in: 8 bw_layer_out: 16 fl_layer_out: 8 bw_params: 6 fl_params: 4 "
        "bw_bias: 12 fl_bias: 8",
        "precision: MINIFLOAT exp_bits: 4 mant_bits: 3",
        "precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -6 exp_max: 0 bw_layer_in: 8 fl_layer_in: 4 "
        "bw_layer_out: 8 fl_layer_out: 3",
        "precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 range_in_min: -2 "
        "range_in_max: 2 range_out_min: -4 range_out_max: 4",
        "precision: INTEGER_AFFINE bw_params: 4 per_channel: true bw_layer_in: 8 bw_layer_out: 8",
        "precision: INTEGER_AFFINE bw_params: 8 affine_signed: false affine_symmetric: true per_channel: "
        "true bw_layer_in: 8 bw_layer_out: 8 bw_bias: 10 fl_bias: 6",
        "precision: INTEGER_AFFINE bw_params: 8 per_channel: true quantize_inputs: false "
        "quantize_outputs: false bw_layer_in: 8 bw_layer_out: 8"));

// A prototxt asking for stochastic rounding gets its weights rounded to nearest, and stochastic
// rounding of those on-grid values gives them back whatever the draws.
TEST(WeightExportTest, StochasticRoundingOfExportedWeightsIsTheIdentity) {
  for (const std::string format :
       {"bw_params: 4 fl_params: 3", "precision: MINIFLOAT exp_bits: 4 mant_bits: 3",
        "precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -6 exp_max: 0"}) {
    Net nearest(OneLayerNet(format, 16, 4));
    Net stochastic(OneLayerNet(format + " rounding_scheme: STOCHASTIC", 16, 4));
    const std::vector<float> original = Spread(64, 5, 0.5f);
    SetBlob(&nearest, "fc", 0, original);
    SetBlob(&stochastic, "fc", 0, original);
    const ExportedParameter expected = ExportOf(nearest).parameters[0];
    const ExportedParameter weights = ExportOf(stochastic).parameters[0];
    EXPECT_TRUE(SameBits(expected.values, weights.values)) << format;
    EXPECT_EQ(expected.codes, weights.codes) << format;
    const TensorFormat stochastic_format(weights.format.format(), Rounding::kStochastic);
    for (uint64_t seed = 0; seed < 20; ++seed) {
      std::vector<float> requantized(weights.values.size());
      stochastic_format.Apply(weights.values.data(), requantized.data(),
                              static_cast<int64_t>(requantized.size()), 4, seed, nullptr);
      EXPECT_TRUE(SameBits(weights.values, requantized)) << format << " seed " << seed;
    }
  }
}

// ---- the C header and the raw files ---------------------------------------------------------------

// One layer per format, with names that collide once made C identifiers, one starting with a digit.
NetParameter EveryFormatNet() {
  return ParseNet(
      "name: '4-formats net' "
      "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 1 dim: 4 } } } "
      "layer { name: 'fc/dfp' type: 'InnerProduct' bottom: 'x' top: 'a' inner_product_param { num_output: 4 "
      "} "
      "  quantization_param { bw_params: 12 fl_params: 9 } } "
      "layer { name: 'fc_dfp' type: 'InnerProduct' bottom: 'a' top: 'b' inner_product_param { num_output: 4 "
      "} "
      "  quantization_param { bw_params: 4 fl_params: -1 } } "
      "layer { name: '2minifloat' type: 'InnerProduct' bottom: 'b' top: 'c' inner_product_param { "
      "num_output: 4 } "
      "  quantization_param { precision: MINIFLOAT exp_bits: 5 mant_bits: 10 } } "
      "layer { name: 'pow2' type: 'InnerProduct' bottom: 'c' top: 'd' inner_product_param { num_output: 4 } "
      "  quantization_param { precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -5 exp_max: 1 } } "
      "layer { name: 'affine' type: 'InnerProduct' bottom: 'd' top: 'e' inner_product_param { num_output: 3 "
      "} "
      "  quantization_param { precision: INTEGER_AFFINE bw_params: 8 per_channel: true bw_layer_in: 8 "
      "bw_layer_out: 8 } } "
      "layer { name: 'affine_tensor' type: 'InnerProduct' bottom: 'e' top: 'f' inner_product_param { "
      "num_output: 3 } "
      "  quantization_param { precision: INTEGER_AFFINE bw_params: 5 affine_signed: false bw_layer_in: 8 "
      "bw_layer_out: 8 } } "
      "layer { name: 'float */' type: 'InnerProduct' bottom: 'f' top: 'g' inner_product_param { num_output: "
      "2 } }");
}

WeightExport ExportEveryFormat(std::vector<std::vector<float>>* quantized) {
  Net net(EveryFormatNet());
  uint64_t seed = 7;
  for (const auto& layer : net.layers()) {
    for (const auto& blob : layer->blobs()) {
      const std::vector<float> values = Spread(blob->count(), seed++, 0.3f);
      std::copy(values.begin(), values.end(), blob->mutable_data());
    }
  }
  net.layer_by_name("float */")->blobs()[1]->mutable_data()[0] = INFINITY;  // needs <math.h>
  WeightExport exported = ExportOf(net);
  // What the net computes on, for the decoding test: each blob quantized from its original values.
  for (const ExportedParameter& p : exported.parameters) {
    const Blob& blob = *net.layer_by_name(p.layer)->blobs()[p.index];
    std::vector<float> values(blob.count());
    p.format.Apply(blob.data(), values.data(), blob.count(), blob.shape(0), 0, nullptr);
    quantized->push_back(values);
  }
  return exported;
}

TEST(WeightExportTest, NamesAreUniqueCIdentifiersAndSafeFileNames) {
  std::vector<std::vector<float>> quantized;
  const WeightExport exported = ExportEveryFormat(&quantized);
  EXPECT_EQ("4-formats_net", ExportFileStem(exported));
  EXPECT_EQ("n4_formats_net_fc_dfp_weights", Find(exported, "fc/dfp", "weights").c_name);
  EXPECT_EQ("n4_formats_net_fc_dfp_weights_2", Find(exported, "fc_dfp", "weights").c_name);
  EXPECT_EQ("n4_formats_net_2minifloat_bias", Find(exported, "2minifloat", "bias").c_name);
  EXPECT_EQ("fc_dfp.weights.bin", Find(exported, "fc/dfp", "weights").raw_file);
  EXPECT_EQ("fc_dfp.weights_2.bin", Find(exported, "fc_dfp", "weights").raw_file);
  EXPECT_EQ("float___.bias.bin", Find(exported, "float */", "bias").raw_file);
}

TEST(WeightExportTest, HeaderCompilesAsC99AndDecodesToTheQuantizedValues) {
  if (!HaveCompiler()) GTEST_SKIP() << "no C compiler (cc) on this machine";
  std::vector<std::vector<float>> quantized;
  const WeightExport exported = ExportEveryFormat(&quantized);
  testing::ScopedTempDir scratch("condense_export_header_");
  WriteWeightExport(exported, scratch.path());
  const std::string header = scratch.path() + "/4-formats_net.h";
  std::string output;
  ASSERT_EQ(0, RunShell("cc -c -std=c99 -Wall -Werror -o " + scratch.path() + "/h.o -x c " + header, &output))
      << output;
  ASSERT_EQ(0, RunShell("cc -c -std=c99 -Wall -Wextra -pedantic -Werror -o " + scratch.path() + "/h.o -x c " +
                            header,
                        &output))
      << output;

  // A C program that decodes every code by the formulas of the header's comment.
  std::string program =
      "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include \"4-formats_net.h\"\n"
      "static double minifloat(unsigned pattern, int e, int m, int bias) {\n"
      "  double sign = (pattern >> (e + m)) & 1 ? -1.0 : 1.0;\n"
      "  unsigned exponent = (pattern >> m) & ((1u << e) - 1), mantissa = pattern & ((1u << m) - 1);\n"
      "  if (exponent == 0) return sign * ldexp(mantissa, 1 - bias - m);\n"
      "  return sign * (1.0 + ldexp(mantissa, -m)) * ldexp(1.0, (int)exponent - bias);\n}\n"
      "int main(void) {\n  long i;\n";
  for (const ExportedParameter& p : exported.parameters) {
    const std::string macro = [&] {
      std::string upper = p.c_name;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return upper;
    }();
    const std::string& a = p.c_name;
    std::string value;
    if (p.format.is_float()) {
      value = a + "[i]";
    } else if (std::holds_alternative<DynamicFixedPoint>(p.format.format())) {
      value = StrCat("ldexp(", a, "[i], -", macro, "_FL)");
    } else if (std::holds_alternative<Minifloat>(p.format.format())) {
      value =
          StrCat("minifloat(", a, "[i], ", macro, "_EXP_BITS, ", macro, "_MANT_BITS, ", macro, "_EXP_BIAS)");
    } else if (std::holds_alternative<PowerOfTwo>(p.format.format())) {
      value = StrCat("(", a, "[i] == 0 ? 0.0 : (", a, "[i] < 0 ? -1.0 : 1.0) * ldexp(1.0, abs(", a,
                     "[i]) - 1 + ", macro, "_EXP_MIN))");
    } else if (p.affine.size() > 1) {
      value = StrCat("(float)(", a, "[i] - ", a, "_zero_point[i / (", macro, "_COUNT / ", macro,
                     "_CHANNELS)]) * ", a, "_scale[i / (", macro, "_COUNT / ", macro, "_CHANNELS)]");
    } else {
      value = StrCat("(float)(", a, "[i] - ", macro, "_ZERO_POINT) * ", macro, "_SCALE");
    }
    program +=
        StrCat("  for (i = 0; i < ", macro, "_COUNT; ++i) printf(\"%.9g\\n\", (double)(", value, "));\n");
  }
  program += "  return 0;\n}\n";
  std::ofstream(scratch.path() + "/decode.c") << program;
  ASSERT_EQ(
      0, RunShell("cd " + scratch.path() + " && cc -std=c99 -Wall -Werror -o decode decode.c -lm", &output))
      << output << "\n"
      << program;
  ASSERT_EQ(0, RunShell(scratch.path() + "/decode", &output)) << output;
  std::istringstream decoded(output);
  for (size_t k = 0; k < exported.parameters.size(); ++k) {
    const ExportedParameter& p = exported.parameters[k];
    for (size_t i = 0; i < p.values.size(); ++i) {
      std::string line;
      ASSERT_TRUE(std::getline(decoded, line)) << p.layer << " " << p.blob;
      const float value = line == "inf" ? INFINITY : std::strtof(line.c_str(), nullptr);
      EXPECT_EQ(quantized[k][i], value) << p.layer << " " << p.blob << " value " << i << ": " << line;
    }
  }
}

TEST(WeightExportTest, RawFilesHoldLittleEndianCodesAndTheIndexDescribesThem) {
  std::vector<std::vector<float>> quantized;
  const WeightExport exported = ExportEveryFormat(&quantized);
  testing::ScopedTempDir scratch("condense_export_raw_");
  const std::vector<std::string> written = WriteWeightExport(exported, scratch.path());
  EXPECT_EQ(exported.parameters.size() + 3, written.size());
  for (const ExportedParameter& p : exported.parameters) {
    const std::string bytes = ReadWholeFile(scratch.path() + "/raw/" + p.raw_file);
    ASSERT_EQ(p.values.size() * CodeTypeBytes(p.code_type), bytes.size()) << p.raw_file;
    for (size_t i = 0; i < p.values.size(); ++i) {
      uint32_t word = 0;
      for (int b = CodeTypeBytes(p.code_type) - 1; b >= 0; --b) {
        word = (word << 8) | static_cast<uint8_t>(bytes[i * CodeTypeBytes(p.code_type) + b]);
      }
      if (p.format.is_float()) {
        float value;
        std::memcpy(&value, &word, 4);
        EXPECT_TRUE(std::memcmp(&value, &p.values[i], 4) == 0) << p.raw_file << " " << i;
        continue;
      }
      int64_t code = word;
      if (p.code_type == CodeType::kInt8) code = static_cast<int8_t>(word);
      if (p.code_type == CodeType::kInt16) code = static_cast<int16_t>(word);
      if (p.code_type == CodeType::kInt32) code = static_cast<int32_t>(word);
      EXPECT_EQ(p.codes[i], code) << p.raw_file << " " << i;
    }
  }

  const nlohmann::json index = nlohmann::json::parse(ReadWholeFile(scratch.path() + "/raw/index.json"));
  EXPECT_EQ("4-formats net", index["net"]);
  EXPECT_EQ("little-endian", index["byte_order"]);
  ASSERT_EQ(exported.parameters.size(), index["files"].size());
  std::map<std::string, nlohmann::json> by_file;
  for (const auto& file : index["files"]) by_file[file["file"]] = file;
  const nlohmann::json& dfp = by_file.at("fc_dfp.weights.bin");
  EXPECT_EQ("fc/dfp", dfp["layer"]);
  EXPECT_EQ("weights", dfp["blob"]);
  EXPECT_EQ((std::vector<int64_t>{4, 4}), dfp["shape"].get<std::vector<int64_t>>());
  EXPECT_EQ("int16", dfp["dtype"]);
  EXPECT_EQ(32, dfp["bytes"]);
  EXPECT_EQ("dynamic_fixed_point", dfp["format"]["kind"]);
  EXPECT_EQ(12, dfp["format"]["bw"]);
  EXPECT_EQ(9, dfp["format"]["fl"]);
  EXPECT_EQ(-1, by_file.at("fc_dfp.weights_2.bin")["format"]["fl"]);
  const nlohmann::json& minifloat = by_file.at("2minifloat.bias.bin")["format"];
  EXPECT_EQ("minifloat", minifloat["kind"]);
  EXPECT_EQ(5, minifloat["exp_bits"]);
  EXPECT_EQ(10, minifloat["mant_bits"]);
  EXPECT_EQ(15, minifloat["exp_bias"]);
  EXPECT_EQ("uint16", by_file.at("2minifloat.bias.bin")["dtype"]);
  const nlohmann::json& pow2 = by_file.at("pow2.weights.bin")["format"];
  EXPECT_EQ("power_of_two", pow2["kind"]);
  EXPECT_EQ(-5, pow2["exp_min"]);
  EXPECT_EQ(1, pow2["exp_max"]);
  EXPECT_EQ("float", by_file.at("pow2.bias.bin")["format"]["kind"]);
  EXPECT_EQ("float32", by_file.at("pow2.bias.bin")["dtype"]);
  const ExportedParameter& affine = Find(exported, "affine", "weights");
  const nlohmann::json& affine_json = by_file.at("affine.weights.bin")["format"];
  EXPECT_EQ("integer_affine", affine_json["kind"]);
  EXPECT_TRUE(affine_json["per_channel"].get<bool>());
  ASSERT_EQ(3u, affine_json["scale"].size());
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(affine.affine[c].scale, affine_json["scale"][c].get<float>());
    EXPECT_EQ(affine.affine[c].zero_point, affine_json["zero_point"][c].get<int>());
  }
  const nlohmann::json& tensor_json = by_file.at("affine_tensor.weights.bin")["format"];
  EXPECT_EQ(Find(exported, "affine_tensor", "weights").affine[0].scale, tensor_json["scale"].get<float>());
  EXPECT_EQ(0, tensor_json["q_min"]);
  EXPECT_EQ(31, tensor_json["q_max"]);
  EXPECT_EQ("int8", by_file.at("affine_tensor.weights.bin")["dtype"]);  // codes 0..31 fit int8
}

TEST(WeightExportTest, AttachWeightsByNameTakesTheLastFileThatHasTheLayer) {
  const NetParameter model = OneLayerNet("bw_params: 8 fl_params: 4", 1, 1);
  NetParameter first, second;
  LayerParameter* layer = first.add_layer();
  layer->set_name("fc");
  Blob blob({1, 1});
  blob.mutable_data()[0] = 1.0f;
  blob.ToProto(layer->add_blobs());
  layer = second.add_layer();
  layer->set_name("fc");
  blob.mutable_data()[0] = 2.0f;
  blob.ToProto(layer->add_blobs());
  second.add_layer()->set_name("not in the model");
  const NetParameter attached = AttachWeightsByName(model, {first, second});
  ASSERT_EQ(2, attached.layer_size());
  EXPECT_EQ(0, attached.layer(0).blobs_size());
  ASSERT_EQ(1, attached.layer(1).blobs_size());
  EXPECT_EQ(2.0f, attached.layer(1).blobs(0).data(0));
  EXPECT_EQ(1, ExportWeights(attached, "m").parameters.size());
}

// ---- the CLI ------------------------------------------------------------------------------------

// Runs `condense export` on `prototxt` with the weights of `net`, into scratch/out; returns its exit
// code, with its output in *output.
int RunExport(const testing::ScopedTempDir& scratch, const std::string& prototxt, const Net& net,
              std::string* output) {
  NetParameter weights;
  net.ToProto(&weights);
  WriteBinaryProtoFile(scratch.path() + "/w.caffemodel", weights);
  std::ofstream(scratch.path() + "/m.prototxt") << prototxt;
  return RunShell(testing::CondenseBinary() + " export --model=" + scratch.path() + "/m.prototxt --weights=" +
                      scratch.path() + "/w.caffemodel --output_dir=" + scratch.path() + "/out",
                  output);
}

const char kTinyInput[] =
    "name: 'tiny' layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 1 dim: 3 } } }\n";

TEST(WeightExportCliTest, WritesEveryFileAndASummary) {
  testing::ScopedTempDir scratch("condense_export_cli_");
  Net net(OneLayerNet("bw_params: 4 fl_params: 2", 3, 2));
  SetBlob(&net, "fc", 0, {0.3f, -0.6f, 1.9f, -3.0f, 0.125f, -0.125f});
  std::string output;
  ASSERT_EQ(
      0, RunExport(scratch,
                   std::string(kTinyInput) + "layer { name: 'fc' type: 'InnerProduct' bottom: 'x' top: 'y' "
                                             "inner_product_param { num_output: 2 } "
                                             "quantization_param { bw_params: 4 fl_params: 2 } }\n",
                   net, &output))
      << output;
  for (const char* file :
       {"tiny.caffemodel", "tiny.h", "raw/index.json", "raw/fc.weights.bin", "raw/fc.bias.bin"}) {
    EXPECT_TRUE(fs::exists(scratch.path() + "/out/" + file)) << file;
  }
  EXPECT_NE(std::string::npos, output.find("total")) << output;
  EXPECT_NE(std::string::npos, output.find("fixed 4b fl 2")) << output;
  NetParameter written;
  ReadBinaryProtoFile(scratch.path() + "/out/tiny.caffemodel", &written);
  Net reloaded(OneLayerNet("bw_params: 4 fl_params: 2", 3, 2));
  reloaded.CopyTrainedLayersFrom(written);
  const Blob& reloaded_weights = *reloaded.layer_by_name("fc")->blobs()[0];
  EXPECT_EQ((std::vector<float>{0.25f, -0.5f, 1.75f, -2.0f, 0.25f, -0.25f}),
            std::vector<float>(reloaded_weights.data(), reloaded_weights.data() + 6));
}

TEST(WeightExportCliTest, ANetWithoutQuantizationExportsFloatsWithAWarning) {
  testing::ScopedTempDir scratch("condense_export_float_");
  std::string output;
  ASSERT_EQ(
      0, RunExport(scratch,
                   std::string(kTinyInput) + "layer { name: 'fc' type: 'InnerProduct' bottom: 'x' top: 'y' "
                                             "inner_product_param { num_output: 2 } }\n",
                   Net(OneLayerNet("", 3, 2)), &output))
      << output;
  EXPECT_NE(std::string::npos, output.find("has no quantization_param in any layer")) << output;
  EXPECT_NE(std::string::npos,
            ReadWholeFile(scratch.path() + "/out/tiny.h").find("static const float tiny_fc_weights[6]"));
  EXPECT_EQ(24u, fs::file_size(scratch.path() + "/out/raw/fc.weights.bin"));
}

// ---- real files --------------------------------------------------------------------------------

// Ristretto's LeNet prototxt with Data, Accuracy and loss replaced by an Input of 100 images.
NetParameter DeployNet(const std::string& prototxt) {
  const NetParameter train_test = ReadNetParameterFile(prototxt);
  NetParameter deploy = ParseNet(
      "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 100 dim: 1 dim: 28 dim: 28 "
      "} } }");
  deploy.set_name(train_test.name());
  for (const LayerParameter& layer : train_test.layer()) {
    if (layer.type() == "Data" || layer.type() == "Accuracy" || layer.type() == "SoftmaxWithLoss") continue;
    *deploy.add_layer() = layer;
  }
  return deploy;
}

TEST(WeightExportRealDataTest, LenetExportScoresMnistBitForBitTheSame) {
  CONDENSE_REQUIRE_SHARED(prototxt, "ristretto/generated/lenet_mnist_dynamic_fixed_point_em1.prototxt");
  CONDENSE_REQUIRE_SHARED(caffemodel, "lenet_caffe/lenet_iter_10000.caffemodel");
  CONDENSE_REQUIRE_SHARED(images_path, "mnist/t10k-images-idx3-ubyte.gz");
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/t10k-labels-idx1-ubyte.gz");
  testing::ScopedTempDir scratch("condense_export_lenet_");
  std::string output;
  // The prototxt's LMDB is not there: the CLI exports by layer name without building the net.
  ASSERT_EQ(0, RunShell(testing::CondenseBinary() + " export --model=" + prototxt +
                            " --weights=" + caffemodel + " --output_dir=" + scratch.path(),
                        &output))
      << output;
  EXPECT_NE(std::string::npos, output.find("Not building the net")) << output;
  if (HaveCompiler()) {
    EXPECT_EQ(0, RunShell("cc -c -std=c99 -Wall -Werror -o " + scratch.path() + "/h.o -x c " +
                              scratch.path() + "/LeNet.h",
                          &output))
        << output;
  }

  const NetParameter deploy = DeployNet(prototxt);
  Net original(deploy);
  original.CopyTrainedLayersFromFile(caffemodel);
  Net exported(deploy);
  exported.CopyTrainedLayersFromFile(scratch.path() + "/LeNet.caffemodel");
  const IdxImages images = ReadIdxImages(images_path);
  const std::vector<uint8_t> labels = ReadIdxLabels(labels_path);
  int correct[2] = {0, 0};
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<std::vector<float>> outputs;
    for (Net* net : {&original, &exported}) {
      float* data = net->input_blobs()[0]->mutable_data();
      for (int64_t k = 0; k < 100 * 784; ++k) {
        data[k] = images.image(batch * 100)[k] * 0.00390625f;  // the prototxt's transform_param scale
      }
      net->Forward();
      const Blob& scores = *net->blob_by_name("ip2");
      outputs.emplace_back(scores.data(), scores.data() + scores.count());
      for (int n = 0; n < 100; ++n) {
        const float* row = scores.data() + n * 10;
        correct[net == &exported] += std::max_element(row, row + 10) - row == labels[batch * 100 + n];
      }
    }
    EXPECT_TRUE(SameBits(outputs[0], outputs[1])) << "batch " << batch;
  }
  EXPECT_EQ(correct[0], correct[1]);
  EXPECT_GT(correct[0], 480);  // LeNet at 4-bit weights still scores about 99%
}

}  // namespace
}  // namespace condense
