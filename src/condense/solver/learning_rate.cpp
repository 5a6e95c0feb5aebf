#include "condense/solver/learning_rate.hpp"

#include <cmath>
#include <string>

#include <glog/logging.h>

#include "condense/core/error.hpp"

namespace condense {

namespace {
std::string Where(const std::string& source) { return source.empty() ? "solver" : source; }
}  // namespace

void CheckLearningRatePolicy(const SolverParameter& param, const std::string& source) {
  const std::string& policy = param.lr_policy();
  const bool known = policy == "fixed" || policy == "step" || policy == "exp" || policy == "inv" ||
                     policy == "multistep" || policy == "poly" || policy == "sigmoid";
  CONDENSE_CHECK(known, Where(source), ": unknown lr_policy '", policy,
                 "' (known: fixed, step, exp, inv, multistep, poly, sigmoid)");
  if (policy == "step" || policy == "sigmoid") {
    CONDENSE_CHECK(param.stepsize() > 0, Where(source), ": lr_policy '", policy,
                   "' needs stepsize > 0, got ", param.stepsize());
  }
  if (policy != "fixed" && policy != "poly") {
    CONDENSE_CHECK(param.gamma() >= 0.0f, Where(source), ": lr_policy '", policy,
                   "' needs gamma >= 0, got ", param.gamma());
  }
  if (policy == "poly") {
    CONDENSE_CHECK(param.max_iter() > 0, Where(source),
                   ": lr_policy 'poly' decays to zero at max_iter, which must be > 0, got ",
                   param.max_iter());
  }
}

// Caffe computes these in float with double-precision pow(); doing the arithmetic in double and
// rounding once to float gives the same value or one ulp away.
float LearningRate(const SolverParameter& param, int iter, int* current_step) {
  const std::string& policy = param.lr_policy();
  const double base_lr = param.base_lr();
  const double gamma = param.gamma();
  if (policy == "fixed") return param.base_lr();
  if (policy == "step") {
    CONDENSE_CHECK(param.stepsize() > 0, "lr_policy 'step' needs stepsize > 0");
    *current_step = iter / param.stepsize();
    return static_cast<float>(base_lr * std::pow(gamma, *current_step));
  }
  if (policy == "exp") return static_cast<float>(base_lr * std::pow(gamma, iter));
  if (policy == "inv") {
    const float base = 1.0f + param.gamma() * static_cast<float>(iter);
    return static_cast<float>(base_lr * std::pow(static_cast<double>(base), -param.power()));
  }
  if (policy == "multistep") {
    if (*current_step < param.stepvalue_size() && iter >= param.stepvalue(*current_step)) {
      ++*current_step;
      LOG(INFO) << "MultiStep Status: Iteration " << iter << ", step = " << *current_step;
    }
    return static_cast<float>(base_lr * std::pow(gamma, *current_step));
  }
  if (policy == "poly") {
    const float remaining =
        1.0f - static_cast<float>(iter) / static_cast<float>(param.max_iter());
    return static_cast<float>(base_lr * std::pow(static_cast<double>(remaining), param.power()));
  }
  if (policy == "sigmoid") {
    const double offset = static_cast<double>(iter) - static_cast<double>(param.stepsize());
    return static_cast<float>(base_lr / (1.0 + std::exp(-gamma * offset)));
  }
  Fail("unknown lr_policy '", policy, "' (known: fixed, step, exp, inv, multistep, poly, sigmoid)");
}

}  // namespace condense
