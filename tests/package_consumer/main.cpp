// Builds a tiny net from a text NetParameter with the installed condense and runs it forward: a 3x3
// all-ones convolution over an all-ones 4x4 image gives 9 everywhere, and the softmax over its two
// identical channels gives 0.5. Exits 0 when the numbers come out, 1 otherwise.
#include <cmath>
#include <iostream>

#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/net.hpp"

namespace {

const char kNet[] = R"(
name: "consumer"
layer { name: "data" type: "Input" top: "data"
        input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 2 kernel_size: 3
                            weight_filler { type: "constant" value: 1 } } }
layer { name: "prob" type: "Softmax" bottom: "conv" top: "prob" }
)";

bool Near(float actual, float expected) { return std::abs(actual - expected) < 1e-5f; }

}  // namespace

int main() {
  try {
    condense::NetParameter param;
    condense::ParseTextProto(kNet, "consumer net", &param);
    param.mutable_state()->set_phase(condense::TEST);
    condense::Net net(param, "consumer net");
    net.blob_by_name("data")->SetData(1.0f);
    net.Forward();
    const condense::Blob& conv = *net.blob_by_name("conv");
    const condense::Blob& prob = *net.blob_by_name("prob");
    bool ok = conv.count() == 8 && prob.count() == 8;
    for (int64_t i = 0; ok && i < conv.count(); ++i) {
      ok = Near(conv.data()[i], 9.0f) && Near(prob.data()[i], 0.5f);
    }
    std::cout << "conv " << conv.shape_string() << " = " << conv.data()[0] << ", prob = " << prob.data()[0]
              << (ok ? ": ok" : ": WRONG") << std::endl;
    return ok ? 0 : 1;
  } catch (const condense::Error& error) {
    std::cerr << "package_consumer: " << error.what() << std::endl;
    return 1;
  }
}
