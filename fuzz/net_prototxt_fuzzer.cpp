// Fuzz target: a text prototxt as `condense time/test --model` reads it: parse, upgrade (V1 layers,
// net-level inputs, deprecated fields), build the Net, and when its blobs are small run one forward
// and backward pass. Every outcome but success or condense::Error is a finding.
//
// Layers that read files named in the prototxt (Data, ImageData, HDF5Data, WindowData, mean_file) are
// turned into DummyData of a small fixed size with the same tops, so the rest of the net is still built
// and the fuzzer never opens files the input names (a FIFO or /dev/stdin would block it).
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>

#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "fuzz_support.hpp"

namespace {

// Forward runs only on small nets: its time grows with about activations x parameters (a convolution
// applies each weight at every output position), and a slow input is not a finding.
constexpr int64_t kMaxForwardFloats = int64_t{1} << 20;
constexpr int64_t kMaxForwardWork = int64_t{1} << 32;

bool ReadsFiles(const condense::LayerParameter& layer) {
  static const std::set<std::string> kFileReadingTypes = {"Data", "ImageData", "HDF5Data",
                                                          "WindowData", "HDF5Output", "Python"};
  return kFileReadingTypes.count(layer.type()) > 0 || layer.transform_param().has_mean_file();
}

void ReplaceWithDummyData(condense::LayerParameter* layer) {
  condense::LayerParameter dummy;
  dummy.set_name(layer->name());
  dummy.set_type("DummyData");
  *dummy.mutable_top() = layer->top();
  *dummy.mutable_include() = layer->include();
  *dummy.mutable_exclude() = layer->exclude();
  for (int i = 0; i < layer->top_size(); ++i) {
    condense::BlobShape* shape = dummy.mutable_dummy_data_param()->add_shape();
    shape->add_dim(2);
    if (i == 0) {
      shape->add_dim(1);
      shape->add_dim(8);
      shape->add_dim(8);
    }
  }
  *layer = dummy;
}

bool SmallEnoughToRun(const condense::Net& net) {
  int64_t activations = 0, parameters = 0;
  for (const auto& blob : net.blobs()) activations += blob->count();
  for (const auto& layer : net.layers()) {
    for (const auto& blob : layer->blobs()) parameters += blob->count();
  }
  return activations <= kMaxForwardFloats && parameters <= kMaxForwardFloats &&
         activations * std::max<int64_t>(parameters, 1) <= kMaxForwardWork;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  condense::fuzz::InitTarget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    condense::NetParameter param;
    condense::ParseTextProto(text, "fuzz.prototxt", &param);
    condense::UpgradeNetAsNeeded("fuzz.prototxt", &param);
    for (condense::LayerParameter& layer : *param.mutable_layer()) {
      if (ReadsFiles(layer)) ReplaceWithDummyData(&layer);
    }
    condense::Net net(param, "fuzz.prototxt");
    if (SmallEnoughToRun(net)) {
      net.Forward();
      net.Backward();
    }
  } catch (const condense::Error&) {
    // A clear error is the expected answer to a broken prototxt.
  }
  return 0;
}
