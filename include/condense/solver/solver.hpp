// Solver: trains a net from a SolverParameter as Caffe's solvers do. It builds the training net and the
// test nets (which share the training net's weights), then repeats: clear gradients, forward/backward
// iter_size times, clip, average, regularise, let the update rule (update_rule.hpp) turn each gradient
// into a step at the rate of the lr policy (learning_rate.hpp), apply it. Around that loop it tests every
// test_interval iterations, prints Caffe's progress lines, snapshots every `snapshot` iterations and at
// the end, and obeys stop/snapshot requests (from signals, see signal_handler.hpp) between iterations.
//
// Snapshots are Caffe's: PREFIX_iter_N.caffemodel and PREFIX_iter_N.solverstate (binary protos, each
// written atomically), and Caffe's .solverstate files restore here. A snapshot holds the weights, the
// iteration, the lr policy's step and the rule's history, which is everything the update depends on:
// resuming at N and training to M gives the same weights as training to M in one run, provided the
// data layers deliver the same batches. They restart from the beginning of their source on resume (as
// in Caffe), so that holds for nets fed by Input or constant DummyData layers or by a callback that
// derives its batch from the iteration number; random draws (dropout, shuffling) are not in the state.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/net/net.hpp"
#include "condense/proto/condense.pb.h"
#include "condense/solver/update_rule.hpp"

namespace condense {

// What the solver should do after the current iteration, asked for from outside (e.g. on SIGINT).
enum class SolverAction { kNone, kStop, kSnapshot };
using ActionFunction = std::function<SolverAction()>;

// Hooks run in every training iteration, for code that feeds batches or watches training.
struct SolverCallback {
  // Before the forward/backward passes of iteration `iter` (the updates done so far).
  std::function<void(int iter)> on_start;
  // After the gradients of iteration `iter` are accumulated, before the update.
  std::function<void(int iter)> on_gradients_ready;
};

// One output of a test net, averaged over test_iter batches.
struct TestScore {
  std::string name;
  float value = 0.0f;
  float loss_weight = 0.0f;
};

// What the last Solve() did: the CLI prints it as the closing summary.
struct TrainingRecord {
  int start_iter = 0;
  int end_iter = 0;
  double wall_seconds = 0.0;
  bool has_train_loss = false;
  float train_loss = 0.0f;  // the smoothed loss at the last iteration trained or displayed
  float learning_rate = 0.0f;
  int test_iter = -1;  // the iteration of the last complete test pass, -1 when none ran
  std::vector<std::vector<TestScore>> test_scores;  // per test net, from that pass
  std::vector<std::string> snapshots;  // files written, in order
  bool stopped_early = false;
};

class Solver {
 public:
  // Builds the nets. `source` (the solver file, when there is one) prefixes error messages, and net
  // files that are not found relative to the working directory are looked up beside it.
  explicit Solver(const SolverParameter& param, const std::string& source = "");
  ~Solver();
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;

  // Trains to max_iter, restoring `resume_file` (a .solverstate) first when it is not empty; then
  // writes the final snapshot (snapshot_after_train) and runs the closing display and test.
  void Solve(const std::string& resume_file = "");
  // Runs `iters` training iterations (fewer when a stop is requested).
  void Step(int iters);
  // Scores every test net (test_iter batches each) and logs the mean of every output.
  void TestAll();
  void Test(int test_net_id);
  // Writes PREFIX_iter_N.caffemodel and PREFIX_iter_N.solverstate.
  void Snapshot();
  // Restores iteration, lr step, history and (from the state's learned_net) the weights.
  void Restore(const std::string& state_file);

  void SetActionFunction(ActionFunction function) { action_function_ = std::move(function); }
  void AddCallback(SolverCallback callback) { callbacks_.push_back(std::move(callback)); }

  const SolverParameter& param() const { return param_; }
  Net* net() const { return net_.get(); }
  const std::vector<std::unique_ptr<Net>>& test_nets() const { return test_nets_; }
  const UpdateRule& update_rule() const { return *update_rule_; }
  int iter() const { return iter_; }
  int current_step() const { return current_step_; }
  float smoothed_loss() const { return smoothed_loss_; }
  bool requested_early_exit() const { return requested_early_exit_; }
  // History blobs in Caffe's snapshot order: one per learnable parameter, then (AdaDelta, Adam) a
  // second one per parameter.
  const std::vector<std::unique_ptr<Blob>>& history() const { return history_; }
  const TrainingRecord& record() const { return record_; }
  // Mean outputs of the last complete test pass of each test net.
  const std::vector<std::vector<TestScore>>& test_scores() const { return record_.test_scores; }
  std::string SnapshotFilename(const std::string& extension) const;

 private:
  void InitTrainNet();
  void InitTestNets();
  void InitHistory();
  void LoadWeights(Net* net) const;
  void CheckSnapshotWritePermissions() const;
  std::string ResolveNetFile(const std::string& path) const;
  SolverAction RequestedAction() const;

  void ApplyUpdate();
  void ClipGradients();
  void Normalize(int param_id);
  void Regularize(int param_id);
  void UpdateSmoothedLoss(float loss, int start_iter);
  void DisplayTraining(int iterations_since, double seconds, int stop_iter);

  SolverParameter param_;
  std::string source_;
  std::unique_ptr<UpdateRule> update_rule_;
  std::unique_ptr<Net> net_;
  std::vector<std::unique_ptr<Net>> test_nets_;
  std::vector<std::unique_ptr<Blob>> history_;
  std::vector<float> scratch_[2];

  int iter_ = 0;
  int current_step_ = 0;
  std::vector<float> losses_;
  float smoothed_loss_ = 0.0f;
  int64_t images_per_iteration_ = 0;
  bool requested_early_exit_ = false;
  ActionFunction action_function_;
  std::vector<SolverCallback> callbacks_;
  TrainingRecord record_;
};

// Splits a --weights value ("a.caffemodel, b.caffemodel") into trimmed file names.
std::vector<std::string> SplitWeightList(const std::string& list);

}  // namespace condense
