// Resume exactness: training to N, snapshotting, and resuming from the .solverstate to M gives weights
// bit-identical to one uninterrupted run to M, for every update rule and for the stateful multistep
// policy. The data of an iteration is made a function of the iteration number (a callback sets the
// test data layer's position), since data layers restart from their beginning on resume.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "condense/core/file_io.hpp"
#include "condense/solver/solver.hpp"
#include "solver_test_nets.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using testing::BaseSolver;
using testing::FeedByIteration;
using testing::ParamValues;
using testing::RegressionNet;

struct ResumeCase {
  const char* name;
  const char* type;
  float momentum;
  const char* lr_policy;
  int iter_size;
};

void PrintTo(const ResumeCase& c, std::ostream* out) { *out << c.name; }

class ResumeTest : public ::testing::TestWithParam<ResumeCase> {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("condense_resume_test_"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SolverParameter Param(int max_iter) const {
    const ResumeCase& c = GetParam();
    SolverParameter param = BaseSolver(RegressionNet(kBatch, 3, 2), max_iter);
    param.set_type(c.type);
    param.set_momentum(c.momentum);
    param.set_weight_decay(0.001f);
    param.set_iter_size(c.iter_size);
    param.set_lr_policy(c.lr_policy);
    param.set_base_lr(std::string(c.type) == "AdaDelta" ? 1.0f : 0.05f);
    param.set_gamma(0.5f);
    param.set_power(0.75f);
    param.set_stepsize(2);
    // A step value at every early iteration: a run that forgot current_step would lag behind.
    for (int value : {1, 2, 3, 4}) param.add_stepvalue(value);
    param.set_snapshot_prefix(dir_ + "/run");
    return param;
  }

  static constexpr int kBatch = 4;
  std::string dir_;
};

TEST_P(ResumeTest, ResumedRunEqualsUninterruptedRun) {
  constexpr int kSnapshotAt = 3;
  constexpr int kEnd = 7;
  SolverParameter whole_param = Param(kEnd);
  whole_param.set_snapshot_after_train(false);
  Solver whole(whole_param);
  FeedByIteration(&whole, kBatch);
  whole.Solve();
  ASSERT_EQ(whole.iter(), kEnd);

  SolverParameter first_param = Param(kSnapshotAt);
  first_param.set_snapshot_after_train(true);
  {
    Solver first(first_param);
    FeedByIteration(&first, kBatch);
    first.Solve();
  }
  const std::string state = dir_ + "/run_iter_3.solverstate";
  ASSERT_TRUE(FileExists(state));

  // A different seed: every weight must come from the snapshot, none from the fillers.
  SolverParameter second_param = Param(kEnd);
  second_param.set_random_seed(4321);
  second_param.set_snapshot_after_train(false);
  Solver second(second_param);
  FeedByIteration(&second, kBatch);
  second.Solve(state);
  EXPECT_EQ(second.iter(), kEnd);
  EXPECT_EQ(second.current_step(), whole.current_step());

  const std::vector<float> expected = ParamValues(*whole.net());
  const std::vector<float> actual = ParamValues(*second.net());
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_EQ(std::memcmp(actual.data(), expected.data(), actual.size() * sizeof(float)), 0)
      << "resumed weights differ from the uninterrupted run";
  ASSERT_EQ(second.history().size(), whole.history().size());
  for (size_t i = 0; i < whole.history().size(); ++i) {
    EXPECT_EQ(std::memcmp(second.history()[i]->data(), whole.history()[i]->data(),
                          whole.history()[i]->count() * sizeof(float)),
              0)
        << "history blob " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllRules, ResumeTest,
    ::testing::Values(ResumeCase{"SgdMultistep", "SGD", 0.9f, "multistep", 1},
                      ResumeCase{"SgdIterSize2", "SGD", 0.9f, "inv", 2},
                      ResumeCase{"Nesterov", "Nesterov", 0.9f, "step", 1},
                      ResumeCase{"AdaGrad", "AdaGrad", 0.0f, "fixed", 1},
                      ResumeCase{"RMSProp", "RMSProp", 0.0f, "exp", 1},
                      ResumeCase{"AdaDelta", "AdaDelta", 0.95f, "fixed", 1},
                      ResumeCase{"Adam", "Adam", 0.9f, "multistep", 1}),
    [](const ::testing::TestParamInfo<ResumeCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace condense
