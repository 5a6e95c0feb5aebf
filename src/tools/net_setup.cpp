#include "net_setup.hpp"

#include <glog/logging.h>

#include "condense/core/error.hpp"
#include "flags.hpp"

namespace condense::tools {

void CopyWeightsFromFlag(const std::string& weights, Net* net) {
  for (const std::string& path : SplitCommas(weights)) {
    LOG(INFO) << "Copying weights from " << path;
    net->CopyTrainedLayersFromFile(path);
  }
}

std::unique_ptr<Net> NetFromFlags(const char* verb, Phase default_phase) {
  RequireFlag(FLAGS_model, "model", verb);
  std::unique_ptr<Net> net =
      Net::FromFile(FLAGS_model, PhaseFromFlag(default_phase), FLAGS_level, StagesFromFlag());
  CopyWeightsFromFlag(FLAGS_weights, net.get());
  return net;
}

int64_t BatchSize(const Net& net) {
  if (net.blobs().empty() || net.blobs()[0]->num_axes() == 0) return 1;
  return net.blobs()[0]->shape(0);
}

}  // namespace condense::tools
