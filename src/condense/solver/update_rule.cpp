#include "condense/solver/update_rule.hpp"

#include <cmath>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"

namespace condense {

namespace {

// The operations and their order follow Caffe's ComputeUpdateValue of each solver, so the float
// rounding matches too: a run resumed from a Caffe .solverstate continues the same trajectory.

class SgdRule : public UpdateRule {
 public:
  explicit SgdRule(float momentum) : momentum_(momentum) {}
  const char* type() const override { return "SGD"; }
  void ComputeUpdate(int, float local_rate, const ParamUpdate& p) const override {
    // history = local_rate * gradient + momentum * history; the step is the new history.
    Axpby(p.count, local_rate, p.diff, momentum_, p.history[0]);
    Copy(p.count, p.history[0], p.diff);
  }

 private:
  float momentum_;
};

class NesterovRule : public UpdateRule {
 public:
  explicit NesterovRule(float momentum) : momentum_(momentum) {}
  const char* type() const override { return "Nesterov"; }
  void ComputeUpdate(int, float local_rate, const ParamUpdate& p) const override {
    float* previous = p.scratch[0];
    Copy(p.count, p.history[0], previous);
    Axpby(p.count, local_rate, p.diff, momentum_, p.history[0]);
    // Step back by the old momentum and over-step by the new: (1 + m) * h_new - m * h_old.
    Axpby(p.count, 1.0f + momentum_, p.history[0], -momentum_, previous);
    Copy(p.count, previous, p.diff);
  }

 private:
  float momentum_;
};

class AdaGradRule : public UpdateRule {
 public:
  explicit AdaGradRule(float delta) : delta_(delta) {}
  const char* type() const override { return "AdaGrad"; }
  void ComputeUpdate(int, float local_rate, const ParamUpdate& p) const override {
    float* work = p.scratch[0];
    Square(p.count, p.diff, work);
    Add(p.count, work, p.history[0], p.history[0]);
    Sqrt(p.count, p.history[0], work);
    AddScalar(p.count, delta_, work);
    Div(p.count, p.diff, work, work);
    Scale(p.count, local_rate, work, p.diff);
  }

 private:
  float delta_;
};

class RmsPropRule : public UpdateRule {
 public:
  RmsPropRule(float rms_decay, float delta) : rms_decay_(rms_decay), delta_(delta) {}
  const char* type() const override { return "RMSProp"; }
  void ComputeUpdate(int, float local_rate, const ParamUpdate& p) const override {
    float* work = p.scratch[0];
    Square(p.count, p.diff, work);
    Axpby(p.count, 1.0f - rms_decay_, work, rms_decay_, p.history[0]);
    Sqrt(p.count, p.history[0], work);
    AddScalar(p.count, delta_, work);
    Div(p.count, p.diff, work, work);
    Scale(p.count, local_rate, work, p.diff);
  }

 private:
  float rms_decay_;
  float delta_;
};

class AdaDeltaRule : public UpdateRule {
 public:
  AdaDeltaRule(float momentum, float delta) : momentum_(momentum), delta_(delta) {}
  const char* type() const override { return "AdaDelta"; }
  int HistoryBlobsPerParam() const override { return 2; }
  void ComputeUpdate(int, float local_rate, const ParamUpdate& p) const override {
    float* squared_gradients = p.history[0];
    float* squared_updates = p.history[1];
    float* work = p.scratch[0];
    float* denominator = p.scratch[1];
    Square(p.count, p.diff, work);
    Axpby(p.count, 1.0f - momentum_, work, momentum_, squared_gradients);
    // RMS of past updates over RMS of gradients, each guarded by delta.
    Set(p.count, delta_, denominator);
    Add(p.count, denominator, squared_updates, work);
    Add(p.count, denominator, squared_gradients, denominator);
    Div(p.count, work, denominator, work);
    Sqrt(p.count, work, work);
    Mul(p.count, p.diff, work, p.diff);
    Square(p.count, p.diff, work);
    Axpby(p.count, 1.0f - momentum_, work, momentum_, squared_updates);
    Scale(p.count, local_rate, p.diff);
  }

 private:
  float momentum_;
  float delta_;
};

class AdamRule : public UpdateRule {
 public:
  AdamRule(float beta1, float beta2, float epsilon)
      : beta1_(beta1), beta2_(beta2), epsilon_(epsilon) {}
  const char* type() const override { return "Adam"; }
  int HistoryBlobsPerParam() const override { return 2; }
  void ComputeUpdate(int iter, float local_rate, const ParamUpdate& p) const override {
    float* first_moment = p.history[0];
    float* second_moment = p.history[1];
    float* work = p.scratch[0];
    const int t = iter + 1;
    const float correction = static_cast<float>(std::sqrt(1.0 - std::pow(beta2_, t)) /
                                                (1.0 - std::pow(beta1_, t)));
    Axpby(p.count, 1.0f - beta1_, p.diff, beta1_, first_moment);
    Mul(p.count, p.diff, p.diff, work);
    Axpby(p.count, 1.0f - beta2_, work, beta2_, second_moment);
    Sqrt(p.count, second_moment, work);
    AddScalar(p.count, epsilon_, work);
    Div(p.count, first_moment, work, work);
    Scale(p.count, local_rate * correction, work, p.diff);
  }

 private:
  float beta1_;
  float beta2_;
  float epsilon_;
};

std::string Where(const std::string& source) { return source.empty() ? "solver" : source; }

}  // namespace

std::vector<std::string> UpdateRuleTypes() {
  return {"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"};
}

std::unique_ptr<UpdateRule> CreateUpdateRule(const SolverParameter& param, const std::string& source) {
  const std::string& type = param.type();
  if (type == "SGD") return std::make_unique<SgdRule>(param.momentum());
  if (type == "Nesterov") return std::make_unique<NesterovRule>(param.momentum());
  if (type == "AdaGrad" || type == "RMSProp") {
    CONDENSE_CHECK(param.momentum() == 0.0f, Where(source), ": momentum cannot be used with ", type,
                   " (momentum: ", param.momentum(), ")");
  }
  if (type == "AdaGrad") return std::make_unique<AdaGradRule>(param.delta());
  if (type == "RMSProp") {
    CONDENSE_CHECK(param.rms_decay() >= 0.0f && param.rms_decay() < 1.0f, Where(source),
                   ": rms_decay must lie in [0, 1), got ", param.rms_decay());
    return std::make_unique<RmsPropRule>(param.rms_decay(), param.delta());
  }
  if (type == "AdaDelta") return std::make_unique<AdaDeltaRule>(param.momentum(), param.delta());
  if (type == "Adam") {
    return std::make_unique<AdamRule>(param.momentum(), param.momentum2(), param.delta());
  }
  std::string known;
  for (const std::string& name : UpdateRuleTypes()) known += (known.empty() ? "" : ", ") + name;
  Fail(Where(source), ": unknown solver type '", type, "' (known: ", known, ")");
}

}  // namespace condense
