// SIGINT and SIGHUP through the real signal handler: the handler only records the signal, and the
// solver acts on it after the current iteration (stop, then the final snapshot; or snapshot and go on).
#include "condense/solver/signal_handler.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "solver_test_nets.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using testing::BaseSolver;
using testing::RegressionNet;

class SignalHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("condense_signal_test_"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SolverParameter Param() const {
    SolverParameter param = BaseSolver(RegressionNet(4, 3, 2), 10);
    param.set_momentum(0.9f);
    param.set_snapshot_prefix(dir_ + "/signal");
    param.set_snapshot_after_train(true);
    return param;
  }
  std::string File(int iter, const char* extension) const {
    return StrCat(dir_, "/signal_iter_", iter, extension);
  }

  // Sends `signal_number` to this process once, while iteration `at_iter` computes its gradients.
  static void RaiseDuring(Solver* solver, int at_iter, int signal_number) {
    solver->AddCallback({nullptr, [at_iter, signal_number](int iter) {
                           if (iter == at_iter) raise(signal_number);
                         }});
  }

  std::string dir_;
};

TEST_F(SignalHandlerTest, SigintStopsAfterTheIterationAndSnapshots) {
  SignalHandler handler(SolverAction::kStop, SolverAction::kSnapshot);
  Solver solver(Param());
  solver.SetActionFunction(handler.GetActionFunction());
  RaiseDuring(&solver, 2, SIGINT);
  solver.Solve();
  EXPECT_EQ(solver.iter(), 3);  // iteration 2 finished its update, then training stopped
  EXPECT_TRUE(solver.requested_early_exit());
  EXPECT_TRUE(solver.record().stopped_early);
  ASSERT_TRUE(FileExists(File(3, ".caffemodel")));
  ASSERT_TRUE(FileExists(File(3, ".solverstate")));
  EXPECT_FALSE(FileExists(File(10, ".caffemodel")));
  SolverState state;
  ReadBinaryProtoFile(File(3, ".solverstate"), &state);
  EXPECT_EQ(state.iter(), 3);
  EXPECT_EQ(state.history_size(), 4);
  EXPECT_EQ(handler.CheckForSignals(), SolverAction::kNone);  // reported once
}

TEST_F(SignalHandlerTest, SigintWithoutSnapshotAfterTrainJustStops) {
  SignalHandler handler(SolverAction::kStop, SolverAction::kSnapshot);
  SolverParameter param = Param();
  param.set_snapshot_after_train(false);
  Solver solver(param);
  solver.SetActionFunction(handler.GetActionFunction());
  RaiseDuring(&solver, 0, SIGINT);
  solver.Solve();
  EXPECT_EQ(solver.iter(), 1);
  EXPECT_FALSE(FileExists(File(1, ".caffemodel")));
}

TEST_F(SignalHandlerTest, SighupSnapshotsAndTrainingGoesOn) {
  SignalHandler handler(SolverAction::kStop, SolverAction::kSnapshot);
  Solver solver(Param());
  solver.SetActionFunction(handler.GetActionFunction());
  RaiseDuring(&solver, 1, SIGHUP);
  solver.Solve();
  EXPECT_EQ(solver.iter(), 10);
  EXPECT_FALSE(solver.requested_early_exit());
  EXPECT_TRUE(FileExists(File(2, ".caffemodel")));
  EXPECT_TRUE(FileExists(File(2, ".solverstate")));
  EXPECT_TRUE(FileExists(File(10, ".solverstate")));
}

TEST_F(SignalHandlerTest, EffectNoneIgnoresTheSignal) {
  SignalHandler handler(SolverAction::kNone, SolverAction::kNone);
  SolverParameter param = Param();
  param.set_snapshot_after_train(false);
  Solver solver(param);
  solver.SetActionFunction(handler.GetActionFunction());
  RaiseDuring(&solver, 1, SIGINT);
  RaiseDuring(&solver, 2, SIGHUP);
  solver.Solve();
  EXPECT_EQ(solver.iter(), 10);
  EXPECT_FALSE(FileExists(File(2, ".caffemodel")));
}

TEST_F(SignalHandlerTest, StopRequestedDuringTestingInterruptsTheTest) {
  SolverParameter param = Param();
  param.add_test_iter(3);
  param.set_test_interval(5);
  param.set_test_initialization(false);
  Solver solver(param);
  // Asked once after each of the 5 iterations, then before each test batch until it answers kNone:
  // stop before the second batch.
  int calls = 0;
  solver.SetActionFunction([&calls] { return ++calls == 7 ? SolverAction::kStop : SolverAction::kNone; });
  solver.Solve();
  EXPECT_EQ(calls, 8);
  EXPECT_EQ(solver.iter(), 5);
  EXPECT_TRUE(solver.record().stopped_early);
  EXPECT_EQ(solver.record().test_iter, -1);  // the interrupted pass reports nothing
  EXPECT_TRUE(FileExists(File(5, ".caffemodel")));
}

TEST_F(SignalHandlerTest, HupIsReportedBeforeInt) {
  SignalHandler handler(SolverAction::kStop, SolverAction::kSnapshot);
  raise(SIGINT);
  raise(SIGHUP);
  EXPECT_EQ(handler.CheckForSignals(), SolverAction::kSnapshot);
  EXPECT_EQ(handler.CheckForSignals(), SolverAction::kStop);
  EXPECT_EQ(handler.CheckForSignals(), SolverAction::kNone);
}

TEST_F(SignalHandlerTest, OnlyOneHandlerAndPreviousHandlersComeBack) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction saved {};
  ASSERT_EQ(sigaction(SIGHUP, &ignore, &saved), 0);
  {
    SignalHandler handler(SolverAction::kStop, SolverAction::kSnapshot);
    EXPECT_THROW(SignalHandler second(SolverAction::kStop, SolverAction::kStop), Error);
  }
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGHUP, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  sigaction(SIGHUP, &saved, nullptr);
  SignalHandler again(SolverAction::kNone, SolverAction::kNone);  // the slot is free again
}

TEST(SignalEffectTest, ParsesCaffeWords) {
  EXPECT_EQ(ParseSignalEffect("stop", "sigint_effect"), SolverAction::kStop);
  EXPECT_EQ(ParseSignalEffect("snapshot", "sigint_effect"), SolverAction::kSnapshot);
  EXPECT_EQ(ParseSignalEffect("none", "sighup_effect"), SolverAction::kNone);
  try {
    ParseSignalEffect("halt", "sigint_effect");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("--sigint_effect=halt"), std::string::npos);
  }
}

}  // namespace
}  // namespace condense
