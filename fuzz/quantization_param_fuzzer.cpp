// Fuzz target: a quantization_param (protobuf text, as it appears inside a Ristretto layer) read into
// the quantizers. The formats it asks for are applied to a fixed array of awkward values (zeros of both
// signs, subnormals, the float limits, infinities, NaN), per tensor and per channel, and the same
// parameter is put on the Convolution, Pooling and InnerProduct layers of a small net that runs one
// forward and backward pass through the layer wrapper.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/net.hpp"
#include "condense/quant/layer_quantizer.hpp"
#include "condense/quant/tensor_format.hpp"
#include "fuzz_support.hpp"

namespace {

std::vector<float> AwkwardValues() {
  using limits = std::numeric_limits<float>;
  std::vector<float> values = {0.0f, -0.0f, limits::denorm_min(), -limits::denorm_min(),
                               limits::min(), limits::max(), limits::lowest(), limits::infinity(),
                               -limits::infinity(), limits::quiet_NaN(), 1.0f, -1.0f, 0.5f, -0.375f,
                               3.0e-5f, -7.5e3f, 65504.0f, 1.0e30f};
  for (int i = 0; i < 14; ++i) values.push_back(std::ldexp(1.0f, i * 4 - 28) * (i % 2 ? -1.0f : 1.0f));
  return values;
}

void ApplyFormat(const condense::TensorFormat& format) {
  static const std::vector<float> values = AwkwardValues();
  std::vector<float> out(values.size());
  format.Describe();
  for (int64_t channels : {1, 2}) {
    condense::QuantizeStats stats;
    format.Apply(values.data(), out.data(), static_cast<int64_t>(values.size()), channels, 9, &stats);
    for (float quantized : out) format.ClipSide(quantized);
  }
}

std::string NetWith(const std::string& quantization) {
  const std::string q = "quantization_param { " + quantization + " }";
  return R"(name: "quantized"
layer { name: "data" type: "DummyData" top: "data" top: "label"
  dummy_data_param { shape { dim: 2 dim: 2 dim: 6 dim: 6 } shape { dim: 2 }
    data_filler { type: "gaussian" std: 2 } data_filler { type: "constant" value: 1 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.5 }
    bias_filler { type: "constant" value: 0.25 } } )" + q + R"( }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } )" + q + R"( }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc"
  inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.5 } } )" + q + R"( }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
)";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  condense::fuzz::InitTarget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Text that would close the quantization_param block early and add fields elsewhere in the net is
  // left out: that is the prototxt target's ground, and it would make the net here unbounded.
  if (text.find_first_of("{}") != std::string::npos) return 0;
  condense::QuantizationParameter param;
  try {
    condense::ParseTextProto(text, "fuzz quantization_param", &param);
  } catch (const condense::Error&) {
    return 0;
  }
  try {
    const condense::LayerFormats formats = condense::ReadLayerFormats(param, "fuzz layer");
    for (const condense::TensorFormat* format :
         {&formats.input, &formats.output, &formats.weights, &formats.bias}) {
      ApplyFormat(*format);
    }
  } catch (const condense::Error&) {
  }
  for (condense::Phase phase : {condense::TRAIN, condense::TEST}) {
    try {
      condense::NetParameter net_param;
      condense::ParseTextProto(NetWith(text), "fuzz net", &net_param);
      net_param.mutable_state()->set_phase(phase);
      condense::Net net(net_param, "fuzz net");
      net.Forward();
      net.Backward();
    } catch (const condense::Error&) {
    }
  }
  return 0;
}
