// Fuzz target: a binary .caffemodel loaded into LeNet (models/lenet/lenet_deploy.prototxt), as
// `condense test --weights` does: read the whole file as a NetParameter, upgrade it (V1 layers), and
// copy every blob whose layer name matches into the net, checking counts and shapes. A forward pass
// with the loaded weights follows, so weights that were accepted are also used.
#include <cstdint>
#include <memory>
#include <string>

#include "condense/core/error.hpp"
#include "condense/net/net.hpp"
#include "fuzz_support.hpp"

namespace {

condense::Net* LeNet() {
  static std::unique_ptr<condense::Net> net =
      condense::Net::FromFile(CONDENSE_SOURCE_DIR "/models/lenet/lenet_deploy.prototxt", condense::TEST);
  return net.get();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  condense::fuzz::InitTarget();
  LeNet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = condense::fuzz::InputFile().Write(data, size);
  try {
    LeNet()->CopyTrainedLayersFromFile(path);
    LeNet()->Forward();
  } catch (const condense::Error&) {
  }
  return 0;
}
