// `condense train` end to end on a small net over the shared traffic-sign LMDB: training with periodic
// and final snapshots, resuming from a .solverstate, fine-tuning from weights, Ctrl-C (a real SIGINT
// to the program), and the one-line errors of bad invocations.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/proto/condense.pb.h"
#include "support/shared_data.hpp"

namespace condense {
namespace {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class TrainCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lmdb_ = testing::SharedDataPath("trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb");
    if (lmdb_.empty()) GTEST_SKIP() << "../shared/data/trafficsign_lmdb_h5 is absent";
    dir_ = testing::MakeTempDir("condense_train_cli_");
    std::ofstream(dir_ + "/net.prototxt") << R"(name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label"
  transform_param { scale: 0.00390625 }
  data_param { source: ")" << lmdb_ << R"(" batch_size: 16 backend: LMDB } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 16 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 9 weight_filler { type: "xavier" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy"
  include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
)";
    WriteSolver("solver.prototxt", 6, 4);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void WriteSolver(const std::string& name, int max_iter, int snapshot) const {
    std::ofstream(dir_ + "/" + name) << "net: \"net.prototxt\"\n"
                                     << "test_iter: 2\ntest_interval: 3\n"
                                     << "base_lr: 0.01\nmomentum: 0.9\nweight_decay: 0.0005\n"
                                     << "lr_policy: \"step\"\ngamma: 0.5\nstepsize: 2\n"
                                     << "display: 2\nmax_iter: " << max_iter << "\n"
                                     << "snapshot: " << snapshot << "\n"
                                     << "snapshot_prefix: \"snap\"\nrandom_seed: 3\n";
  }

  // Runs the program in the test directory with the given flags.
  Result Run(const std::string& flags) const {
    const std::string out = dir_ + "/stdout.txt";
    const std::string err = dir_ + "/stderr.txt";
    const std::string command = "cd '" + dir_ + "' && '" + testing::CondenseBinary() + "' " + flags +
                                " > '" + out + "' 2> '" + err + "'";
    Result result;
    const int status = std::system(command.c_str());
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFileToString(out);
    result.err = ReadFileToString(err);
    return result;
  }

  bool Exists(const std::string& name) const { return FileExists(dir_ + "/" + name); }

  std::string lmdb_;
  std::string dir_;
};

TEST_F(TrainCliTest, TrainsSnapshotsAndPrintsASummary) {
  const Result result = Run("train --solver=solver.prototxt");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* file : {"snap_iter_4.caffemodel", "snap_iter_4.solverstate",
                           "snap_iter_6.caffemodel", "snap_iter_6.solverstate"}) {
    EXPECT_TRUE(Exists(file)) << file;
  }
  EXPECT_NE(result.err.find("Iteration 2 ("), std::string::npos);
  EXPECT_NE(result.err.find("Iteration 2, lr = 0.005"), std::string::npos);
  EXPECT_NE(result.err.find("Test net output #0: accuracy = "), std::string::npos);
  EXPECT_NE(result.err.find("Optimization Done."), std::string::npos);
  EXPECT_NE(result.out.find("0 -> 6 of 6"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("test #0 accuracy (iter 6)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("snap_iter_6.solverstate"), std::string::npos) << result.out;
}

TEST_F(TrainCliTest, ResumesFromASnapshot) {
  ASSERT_EQ(Run("train --solver=solver.prototxt").exit_code, 0);
  WriteSolver("longer.prototxt", 8, 0);
  const Result result =
      Run("train --solver=longer.prototxt --snapshot=snap_iter_6.solverstate --json=summary.json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("6 -> 8 of 8"), std::string::npos) << result.out;
  EXPECT_TRUE(Exists("snap_iter_8.solverstate"));
  SolverState state;
  ReadBinaryProtoFile(dir_ + "/snap_iter_8.solverstate", &state);
  EXPECT_EQ(state.iter(), 8);
  EXPECT_EQ(state.current_step(), 3);
  EXPECT_NE(ReadFileToString(dir_ + "/summary.json").find("\"end_iter\": 8"), std::string::npos);
}

TEST_F(TrainCliTest, FineTunesFromWeights) {
  ASSERT_EQ(Run("train --solver=solver.prototxt").exit_code, 0);
  const Result result =
      Run("train --solver=solver.prototxt --weights=snap_iter_4.caffemodel,snap_iter_6.caffemodel");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("Finetuning from snap_iter_6.caffemodel"), std::string::npos);
}

TEST_F(TrainCliTest, BadInvocationsFailWithAClearError) {
  Result result = Run("train");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("needs --solver"), std::string::npos) << result.err;
  result = Run("train --solver=solver.prototxt --weights=a.caffemodel --snapshot=b.solverstate");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("not both"), std::string::npos) << result.err;
  result = Run("train --solver=solver.prototxt --sighup_effect=later");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--sighup_effect=later"), std::string::npos) << result.err;
  std::ofstream(dir_ + "/no_net.prototxt") << "base_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 1\n";
  result = Run("train --solver=no_net.prototxt");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no_net.prototxt: names no training net"), std::string::npos)
      << result.err;
  result = Run("train --solver=solver.prototxt --snapshot=missing.solverstate");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("missing.solverstate"), std::string::npos) << result.err;
}

TEST_F(TrainCliTest, CtrlCStopsAndWritesTheFinalSnapshot) {
  WriteSolver("long.prototxt", 100000000, 0);
  const std::string err = dir_ + "/stderr.txt";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (chdir(dir_.c_str()) != 0) _exit(127);
    if (!freopen(err.c_str(), "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(127);
    const std::string binary = testing::CondenseBinary();
    execl(binary.c_str(), binary.c_str(), "train", "--solver=long.prototxt",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Signal only once training runs: before the handler is installed SIGINT would simply kill it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool training = false;
  while (!training && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    training = FileExists(err) && ReadFileToString(err).find(", lr = ") != std::string::npos;
  }
  kill(child, SIGINT);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(training) << "training never started: " << ReadFileToString(err);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of stopping";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string log = ReadFileToString(err);
  EXPECT_NE(log.find("Optimization stopped early."), std::string::npos) << log;
  const std::string marker = "Snapshotting solver state to binary proto file ";
  const size_t at = log.rfind(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const size_t begin = at + marker.size();
  const std::string state_file = log.substr(begin, log.find('\n', begin) - begin);
  SolverState state;
  ReadBinaryProtoFile(dir_ + "/" + state_file, &state);
  EXPECT_GT(state.iter(), 0);
  EXPECT_EQ(state_file, StrCat("snap_iter_", state.iter(), ".solverstate"));
}

}  // namespace
}  // namespace condense
