// Crash safety of training: `condense train` is killed with SIGKILL at random moments, half of them
// while a snapshot is being written (a temporary file of the snapshot is in the folder), and resumed
// each time from the newest snapshot on disk. Every snapshot the program left under its final name must
// load, and the run pieced together from the interrupted ones must end with weights bit-identical to
// one uninterrupted run. The net (constant DummyData -> InnerProduct -> TanH -> InnerProduct ->
// EuclideanLoss, SGD with momentum) holds about half a million parameters, so each snapshot writes
// two files of about 2 MiB and a kill often lands inside one.
//
// The kill moments come from a seed printed on failure; CONDENSE_SIGKILL_SEED replays one. Run it 20
// times in a row with: test_solver --gtest_filter='SigkillTest.*' --gtest_repeat=20
#include <dirent.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/proto/condense.pb.h"
#include "support/shared_data.hpp"

namespace condense {
namespace {

constexpr int kMaxIter = 60;
constexpr int kSnapshotEvery = 4;
constexpr int kKills = 8;

const char kNet[] = R"(name: "sigkill"
layer { name: "data" type: "DummyData" top: "data" top: "target"
  dummy_data_param { shape { dim: 4 dim: 256 } shape { dim: 4 dim: 256 }
    data_filler { type: "constant" value: 0.5 } data_filler { type: "constant" value: -0.25 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "hidden"
  inner_product_param { num_output: 1024 weight_filler { type: "gaussian" std: 0.02 }
    bias_filler { type: "constant" value: 0.1 } } }
layer { name: "squash" type: "TanH" bottom: "hidden" top: "hidden" }
layer { name: "fc2" type: "InnerProduct" bottom: "hidden" top: "out"
  inner_product_param { num_output: 256 weight_filler { type: "gaussian" std: 0.02 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "target" top: "loss" }
)";

std::string SolverText() {
  return StrCat("net: \"net.prototxt\"\nbase_lr: 0.01\nmomentum: 0.9\nweight_decay: 0.0005\n",
                "lr_policy: \"step\"\ngamma: 0.7\nstepsize: 9\nmax_iter: ", kMaxIter, "\n",
                "snapshot: ", kSnapshotEvery, "\nsnapshot_prefix: \"snap\"\nrandom_seed: 11\n",
                "display: 0\n");
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* handle = opendir(dir.c_str())) {
    while (dirent* entry = readdir(handle)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") files.push_back(name);
    }
    closedir(handle);
  }
  return files;
}

bool HasTemporaryFile(const std::string& dir) {
  for (const std::string& name : FilesIn(dir)) {
    if (name.find(".tmp") != std::string::npos) return true;
  }
  return false;
}

// The iteration of the newest snap_iter_N.solverstate under its final name; 0 when there is none.
int NewestSnapshot(const std::string& dir) {
  int newest = 0;
  const std::string prefix = "snap_iter_", suffix = ".solverstate";
  for (const std::string& name : FilesIn(dir)) {
    if (name.rfind(prefix, 0) != 0 || name.size() <= prefix.size() + suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string number = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (number.find_first_not_of("0123456789") == std::string::npos) {
      newest = std::max(newest, std::atoi(number.c_str()));
    }
  }
  return newest;
}

std::string StateFile(const std::string& dir, int iter) {
  return StrCat(dir, "/snap_iter_", iter, ".solverstate");
}

std::string ModelFile(const std::string& dir, int iter) {
  return StrCat(dir, "/snap_iter_", iter, ".caffemodel");
}

// Bit for bit: the final weights, and the solver state with the momentum history.
void ExpectSameFinalState(const std::string& reference, const std::string& dir) {
  EXPECT_EQ(ReadFileToString(ModelFile(reference, kMaxIter)), ReadFileToString(ModelFile(dir, kMaxIter)))
      << "the resumed run's final weights differ from the uninterrupted run's";
  SolverState expected, actual;
  ReadBinaryProtoFile(StateFile(reference, kMaxIter), &expected);
  ReadBinaryProtoFile(StateFile(dir, kMaxIter), &actual);
  ASSERT_EQ(expected.history_size(), actual.history_size());
  for (int i = 0; i < expected.history_size(); ++i) {
    EXPECT_EQ(expected.history(i).SerializeAsString(), actual.history(i).SerializeAsString())
        << "history blob " << i;
  }
}

class SigkillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* seed = std::getenv("CONDENSE_SIGKILL_SEED")) {
      seed_ = std::strtoull(seed, nullptr, 10);
    } else {
      seed_ = std::random_device()();
    }
    rng_.seed(seed_);
    root_ = testing::MakeTempDir("condense_sigkill_");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string MakeRunDir(const std::string& name) const {
    const std::string dir = root_ + "/" + name;
    MakeDirectories(dir);
    std::ofstream(dir + "/net.prototxt") << kNet;
    std::ofstream(dir + "/solver.prototxt") << SolverText();
    return dir;
  }

  // Starts `condense train` in `dir`, resuming from `snapshot` when it is not empty.
  pid_t StartTraining(const std::string& dir, const std::string& snapshot) const {
    const std::string binary = testing::CondenseBinary();
    std::vector<std::string> args = {binary, "train", "--solver=solver.prototxt", "--threads=1"};
    if (!snapshot.empty()) args.push_back("--snapshot=" + snapshot);
    const pid_t child = fork();
    if (child == 0) {
      if (chdir(dir.c_str()) != 0) _exit(126);
      const std::string log = dir + "/train.log";
      freopen(log.c_str(), "a", stdout);
      freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    return child;
  }

  // Waits for the child; returns its exit code, or -signal when a signal ended it.
  static int Wait(pid_t child) {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  std::string Log(const std::string& dir) const {
    return FileExists(dir + "/train.log") ? ReadFileToString(dir + "/train.log") : "";
  }

  // Kills the child at a random moment and returns how it ended (see Wait): after a random delay
  // within the time the rest of the run would take, or, with `during_snapshot`, as soon as a snapshot's
  // temporary file shows up, after 0 to 2 ms. A child that ends first is simply reaped.
  int KillAtRandom(pid_t child, const std::string& dir, int resume_iter, bool during_snapshot) {
    using std::chrono::microseconds;
    if (during_snapshot) {
      const auto give_up = std::chrono::steady_clock::now() + full_run_ * 3 + std::chrono::seconds(5);
      while (!HasTemporaryFile(dir) && std::chrono::steady_clock::now() < give_up) {
        int status = 0;
        if (waitpid(child, &status, WNOHANG) == child) {
          return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        }
        std::this_thread::sleep_for(microseconds(100));
      }
      std::this_thread::sleep_for(microseconds(std::uniform_int_distribution<int>(0, 2000)(rng_)));
    } else {
      const int64_t whole = std::chrono::duration_cast<microseconds>(full_run_).count();
      const int64_t rest = whole * (kMaxIter - resume_iter + kSnapshotEvery) / kMaxIter;
      std::this_thread::sleep_for(microseconds(std::uniform_int_distribution<int64_t>(0, rest)(rng_)));
    }
    kill(child, SIGKILL);
    return Wait(child);
  }

  // Trains to kMaxIter in `dir`, killing up to `max_kills` runs and resuming each time from the newest
  // snapshot, which must load. Adds to kills_ and kills_during_write_.
  void KilledAndResumedRun(const std::string& dir, int max_kills) {
    int kills = 0, runs = 0;
    while (NewestSnapshot(dir) < kMaxIter) {
      ASSERT_LT(runs++, max_kills + 3) << "training never reached iteration " << kMaxIter << ":\n"
                                       << Log(dir);
      std::string resume_from;
      ASSERT_NO_THROW(resume_from = CheckNewestSnapshotLoads(dir)) << Log(dir);
      const pid_t child = StartTraining(dir, resume_from);
      if (kills == max_kills) {
        ASSERT_EQ(0, Wait(child)) << Log(dir);
        continue;
      }
      const int result = KillAtRandom(child, dir, NewestSnapshot(dir), kills_ % 2 == 1);
      if (result != -SIGKILL) {
        ASSERT_EQ(0, result) << Log(dir);
        continue;
      }
      ++kills;
      ++kills_;
      if (HasTemporaryFile(dir)) ++kills_during_write_;
      // What the killed writer left behind is never mistaken for a snapshot; clear it so that the next
      // kill's count of writes in progress is its own.
      for (const std::string& name : FilesIn(dir)) {
        if (name.find(".tmp") != std::string::npos) std::remove((dir + "/" + name).c_str());
      }
    }
  }

  // Checks that the newest snapshot in `dir` loads: a whole SolverState whose learned_net is a whole
  // NetParameter holding the net's four parameter blobs. Returns its path ("" when there is none).
  std::string CheckNewestSnapshotLoads(const std::string& dir) const {
    const int iter = NewestSnapshot(dir);
    if (iter == 0) return "";
    SolverState state;
    ReadBinaryProtoFile(StateFile(dir, iter), &state);
    EXPECT_EQ(iter, state.iter());
    EXPECT_EQ(4, state.history_size());
    // Relative names are relative to the training run's folder, where the state file is too.
    const std::string learned_net =
        state.learned_net().rfind('/', 0) == 0 ? state.learned_net() : dir + "/" + state.learned_net();
    NetParameter weights;
    ReadBinaryProtoFile(learned_net, &weights);
    int blobs = 0;
    for (const LayerParameter& layer : weights.layer()) blobs += layer.blobs_size();
    EXPECT_EQ(4, blobs) << learned_net;
    return StateFile(dir, iter);
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::string root_;
  std::chrono::steady_clock::duration full_run_{};
  int kills_ = 0;
  int kills_during_write_ = 0;
};

TEST_F(SigkillTest, NewestSnapshotLoadsAndResumingReproducesAnUninterruptedRun) {
  SCOPED_TRACE(StrCat("CONDENSE_SIGKILL_SEED=", seed_));
  const std::string reference = MakeRunDir("reference");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(0, Wait(StartTraining(reference, ""))) << Log(reference);
  full_run_ = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(FileExists(ModelFile(reference, kMaxIter))) << Log(reference);

  // Runs pieced together from killed ones until kKills kills happened (a run may end before its kill).
  for (int chain = 0; kills_ < kKills; ++chain) {
    ASSERT_LT(chain, kKills) << "the runs kept ending before they could be killed";
    const std::string dir = MakeRunDir(StrCat("killed_", chain));
    KilledAndResumedRun(dir, kKills - kills_);
    if (HasFatalFailure()) return;
    ExpectSameFinalState(reference, dir);
  }
  std::cout << "[ sigkill ] " << kills_ << " kills, " << kills_during_write_
            << " of them while a snapshot was being written (seed " << seed_ << ")\n";
}

}  // namespace
}  // namespace condense
