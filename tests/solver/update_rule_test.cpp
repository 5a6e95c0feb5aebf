// Each update rule on one three-element parameter with known gradients over three steps, against the
// rule's textbook formula computed in double, plus a few values worked out by hand.
#include "condense/solver/update_rule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "condense/core/error.hpp"

namespace condense {
namespace {

using Steps = std::vector<std::vector<float>>;

const Steps kGradients = {{1.0f, -2.0f, 0.5f}, {2.0f, 0.25f, -1.0f}, {-0.5f, 1.5f, 3.0f}};

SolverParameter Rule(const std::string& type, float momentum) {
  SolverParameter param;
  param.set_type(type);
  param.set_momentum(momentum);
  return param;
}

// Runs the rule over the gradients with the given local rate; returns the step of every iteration.
Steps RunRule(const SolverParameter& param, float local_rate, const Steps& gradients = kGradients) {
  const std::unique_ptr<UpdateRule> rule = CreateUpdateRule(param, "test");
  const size_t n = gradients[0].size();
  std::vector<float> history[2] = {std::vector<float>(n, 0.0f), std::vector<float>(n, 0.0f)};
  std::vector<float> scratch[2] = {std::vector<float>(n), std::vector<float>(n)};
  Steps steps;
  for (size_t iter = 0; iter < gradients.size(); ++iter) {
    std::vector<float> diff = gradients[iter];
    ParamUpdate update;
    update.count = static_cast<int64_t>(n);
    update.diff = diff.data();
    for (int k = 0; k < 2; ++k) {
      update.history[k] = history[k].data();
      update.scratch[k] = scratch[k].data();
    }
    rule->ComputeUpdate(static_cast<int>(iter), local_rate, update);
    steps.push_back(diff);
  }
  return steps;
}

void ExpectSteps(const Steps& actual, const std::vector<std::vector<double>>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t t = 0; t < actual.size(); ++t) {
    for (size_t i = 0; i < actual[t].size(); ++i) {
      EXPECT_NEAR(actual[t][i], expected[t][i], 1e-6 * std::max(1.0, std::fabs(expected[t][i])))
          << "step " << t << " element " << i;
    }
  }
}

TEST(UpdateRuleTest, SgdMomentumByHand) {
  // v1 = 0.1 * 1 = 0.1; v2 = 0.9 * 0.1 + 0.1 * 2 = 0.29; v3 = 0.9 * 0.29 + 0.1 * -0.5 = 0.211.
  const Steps steps = RunRule(Rule("SGD", 0.9f), 0.1f);
  EXPECT_NEAR(steps[0][0], 0.1f, 1e-7);
  EXPECT_NEAR(steps[1][0], 0.29f, 1e-7);
  EXPECT_NEAR(steps[2][0], 0.211f, 1e-7);
}

TEST(UpdateRuleTest, SgdMatchesFormula) {
  const double lr = 0.05, m = 0.8;
  std::vector<std::vector<double>> expected;
  std::vector<double> v(3, 0.0);
  for (const auto& g : kGradients) {
    for (int i = 0; i < 3; ++i) v[i] = m * v[i] + lr * g[i];
    expected.push_back(v);
  }
  ExpectSteps(RunRule(Rule("SGD", 0.8f), 0.05f), expected);
  // Without momentum the step is the scaled gradient.
  const Steps plain = RunRule(Rule("SGD", 0.0f), 0.5f);
  EXPECT_FLOAT_EQ(plain[1][1], 0.125f);
}

TEST(UpdateRuleTest, NesterovMatchesFormula) {
  const double lr = 0.05, m = 0.9;
  std::vector<std::vector<double>> expected;
  std::vector<double> v(3, 0.0);
  for (const auto& g : kGradients) {
    std::vector<double> step(3);
    for (int i = 0; i < 3; ++i) {
      const double previous = v[i];
      v[i] = m * v[i] + lr * g[i];
      step[i] = (1 + m) * v[i] - m * previous;
    }
    expected.push_back(step);
  }
  ExpectSteps(RunRule(Rule("Nesterov", 0.9f), 0.05f), expected);
}

TEST(UpdateRuleTest, AdaGradByHandAndFormula) {
  SolverParameter param = Rule("AdaGrad", 0.0f);
  param.set_delta(0.0f);
  // Gradients 3 then 4: h = 9, step 3 / 3 = 1; h = 25, step 4 / 5 = 0.8.
  const Steps by_hand = RunRule(param, 1.0f, {{3.0f}, {4.0f}});
  EXPECT_FLOAT_EQ(by_hand[0][0], 1.0f);
  EXPECT_FLOAT_EQ(by_hand[1][0], 0.8f);

  param.set_delta(1e-3f);
  const double lr = 0.1, delta = 1e-3;
  std::vector<std::vector<double>> expected;
  std::vector<double> h(3, 0.0);
  for (const auto& g : kGradients) {
    std::vector<double> step(3);
    for (int i = 0; i < 3; ++i) {
      h[i] += double(g[i]) * g[i];
      step[i] = lr * g[i] / (std::sqrt(h[i]) + delta);
    }
    expected.push_back(step);
  }
  ExpectSteps(RunRule(param, 0.1f), expected);
}

TEST(UpdateRuleTest, RmsPropMatchesFormula) {
  SolverParameter param = Rule("RMSProp", 0.0f);
  param.set_rms_decay(0.9f);
  param.set_delta(1e-4f);
  const double lr = 0.01, decay = 0.9, delta = 1e-4;
  std::vector<std::vector<double>> expected;
  std::vector<double> h(3, 0.0);
  for (const auto& g : kGradients) {
    std::vector<double> step(3);
    for (int i = 0; i < 3; ++i) {
      h[i] = decay * h[i] + (1 - decay) * g[i] * g[i];
      step[i] = lr * g[i] / (std::sqrt(h[i]) + delta);
    }
    expected.push_back(step);
  }
  ExpectSteps(RunRule(param, 0.01f), expected);
}

TEST(UpdateRuleTest, AdaDeltaMatchesFormula) {
  SolverParameter param = Rule("AdaDelta", 0.95f);
  param.set_delta(1e-6f);
  const double lr = 1.0, m = 0.95, delta = 1e-6;
  std::vector<std::vector<double>> expected;
  std::vector<double> squared_gradients(3, 0.0), squared_updates(3, 0.0);
  for (const auto& g : kGradients) {
    std::vector<double> step(3);
    for (int i = 0; i < 3; ++i) {
      squared_gradients[i] = m * squared_gradients[i] + (1 - m) * g[i] * g[i];
      const double update =
          g[i] * std::sqrt((squared_updates[i] + delta) / (squared_gradients[i] + delta));
      squared_updates[i] = m * squared_updates[i] + (1 - m) * update * update;
      step[i] = lr * update;
    }
    expected.push_back(step);
  }
  ExpectSteps(RunRule(param, 1.0f), expected);
}

TEST(UpdateRuleTest, AdamMatchesFormula) {
  SolverParameter param = Rule("Adam", 0.9f);
  param.set_momentum2(0.999f);
  param.set_delta(1e-8f);
  const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<std::vector<double>> expected;
  std::vector<double> m(3, 0.0), v(3, 0.0);
  int t = 0;
  for (const auto& g : kGradients) {
    ++t;
    std::vector<double> step(3);
    // Caffe folds the bias corrections into the rate: eps is added to the uncorrected sqrt(v).
    const double correction = std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    for (int i = 0; i < 3; ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      step[i] = lr * correction * m[i] / (std::sqrt(v[i]) + eps);
    }
    expected.push_back(step);
  }
  const Steps steps = RunRule(param, 0.001f);
  ExpectSteps(steps, expected);
  // Adam's first step is about lr in the gradient's direction, whatever its size.
  EXPECT_NEAR(steps[0][0], 0.001f, 1e-8);
  EXPECT_NEAR(steps[0][1], -0.001f, 1e-8);
}

TEST(UpdateRuleTest, HistoryCounts) {
  EXPECT_EQ(CreateUpdateRule(Rule("SGD", 0.9f), "s")->HistoryBlobsPerParam(), 1);
  EXPECT_EQ(CreateUpdateRule(Rule("Nesterov", 0.9f), "s")->HistoryBlobsPerParam(), 1);
  EXPECT_EQ(CreateUpdateRule(Rule("AdaGrad", 0.0f), "s")->HistoryBlobsPerParam(), 1);
  EXPECT_EQ(CreateUpdateRule(Rule("RMSProp", 0.0f), "s")->HistoryBlobsPerParam(), 1);
  EXPECT_EQ(CreateUpdateRule(Rule("AdaDelta", 0.9f), "s")->HistoryBlobsPerParam(), 2);
  EXPECT_EQ(CreateUpdateRule(Rule("Adam", 0.9f), "s")->HistoryBlobsPerParam(), 2);
  for (const std::string& type : UpdateRuleTypes()) {
    const float momentum = type == "AdaGrad" || type == "RMSProp" ? 0.0f : 0.9f;
    EXPECT_EQ(CreateUpdateRule(Rule(type, momentum), "s")->type(), type);
  }
}

TEST(UpdateRuleTest, RefusesWhatCaffeRefuses) {
  EXPECT_THROW(CreateUpdateRule(Rule("AdaGrad", 0.9f), "s"), Error);
  EXPECT_THROW(CreateUpdateRule(Rule("RMSProp", 0.5f), "s"), Error);
  SolverParameter rms = Rule("RMSProp", 0.0f);
  rms.set_rms_decay(1.0f);
  EXPECT_THROW(CreateUpdateRule(rms, "s"), Error);
  try {
    CreateUpdateRule(Rule("Adagrad", 0.0f), "my_solver.prototxt");
    FAIL();
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("my_solver.prototxt"), std::string::npos) << message;
    EXPECT_NE(message.find("'Adagrad'"), std::string::npos) << message;
    EXPECT_NE(message.find("AdaGrad"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace condense
