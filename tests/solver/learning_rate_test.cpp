// Each lr_policy against its formula at several iterations, and the policy checks.
#include "condense/solver/learning_rate.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "condense/core/error.hpp"

namespace condense {
namespace {

SolverParameter Policy(const std::string& name) {
  SolverParameter param;
  param.set_lr_policy(name);
  param.set_base_lr(0.01f);
  param.set_gamma(0.5f);
  param.set_power(0.75f);
  param.set_stepsize(10);
  param.set_max_iter(100);
  return param;
}

float Rate(const SolverParameter& param, int iter) {
  int step = 0;
  return LearningRate(param, iter, &step);
}

TEST(LearningRateTest, FixedIsBaseLr) {
  const SolverParameter param = Policy("fixed");
  for (int iter : {0, 1, 50, 1000}) EXPECT_FLOAT_EQ(Rate(param, iter), 0.01f);
}

TEST(LearningRateTest, StepDropsByGammaEveryStepsize) {
  const SolverParameter param = Policy("step");
  EXPECT_FLOAT_EQ(Rate(param, 0), 0.01f);
  EXPECT_FLOAT_EQ(Rate(param, 9), 0.01f);
  EXPECT_FLOAT_EQ(Rate(param, 10), 0.005f);
  EXPECT_FLOAT_EQ(Rate(param, 29), 0.0025f);
  EXPECT_FLOAT_EQ(Rate(param, 30), 0.00125f);
  int step = 0;
  LearningRate(param, 35, &step);
  EXPECT_EQ(step, 3);
}

TEST(LearningRateTest, ExpIsGammaToTheIter) {
  SolverParameter param = Policy("exp");
  param.set_gamma(0.99f);
  for (int iter : {0, 1, 7, 100}) {
    EXPECT_FLOAT_EQ(Rate(param, iter), static_cast<float>(0.01 * std::pow(static_cast<double>(0.99f), iter)));
  }
}

TEST(LearningRateTest, InvMatchesCaffeLenetSchedule) {
  // lenet_solver.prototxt: base_lr 0.01, gamma 1e-4, power 0.75.
  SolverParameter param = Policy("inv");
  param.set_gamma(0.0001f);
  EXPECT_FLOAT_EQ(Rate(param, 0), 0.01f);
  EXPECT_NEAR(Rate(param, 100), 0.00992565f, 1e-8);  // Caffe logs "Iteration 100, lr = 0.00992565"
  EXPECT_NEAR(Rate(param, 5000), 0.00737788f, 1e-8);
  for (int iter : {1, 250, 9999}) {
    EXPECT_FLOAT_EQ(Rate(param, iter), static_cast<float>(0.01 * std::pow(1 + 1e-4 * iter, -0.75)));
  }
}

TEST(LearningRateTest, MultistepAdvancesOneStepValuePerCall) {
  SolverParameter param = Policy("multistep");
  param.add_stepvalue(3);
  param.add_stepvalue(5);
  param.add_stepvalue(8);
  int step = 0;
  const float expected[] = {0.01f, 0.01f, 0.01f, 0.005f, 0.005f, 0.0025f, 0.0025f, 0.0025f,
                            0.00125f, 0.00125f};
  for (int iter = 0; iter < 10; ++iter) {
    EXPECT_FLOAT_EQ(LearningRate(param, iter, &step), expected[iter]) << "iter " << iter;
  }
  EXPECT_EQ(step, 3);
  // Caffe's rule moves at most one step value per call: jumping past two takes two calls.
  int fresh = 0;
  EXPECT_FLOAT_EQ(LearningRate(param, 6, &fresh), 0.005f);
  EXPECT_FLOAT_EQ(LearningRate(param, 6, &fresh), 0.0025f);
}

TEST(LearningRateTest, PolyReachesZeroAtMaxIter) {
  SolverParameter param = Policy("poly");
  param.set_power(2.0f);
  EXPECT_FLOAT_EQ(Rate(param, 0), 0.01f);
  EXPECT_FLOAT_EQ(Rate(param, 50), 0.0025f);
  EXPECT_NEAR(Rate(param, 90), 1e-4, 1e-10);
  EXPECT_FLOAT_EQ(Rate(param, 100), 0.0f);
}

TEST(LearningRateTest, SigmoidIsHalfAtStepsize) {
  SolverParameter param = Policy("sigmoid");
  param.set_gamma(-0.1f);  // a decaying sigmoid needs negative gamma in Caffe's formula...
  EXPECT_THROW(CheckLearningRatePolicy(param, "s.prototxt"), Error);  // ...which Caffe refuses
  param.set_gamma(0.1f);
  EXPECT_FLOAT_EQ(Rate(param, 10), 0.005f);
  for (int iter : {0, 5, 20, 60}) {
    EXPECT_FLOAT_EQ(Rate(param, iter),
                    static_cast<float>(0.01 / (1.0 + std::exp(-0.1 * (iter - 10)))));
  }
}

TEST(LearningRateTest, ChecksNameAndParameters) {
  EXPECT_THROW(CheckLearningRatePolicy(Policy("cosine"), "s.prototxt"), Error);
  EXPECT_THROW(CheckLearningRatePolicy(Policy(""), "s.prototxt"), Error);
  SolverParameter step = Policy("step");
  step.set_stepsize(0);
  EXPECT_THROW(CheckLearningRatePolicy(step, "s.prototxt"), Error);
  SolverParameter poly = Policy("poly");
  poly.set_max_iter(0);
  EXPECT_THROW(CheckLearningRatePolicy(poly, "s.prototxt"), Error);
  try {
    CheckLearningRatePolicy(Policy("cosine"), "models/x_solver.prototxt");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("models/x_solver.prototxt"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("cosine"), std::string::npos);
  }
  for (const char* name : {"fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid"}) {
    EXPECT_NO_THROW(CheckLearningRatePolicy(Policy(name), "s.prototxt")) << name;
  }
}

}  // namespace
}  // namespace condense
