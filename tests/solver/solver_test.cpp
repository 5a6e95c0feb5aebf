// The Solver on small regression nets: one update step against the gradient a twin net computes
// (momentum, L2 and L1 decay, lr_mult and decay_mult, gradient clipping), iter_size against a doubled
// batch, seeding, test nets and their scores, snapshots and their contents, and the set-up errors.
#include "condense/solver/solver.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "solver_test_nets.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using testing::BaseSolver;
using testing::ParamValues;
using testing::RegressionNet;

std::string ErrorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// A net equal to the solver's training net, with the same weights and its data at the same position.
std::unique_ptr<Net> TwinOf(const Solver& solver, const NetParameter& net_param) {
  NetParameter param = net_param;
  param.mutable_state()->set_phase(TRAIN);
  auto twin = std::make_unique<Net>(param);
  for (size_t i = 0; i < twin->learnable_params().size(); ++i) {
    twin->learnable_params()[i]->CopyFrom(*solver.net()->learnable_params()[i]);
  }
  return twin;
}

// The gradient the twin computes at its current weights and data position.
std::vector<float> Gradient(Net* twin) {
  twin->ClearParamDiffs();
  twin->ForwardBackward();
  std::vector<float> gradient;
  for (const Blob* blob : twin->learnable_params()) {
    gradient.insert(gradient.end(), blob->diff(), blob->diff() + blob->count());
  }
  return gradient;
}

// lr_mult / decay_mult of every element of the linear net's parameters: weights (1, 1), bias (2, 0).
NetParameter LinearNetWithMultipliers() {
  NetParameter net = RegressionNet(4, 3, 2, 0);
  for (LayerParameter& layer : *net.mutable_layer()) {
    if (layer.name() != "output") continue;
    ParamSpec* weights = layer.add_param();
    weights->set_lr_mult(1.0f);
    weights->set_decay_mult(1.0f);
    ParamSpec* bias = layer.add_param();
    bias->set_lr_mult(2.0f);
    bias->set_decay_mult(0.0f);
  }
  return net;
}

void ExpectNear(const std::vector<float>& actual, const std::vector<double>& expected,
                double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance) << "element " << i;
  }
}

TEST(SolverTest, TwoSgdStepsWithMomentumAndL2DecayMatchTheGradient) {
  const NetParameter net = LinearNetWithMultipliers();
  SolverParameter param = BaseSolver(net, 10);
  param.set_momentum(0.9f);
  param.set_weight_decay(0.01f);
  Solver solver(param);
  std::unique_ptr<Net> twin = TwinOf(solver, net);
  // 6 weights with (lr_mult, decay_mult) = (1, 1), then 2 biases with (2, 0).
  const std::vector<double> lr_mult = {1, 1, 1, 1, 1, 1, 2, 2};
  const std::vector<double> decay_mult = {1, 1, 1, 1, 1, 1, 0, 0};

  std::vector<float> weights = ParamValues(*solver.net());
  std::vector<double> history(weights.size(), 0.0);
  for (int step = 0; step < 2; ++step) {
    const std::vector<float> gradient = Gradient(twin.get());
    std::vector<double> expected(weights.size());
    for (size_t i = 0; i < weights.size(); ++i) {
      const double regularized = gradient[i] + 0.01 * decay_mult[i] * weights[i];
      history[i] = 0.9 * history[i] + 0.1 * lr_mult[i] * regularized;
      expected[i] = weights[i] - history[i];
    }
    solver.Step(1);
    ExpectNear(ParamValues(*solver.net()), expected, 1e-6);
    weights = ParamValues(*solver.net());
    for (size_t i = 0; i < twin->learnable_params().size(); ++i) {
      twin->learnable_params()[i]->CopyFrom(*solver.net()->learnable_params()[i]);
    }
  }
  EXPECT_EQ(solver.iter(), 2);
}

TEST(SolverTest, L1DecayAddsTheSignOfTheWeights) {
  const NetParameter net = LinearNetWithMultipliers();
  SolverParameter param = BaseSolver(net, 10);
  param.set_weight_decay(0.05f);
  param.set_regularization_type("L1");
  Solver solver(param);
  std::unique_ptr<Net> twin = TwinOf(solver, net);
  const std::vector<float> weights = ParamValues(*solver.net());
  const std::vector<float> gradient = Gradient(twin.get());
  std::vector<double> expected(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    const bool is_bias = i >= 6;
    const double sign = (weights[i] > 0) - (weights[i] < 0);
    const double regularized = gradient[i] + (is_bias ? 0.0 : 0.05 * sign);
    expected[i] = weights[i] - 0.1 * (is_bias ? 2.0 : 1.0) * regularized;
  }
  solver.Step(1);
  ExpectNear(ParamValues(*solver.net()), expected, 1e-6);
}

TEST(SolverTest, UnknownRegularizationIsRefusedWhenDecayIsOn) {
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2, 0), 10);
  param.set_regularization_type("L3");
  EXPECT_NO_THROW(Solver solver(param));  // no decay: Caffe never looks at the type
  param.set_weight_decay(0.1f);
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("regularization_type 'L3'"),
            std::string::npos);
}

TEST(SolverTest, ClipGradientsScalesToTheGlobalNorm) {
  const NetParameter net = RegressionNet(4, 3, 2, 0);
  SolverParameter param = BaseSolver(net, 10);
  param.set_clip_gradients(0.01f);
  Solver solver(param);
  std::unique_ptr<Net> twin = TwinOf(solver, net);
  const std::vector<float> weights = ParamValues(*solver.net());
  const std::vector<float> gradient = Gradient(twin.get());
  double norm = 0.0;
  for (float g : gradient) norm += double(g) * g;
  norm = std::sqrt(norm);
  ASSERT_GT(norm, 0.01);
  std::vector<double> expected(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    expected[i] = weights[i] - 0.1 * gradient[i] * (0.01 / norm);
  }
  solver.Step(1);
  ExpectNear(ParamValues(*solver.net()), expected, 1e-7);

  // A threshold above the norm leaves the gradient alone.
  SolverParameter loose = param;
  loose.set_clip_gradients(1e6f);
  Solver unclipped(loose);
  std::unique_ptr<Net> twin2 = TwinOf(unclipped, net);
  const std::vector<float> gradient2 = Gradient(twin2.get());
  const std::vector<float> weights2 = ParamValues(*unclipped.net());
  std::vector<double> expected2(weights2.size());
  for (size_t i = 0; i < weights2.size(); ++i) expected2[i] = weights2[i] - 0.1 * gradient2[i];
  unclipped.Step(1);
  ExpectNear(ParamValues(*unclipped.net()), expected2, 1e-6);
}

TEST(SolverTest, IterSizeTwoEqualsADoubleBatch) {
  SolverParameter big = BaseSolver(RegressionNet(8, 3, 2), 3);
  big.set_momentum(0.9f);
  big.set_weight_decay(0.001f);
  SolverParameter accumulated = BaseSolver(RegressionNet(4, 3, 2), 3);
  accumulated.set_momentum(0.9f);
  accumulated.set_weight_decay(0.001f);
  accumulated.set_iter_size(2);
  Solver big_solver(big);
  Solver accumulated_solver(accumulated);
  ASSERT_EQ(ParamValues(*big_solver.net()), ParamValues(*accumulated_solver.net()))
      << "the same seed must give the same initial weights";
  big_solver.Solve();
  accumulated_solver.Solve();
  const std::vector<float> a = ParamValues(*big_solver.net());
  const std::vector<float> b = ParamValues(*accumulated_solver.net());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << "element " << i;
  EXPECT_NEAR(big_solver.smoothed_loss(), accumulated_solver.smoothed_loss(), 1e-6);
  // The weights did move: three steps at lr 0.1 are not nothing.
  SolverParameter untrained = big;
  untrained.set_max_iter(0);
  Solver fresh(untrained);
  EXPECT_NE(ParamValues(*fresh.net()), a);
}

TEST(SolverTest, RandomSeedMakesFillersReproducible) {
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 1);
  param.set_random_seed(5);
  Solver first(param);
  Solver second(param);
  EXPECT_EQ(ParamValues(*first.net()), ParamValues(*second.net()));
  param.set_random_seed(6);
  Solver third(param);
  EXPECT_NE(ParamValues(*first.net()), ParamValues(*third.net()));
}

TEST(SolverTest, TestNetsShareWeightsAndReportMeanOutputs) {
  const NetParameter net = RegressionNet(8, 3, 2);
  SolverParameter param = BaseSolver(net, 4);
  param.add_test_iter(2);
  param.set_test_interval(2);
  param.set_test_initialization(false);
  Solver solver(param);
  ASSERT_EQ(solver.test_nets().size(), 1u);
  EXPECT_EQ(solver.test_nets()[0]->phase(), TEST);
  solver.Solve();
  EXPECT_EQ(solver.record().test_iter, 4);
  EXPECT_EQ(solver.test_nets()[0]->learnable_params()[0]->data(),
            solver.net()->learnable_params()[0]->data());

  // The test data cycles through all 16 records every two batches of 8, so a fresh twin sees the
  // same two batches; the reported score is their mean loss.
  NetParameter twin_param = net;
  twin_param.mutable_state()->set_phase(TEST);
  Net twin(twin_param);
  for (size_t i = 0; i < twin.learnable_params().size(); ++i) {
    twin.learnable_params()[i]->CopyFrom(*solver.net()->learnable_params()[i]);
  }
  const float expected = (twin.Forward() + twin.Forward()) / 2.0f;
  ASSERT_EQ(solver.test_scores().size(), 1u);
  ASSERT_EQ(solver.test_scores()[0].size(), 1u);
  EXPECT_EQ(solver.test_scores()[0][0].name, "loss");
  EXPECT_FLOAT_EQ(solver.test_scores()[0][0].loss_weight, 1.0f);
  EXPECT_NEAR(solver.test_scores()[0][0].value, expected, 1e-6);
}

TEST(SolverTest, TestNetCountChecks) {
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 2);
  param.add_test_iter(1);
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("test_interval"), std::string::npos);
  param.set_test_interval(1);
  param.add_test_state()->add_stage("a");
  param.add_test_state()->add_stage("b");
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("test_state"), std::string::npos);
  SolverParameter explicit_nets = BaseSolver(RegressionNet(4, 3, 2), 2);
  explicit_nets.clear_net_param();
  *explicit_nets.mutable_train_net_param() = RegressionNet(4, 3, 2);
  *explicit_nets.add_test_net_param() = RegressionNet(4, 3, 2);
  explicit_nets.set_test_interval(1);
  EXPECT_NE(ErrorOf([&] { Solver solver(explicit_nets); }).find("test_iter"), std::string::npos);
  explicit_nets.add_test_iter(3);
  Solver solver(explicit_nets);
  EXPECT_EQ(solver.test_nets().size(), 1u);
}

TEST(SolverTest, ANetIsRequiredAndOnlyOne) {
  SolverParameter param;
  param.set_lr_policy("fixed");
  const std::string none = ErrorOf([&] { Solver solver(param, "lenet_solver.prototxt"); });
  EXPECT_NE(none.find("lenet_solver.prototxt"), std::string::npos) << none;
  EXPECT_NE(none.find("names no training net"), std::string::npos) << none;
  *param.mutable_net_param() = RegressionNet(4, 3, 2);
  *param.mutable_train_net_param() = RegressionNet(4, 3, 2);
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("more than one training net"),
            std::string::npos);
}

TEST(SolverTest, NetFileIsReadAndFoundBesideTheSolver) {
  testing::ScopedTempDir dir("condense_solver_test_");
  WriteTextProtoFile(dir.File("train.prototxt"), RegressionNet(4, 3, 2));
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 1);
  param.clear_net_param();
  param.set_net("train.prototxt");  // relative to the solver file, not to the working directory
  Solver solver(param, dir.File("solver.prototxt"));
  EXPECT_EQ(solver.net()->learnable_params().size(), 4u);
  param.set_net("missing.prototxt");
  EXPECT_NE(ErrorOf([&] { Solver other(param, dir.File("solver.prototxt")); })
                .find("missing.prototxt"),
            std::string::npos);
}

TEST(SolverTest, DeprecatedSolverTypeIsUpgraded) {
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 1);
  param.clear_type();
  param.set_solver_type(SolverParameter::ADAM);
  Solver solver(param);
  EXPECT_STREQ(solver.update_rule().type(), "Adam");
  EXPECT_EQ(solver.history().size(), 8u);  // two per parameter blob
}

TEST(SolverTest, SnapshotsAtTheIntervalAndAtTheEnd) {
  testing::ScopedTempDir dir("condense_solver_test_");
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 5);
  param.set_momentum(0.9f);
  param.set_snapshot(2);
  param.set_snapshot_prefix(dir.File("snap"));
  param.set_snapshot_after_train(true);
  Solver solver(param);
  solver.Solve();
  for (int iter : {2, 4, 5}) {
    EXPECT_TRUE(FileExists(dir.File(StrCat("snap_iter_", iter, ".caffemodel")))) << iter;
    EXPECT_TRUE(FileExists(dir.File(StrCat("snap_iter_", iter, ".solverstate")))) << iter;
  }
  EXPECT_FALSE(FileExists(dir.File("snap_iter_0.tempfile")));
  EXPECT_EQ(solver.record().snapshots.size(), 6u);

  SolverState state;
  ReadBinaryProtoFile(dir.File("snap_iter_5.solverstate"), &state);
  EXPECT_EQ(state.iter(), 5);
  EXPECT_EQ(state.learned_net(), dir.File("snap_iter_5.caffemodel"));
  ASSERT_EQ(state.history_size(), 4);
  Blob momentum;
  momentum.FromProto(state.history(0));
  EXPECT_EQ(momentum.shape(), solver.net()->learnable_params()[0]->shape());
  EXPECT_EQ(std::vector<float>(momentum.data(), momentum.data() + momentum.count()),
            std::vector<float>(solver.history()[0]->data(),
                               solver.history()[0]->data() + momentum.count()));

  // The weights file holds the trained weights and loads as fine-tuning weights.
  SolverParameter finetune = BaseSolver(RegressionNet(4, 3, 2), 1);
  finetune.set_random_seed(99);
  finetune.add_weights(" " + dir.File("snap_iter_4.caffemodel") + " , " +
                       dir.File("snap_iter_5.caffemodel"));
  Solver tuned(finetune);
  EXPECT_EQ(ParamValues(*tuned.net()), ParamValues(*solver.net()));
}

TEST(SolverTest, SnapshotSetUpErrors) {
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 1);
  param.set_snapshot(1);
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("snapshot_prefix"), std::string::npos);
  param.set_snapshot_prefix("/nonexistent_condense_dir/deeper/snap");
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("cannot write"), std::string::npos);
  testing::ScopedTempDir dir("condense_solver_test_");
  param.set_snapshot_prefix(dir.File("snap"));
  param.set_snapshot_format(SolverParameter::HDF5);
  EXPECT_NE(ErrorOf([&] { Solver solver(param); }).find("HDF5"), std::string::npos);
}

TEST(SolverTest, RestoreRefusesAStateOfAnotherSolverType) {
  testing::ScopedTempDir dir("condense_solver_test_");
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 2);
  param.set_snapshot_prefix(dir.File("sgd"));
  param.set_snapshot_after_train(true);
  Solver sgd(param);
  sgd.Solve();
  SolverParameter adam = param;
  adam.set_type("Adam");
  adam.set_momentum(0.9f);
  Solver adam_solver(adam);
  const std::string error =
      ErrorOf([&] { adam_solver.Restore(dir.File("sgd_iter_2.solverstate")); });
  EXPECT_NE(error.find("sgd_iter_2.solverstate"), std::string::npos) << error;
  EXPECT_NE(error.find("history"), std::string::npos) << error;
  EXPECT_NE(ErrorOf([&] { adam_solver.Restore(dir.File("state.solverstate.h5")); }).find("HDF5"),
            std::string::npos);
}

TEST(SolverTest, RestoreFindsWeightsMovedWithTheState) {
  testing::ScopedTempDir first("condense_solver_test_");
  testing::ScopedTempDir second("condense_solver_test_");
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 2);
  param.set_momentum(0.9f);
  param.set_snapshot_prefix(first.File("run"));
  param.set_snapshot_after_train(true);
  Solver trained(param);
  trained.Solve();
  for (const char* ext : {".caffemodel", ".solverstate"}) {
    std::filesystem::rename(first.File(StrCat("run_iter_2", ext)),
                            second.File(StrCat("run_iter_2", ext)));
  }
  SolverParameter resume = param;
  resume.set_random_seed(7);
  Solver resumed(resume);
  resumed.Restore(second.File("run_iter_2.solverstate"));
  EXPECT_EQ(resumed.iter(), 2);
  EXPECT_EQ(ParamValues(*resumed.net()), ParamValues(*trained.net()));
}

TEST(SolverTest, DisplayAndAverageLossRun) {
  SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 6);
  param.set_display(2);
  param.set_average_loss(3);
  param.set_lr_policy("step");
  param.set_stepsize(2);
  param.set_gamma(0.5f);
  Solver solver(param);
  std::vector<float> losses;
  solver.AddCallback({nullptr, [&](int) { losses.push_back(solver.net()->output_blobs()[0]->data()[0]); }});
  solver.Solve();
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_EQ(solver.record().end_iter, 6);
  EXPECT_TRUE(solver.record().has_train_loss);
  EXPECT_FLOAT_EQ(solver.record().learning_rate, 0.1f * 0.25f);
  EXPECT_EQ(solver.current_step(), 2);
  param.set_average_loss(0);
  EXPECT_NE(ErrorOf([&] { Solver bad(param); }).find("average_loss"), std::string::npos);
}

}  // namespace
}  // namespace condense
