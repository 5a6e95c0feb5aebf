// The update rules of Caffe's SGD family (SolverParameter.type): SGD with momentum, Nesterov, AdaGrad,
// RMSProp, AdaDelta and Adam. A rule turns one parameter's gradient (already clipped, averaged over
// iter_size and regularised by the solver) into the step that Blob::Update subtracts, keeping its
// per-parameter history between iterations. Rules work on plain arrays and know nothing of nets, so each
// formula can be checked on a hand-computed case; the solver owns the history blobs and saves them in
// its snapshots in Caffe's order (all first histories, then all second ones for AdaDelta and Adam).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "condense/proto/condense.pb.h"

namespace condense {

// One parameter blob as a rule sees it; every array holds `count` floats.
struct ParamUpdate {
  int64_t count = 0;
  // In: the gradient. Out: the step to subtract from the parameter.
  float* diff = nullptr;
  // history[0..HistoryBlobsPerParam()-1]: the rule's memory, zero before the first update.
  float* history[2] = {nullptr, nullptr};
  // Work space whose contents do not survive the call.
  float* scratch[2] = {nullptr, nullptr};
};

class UpdateRule {
 public:
  virtual ~UpdateRule() = default;
  // Caffe's type name ("SGD", "Adam", ...).
  virtual const char* type() const = 0;
  // 1, or 2 for AdaDelta and Adam (squared-gradient and squared-update / first and second moment).
  virtual int HistoryBlobsPerParam() const { return 1; }
  // `iter` counts the updates done before this one (Adam's bias correction uses iter + 1);
  // `local_rate` is the policy's rate times the parameter's lr_mult.
  virtual void ComputeUpdate(int iter, float local_rate, const ParamUpdate& param) const = 0;
};

// The rule named by param.type (the deprecated solver_type enum must have been upgraded already).
// Throws, naming `source` and the field, on an unknown type or hyper-parameters the rule refuses
// (momentum with AdaGrad or RMSProp, rms_decay outside [0, 1)).
std::unique_ptr<UpdateRule> CreateUpdateRule(const SolverParameter& param, const std::string& source);
std::vector<std::string> UpdateRuleTypes();

}  // namespace condense
