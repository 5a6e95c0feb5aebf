#include "condense/solver/solver.hpp"

#include <glog/logging.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/math.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/core/random.hpp"
#include "condense/layers/accuracy.hpp"
#include "condense/net/upgrade.hpp"
#include "condense/solver/learning_rate.hpp"

namespace condense {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(const std::string& directory, const std::string& name) {
  if (directory.empty()) return name;
  return directory.back() == '/' ? directory + name : directory + "/" + name;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "1h 02m 03s", "4m 05s", "6s": how long the remaining iterations will take at the current speed.
std::string FormatDuration(double seconds) {
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  const int64_t hours = total / 3600;
  const int64_t minutes = total / 60 % 60;
  const int64_t secs = total % 60;
  char text[64];
  if (hours > 0) {
    std::snprintf(text, sizeof(text), "%lldh %02lldm %02llds", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(secs));
  } else if (minutes > 0) {
    std::snprintf(text, sizeof(text), "%lldm %02llds", static_cast<long long>(minutes),
                  static_cast<long long>(secs));
  } else {
    std::snprintf(text, sizeof(text), "%llds", static_cast<long long>(secs));
  }
  return text;
}

// " (* 1 = 0.25 loss)" after an output that counts towards the loss, as Caffe prints it.
std::string LossSuffix(float loss_weight, float value) {
  if (loss_weight == 0.0f) return "";
  std::ostringstream out;
  out << " (* " << loss_weight << " = " << loss_weight * value << " loss)";
  return out.str();
}

}  // namespace

std::vector<std::string> SplitWeightList(const std::string& list) {
  std::vector<std::string> names;
  std::string current;
  std::istringstream in(list);
  while (std::getline(in, current, ',')) {
    const size_t begin = current.find_first_not_of(" \t");
    if (begin == std::string::npos) continue;
    const size_t end = current.find_last_not_of(" \t");
    names.push_back(current.substr(begin, end - begin + 1));
  }
  return names;
}

// ---------------------------------------------------------------------------------------------------
// Building

Solver::Solver(const SolverParameter& param, const std::string& source)
    : param_(param), source_(source.empty() ? "solver" : source) {
  LOG(INFO) << "Initializing solver from parameters: " << std::endl << param_.DebugString();
  UpgradeSolverAsNeeded(source_, &param_);
  CONDENSE_CHECK(param_.average_loss() >= 1, source_, ": average_loss must be at least 1, got ",
                 param_.average_loss());
  CONDENSE_CHECK(param_.iter_size() >= 1, source_, ": iter_size must be at least 1, got ",
                 param_.iter_size());
  CONDENSE_CHECK(param_.snapshot() >= 0, source_, ": snapshot must not be negative, got ",
                 param_.snapshot());
  CONDENSE_CHECK(param_.snapshot_format() == SolverParameter::BINARYPROTO, source_,
                 ": snapshot_format HDF5 is not supported; use BINARYPROTO (the default)");
  if (param_.weight_decay() != 0.0f) {
    CONDENSE_CHECK(param_.regularization_type() == "L2" || param_.regularization_type() == "L1",
                   source_, ": unknown regularization_type '", param_.regularization_type(),
                   "' (known: L2, L1)");
  }
  CheckLearningRatePolicy(param_, source_);
  update_rule_ = CreateUpdateRule(param_, source_);
  CheckSnapshotWritePermissions();
  // Seeded before any net is built, so that the fillers draw the same weights on every run.
  if (param_.random_seed() >= 0) SeedRandom(static_cast<uint64_t>(param_.random_seed()));
  InitTrainNet();
  InitTestNets();
  InitHistory();
  LOG(INFO) << "Solver scaffolding done.";
}

Solver::~Solver() = default;

std::string Solver::ResolveNetFile(const std::string& path) const {
  if (path.empty() || path[0] == '/' || FileExists(path)) return path;
  const std::string beside_solver = JoinPath(DirectoryOf(source_), path);
  if (beside_solver != path && FileExists(beside_solver)) {
    LOG(INFO) << path << " is not in the working directory; using " << beside_solver
              << " beside the solver file";
    return beside_solver;
  }
  return path;
}

void Solver::LoadWeights(Net* net) const {
  for (const std::string& list : param_.weights()) {
    for (const std::string& file : SplitWeightList(list)) {
      LOG(INFO) << "Finetuning from " << file;
      net->CopyTrainedLayersFromFile(file);
    }
  }
}

void Solver::InitTrainNet() {
  const int train_nets = param_.has_net() + param_.has_net_param() + param_.has_train_net() +
                         param_.has_train_net_param();
  CONDENSE_CHECK(train_nets >= 1, source_,
                 ": names no training net; give one of the fields net, net_param, train_net, "
                 "train_net_param");
  CONDENSE_CHECK(train_nets <= 1, source_,
                 ": names more than one training net; give only one of the fields net, "
                 "net_param, train_net, train_net_param");
  NetParameter net_param;
  std::string net_source;
  if (param_.has_train_net_param()) {
    LOG(INFO) << "Creating training net specified in train_net_param.";
    net_param = param_.train_net_param();
    net_source = source_ + " (train_net_param)";
  } else if (param_.has_train_net()) {
    net_source = ResolveNetFile(param_.train_net());
    LOG(INFO) << "Creating training net from train_net file: " << net_source;
    net_param = ReadNetParameterFile(net_source);
  } else if (param_.has_net_param()) {
    LOG(INFO) << "Creating training net specified in net_param.";
    net_param = param_.net_param();
    net_source = source_ + " (net_param)";
  } else {
    net_source = ResolveNetFile(param_.net());
    LOG(INFO) << "Creating training net from net file: " << net_source;
    net_param = ReadNetParameterFile(net_source);
  }
  UpgradeNetAsNeeded(net_source, &net_param);
  // Precedence, lowest first: the TRAIN phase, the net's own state, the solver's train_state.
  NetState state;
  state.set_phase(TRAIN);
  state.MergeFrom(net_param.state());
  state.MergeFrom(param_.train_state());
  *net_param.mutable_state() = state;
  net_ = std::make_unique<Net>(net_param, net_source);
  LoadWeights(net_.get());

  const auto& layers = net_->layers();
  if (!layers.empty() && !net_->top_vecs()[0].empty() && net_->top_vecs()[0][0]->num_axes() > 0) {
    images_per_iteration_ = net_->top_vecs()[0][0]->shape(0) * param_.iter_size();
  }
}

void Solver::InitTestNets() {
  const bool has_net_param = param_.has_net_param();
  const bool has_net_file = param_.has_net();
  const int explicit_nets = param_.test_net_param_size() + param_.test_net_size();
  const int test_iters = param_.test_iter_size();
  if (has_net_param || has_net_file) {
    CONDENSE_CHECK(test_iters >= explicit_nets, source_, ": test_iter must be given for each test "
                   "net (", explicit_nets, " test nets, ", test_iters, " test_iter values)");
  } else {
    CONDENSE_CHECK(test_iters == explicit_nets, source_, ": test_iter must be given for each test "
                   "net (", explicit_nets, " test nets, ", test_iters, " test_iter values)");
  }
  // A generic net (net / net_param) is tested once for every test_iter beyond the explicit test nets.
  const int instances = test_iters;
  CONDENSE_CHECK(param_.test_state_size() == 0 || param_.test_state_size() == instances, source_,
                 ": test_state must be given once per test net or not at all (", instances,
                 " test nets, ", param_.test_state_size(), " test_state values)");
  if (instances > 0) {
    CONDENSE_CHECK(param_.test_interval() > 0, source_, ": test_interval must be > 0 when there are "
                   "test nets (test_iter is given), got ", param_.test_interval());
  }
  for (int i = 0; i < test_iters; ++i) {
    CONDENSE_CHECK(param_.test_iter(i) >= 0, source_, ": test_iter ", i, " is negative");
  }
  std::vector<NetParameter> net_params(instances);
  std::vector<std::string> sources(instances);
  int id = 0;
  for (int i = 0; i < param_.test_net_param_size(); ++i, ++id) {
    net_params[id] = param_.test_net_param(i);
    sources[id] = StrCat(source_, " (test_net_param ", i, ")");
  }
  for (int i = 0; i < param_.test_net_size(); ++i, ++id) {
    sources[id] = ResolveNetFile(param_.test_net(i));
    net_params[id] = ReadNetParameterFile(sources[id]);
  }
  if (id < instances) {
    NetParameter generic;
    std::string generic_source;
    if (has_net_param) {
      generic = param_.net_param();
      generic_source = source_ + " (net_param)";
    } else {
      generic_source = ResolveNetFile(param_.net());
      generic = ReadNetParameterFile(generic_source);
    }
    for (; id < instances; ++id) {
      net_params[id] = generic;
      sources[id] = generic_source;
    }
  }
  for (int i = 0; i < instances; ++i) {
    UpgradeNetAsNeeded(sources[i], &net_params[i]);
    NetState state;
    state.set_phase(TEST);
    state.MergeFrom(net_params[i].state());
    if (param_.test_state_size() > 0) state.MergeFrom(param_.test_state(i));
    *net_params[i].mutable_state() = state;
    LOG(INFO) << "Creating test net (#" << i << ") specified by " << sources[i];
    test_nets_.push_back(std::make_unique<Net>(net_params[i], sources[i]));
    LoadWeights(test_nets_.back().get());
  }
  record_.test_scores.assign(instances, {});
}

void Solver::InitHistory() {
  const std::vector<Blob*>& params = net_->learnable_params();
  int64_t largest = 0;
  for (int copy = 0; copy < update_rule_->HistoryBlobsPerParam(); ++copy) {
    for (const Blob* param : params) {
      history_.push_back(std::make_unique<Blob>(param->shape()));
      history_.back()->SetData(0.0f);
      largest = std::max(largest, param->count());
    }
  }
  for (auto& scratch : scratch_) scratch.assign(static_cast<size_t>(largest), 0.0f);
}

void Solver::CheckSnapshotWritePermissions() const {
  if (param_.snapshot() > 0) {
    CONDENSE_CHECK(param_.has_snapshot_prefix(), source_,
                   ": snapshot is given but snapshot_prefix is not");
  }
  if (param_.snapshot() == 0 && !param_.snapshot_after_train()) return;
  // Fail now rather than after hours of training when the first snapshot is due.
  const std::string probe = SnapshotFilename(".tempfile");
  std::ofstream out(probe);
  CONDENSE_CHECK(out.good(), source_, ": cannot write to snapshot_prefix '", param_.snapshot_prefix(),
                 "' (tried ", probe, "); make sure its directory exists and is writable");
  out.close();
  std::remove(probe.c_str());
}

// ---------------------------------------------------------------------------------------------------
// Training

SolverAction Solver::RequestedAction() const {
  return action_function_ ? action_function_() : SolverAction::kNone;
}

void Solver::Solve(const std::string& resume_file) {
  const Clock::time_point start = Clock::now();
  LOG(INFO) << "Solving " << net_->name();
  LOG(INFO) << "Learning Rate Policy: " << param_.lr_policy();
  requested_early_exit_ = false;
  if (!resume_file.empty()) {
    LOG(INFO) << "Restoring previous solver status from " << resume_file;
    Restore(resume_file);
  }
  const int start_iter = iter_;
  record_.start_iter = start_iter;
  record_.snapshots.clear();
  record_.stopped_early = false;
  record_.has_train_loss = false;

  Step(param_.max_iter() - iter_);
  if (param_.snapshot_after_train() && (param_.snapshot() == 0 || iter_ % param_.snapshot() != 0)) {
    Snapshot();
  }
  record_.end_iter = iter_;
  if (requested_early_exit_) {
    LOG(INFO) << "Optimization stopped early.";
    record_.stopped_early = true;
    record_.wall_seconds = SecondsSince(start);
    return;
  }
  // The weights have had their last update; one more forward pass shows the loss they reach.
  if (param_.display() > 0 && iter_ % param_.display() == 0) {
    const float loss = net_->Forward();
    UpdateSmoothedLoss(loss, start_iter);
    record_.has_train_loss = true;
    record_.train_loss = smoothed_loss_;
    LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_;
  }
  if (param_.test_interval() > 0 && iter_ % param_.test_interval() == 0) TestAll();
  record_.wall_seconds = SecondsSince(start);
  LOG(INFO) << "Optimization Done.";
}

void Solver::Step(int iters) {
  const int start_iter = iter_;
  const int stop_iter = iter_ + iters;
  losses_.clear();
  smoothed_loss_ = 0.0f;
  Clock::time_point display_start = Clock::now();
  int display_last_iter = iter_;

  while (iter_ < stop_iter) {
    net_->ClearParamDiffs();
    if (param_.test_interval() > 0 && iter_ % param_.test_interval() == 0 &&
        (iter_ > 0 || param_.test_initialization())) {
      TestAll();
      if (requested_early_exit_) break;  // stop was requested while testing
    }
    for (const SolverCallback& callback : callbacks_) {
      if (callback.on_start) callback.on_start(iter_);
    }
    const bool display = param_.display() > 0 && iter_ % param_.display() == 0;
    float loss = 0.0f;
    for (int i = 0; i < param_.iter_size(); ++i) loss += net_->ForwardBackward();
    loss /= static_cast<float>(param_.iter_size());
    UpdateSmoothedLoss(loss, start_iter);
    record_.has_train_loss = true;
    record_.train_loss = smoothed_loss_;
    if (display) {
      DisplayTraining(iter_ - display_last_iter, SecondsSince(display_start), stop_iter);
      display_start = Clock::now();
      display_last_iter = iter_;
    }
    for (const SolverCallback& callback : callbacks_) {
      if (callback.on_gradients_ready) callback.on_gradients_ready(iter_);
    }
    ApplyUpdate();
    // iter_ counts the updates applied to the weights.
    ++iter_;
    record_.end_iter = iter_;

    const SolverAction request = RequestedAction();
    if ((param_.snapshot() > 0 && iter_ % param_.snapshot() == 0) ||
        request == SolverAction::kSnapshot) {
      Snapshot();
    }
    if (request == SolverAction::kStop) {
      requested_early_exit_ = true;
      break;
    }
  }
}

void Solver::DisplayTraining(int iterations_since, double seconds, int stop_iter) {
  const float lapse = static_cast<float>(seconds);
  const float per_second = static_cast<float>(iterations_since) / (lapse != 0.0f ? lapse : 1.0f);
  LOG(INFO) << "Iteration " << iter_ << " (" << per_second << " iter/s, " << lapse << "s/"
            << param_.display() << " iters), loss = " << smoothed_loss_;
  if (iterations_since > 0 && per_second > 0.0f) {
    std::ostringstream speed;
    speed << "    Speed: ";
    if (images_per_iteration_ > 0) speed << per_second * images_per_iteration_ << " images/s, ";
    speed << "ETA " << FormatDuration((stop_iter - iter_) / per_second) << " to iteration "
          << stop_iter;
    LOG(INFO) << speed.str();
  }
  int score_index = 0;
  for (size_t j = 0; j < net_->output_blobs().size(); ++j) {
    const Blob* output = net_->output_blobs()[j];
    const int blob_index = net_->output_blob_indices()[j];
    const std::string& name = net_->blob_names()[blob_index];
    const float loss_weight = net_->blob_loss_weight(blob_index);
    const float* values = output->data();
    for (int64_t k = 0; k < output->count(); ++k) {
      LOG(INFO) << "    Train net output #" << score_index++ << ": " << name << " = " << values[k]
                << LossSuffix(loss_weight, values[k]);
    }
  }
}

void Solver::UpdateSmoothedLoss(float loss, int start_iter) {
  const int window = param_.average_loss();
  if (static_cast<int>(losses_.size()) < window) {
    losses_.push_back(loss);
    const float size = static_cast<float>(losses_.size());
    smoothed_loss_ = (smoothed_loss_ * (size - 1.0f) + loss) / size;
  } else {
    const int index = (iter_ - start_iter) % window;
    smoothed_loss_ += (loss - losses_[index]) / static_cast<float>(window);
    losses_[index] = loss;
  }
}

// ---------------------------------------------------------------------------------------------------
// The update

void Solver::ApplyUpdate() {
  const float rate = LearningRate(param_, iter_, &current_step_);
  record_.learning_rate = rate;
  if (param_.display() > 0 && iter_ % param_.display() == 0) {
    LOG(INFO) << "Iteration " << iter_ << ", lr = " << rate;
  }
  ClipGradients();
  const std::vector<Blob*>& params = net_->learnable_params();
  const std::vector<float>& lr_mults = net_->params_lr();
  const int param_count = static_cast<int>(params.size());
  for (int id = 0; id < param_count; ++id) {
    Normalize(id);
    Regularize(id);
    ParamUpdate update;
    update.count = params[id]->count();
    update.diff = params[id]->mutable_diff();
    for (int k = 0; k < update_rule_->HistoryBlobsPerParam(); ++k) {
      update.history[k] = history_[k * param_count + id]->mutable_data();
    }
    update.scratch[0] = scratch_[0].data();
    update.scratch[1] = scratch_[1].data();
    update_rule_->ComputeUpdate(iter_, rate * lr_mults[id], update);
  }
  for (Blob* param : params) param->Update();
}

void Solver::ClipGradients() {
  const float threshold = param_.clip_gradients();
  if (threshold < 0.0f) return;
  const std::vector<Blob*>& params = net_->learnable_params();
  float sum_of_squares = 0.0f;
  for (const Blob* param : params) sum_of_squares += param->sumsq_diff();
  const float norm = std::sqrt(sum_of_squares);
  if (norm > threshold) {
    const float factor = threshold / norm;
    LOG(INFO) << "Gradient clipping: scaling down gradients (L2 norm " << norm << " > " << threshold
              << ") by scale factor " << factor;
    for (Blob* param : params) param->scale_diff(factor);
  }
}

void Solver::Normalize(int param_id) {
  if (param_.iter_size() == 1) return;
  // The gradients of iter_size passes were summed; average them.
  net_->learnable_params()[param_id]->scale_diff(1.0f / static_cast<float>(param_.iter_size()));
}

void Solver::Regularize(int param_id) {
  Blob* param = net_->learnable_params()[param_id];
  const float decay = param_.weight_decay() * net_->params_weight_decay()[param_id];
  if (decay == 0.0f) return;
  if (param_.regularization_type() == "L2") {
    Axpy(param->count(), decay, param->data(), param->mutable_diff());
  } else if (param_.regularization_type() == "L1") {
    float* signs = scratch_[0].data();
    Sign(param->count(), param->data(), signs);
    Axpy(param->count(), decay, signs, param->mutable_diff());
  } else {
    Fail(source_, ": unknown regularization_type '", param_.regularization_type(),
         "' (known: L2, L1)");
  }
}

// ---------------------------------------------------------------------------------------------------
// Testing

void Solver::TestAll() {
  for (size_t id = 0; id < test_nets_.size() && !requested_early_exit_; ++id) {
    Test(static_cast<int>(id));
  }
  if (!requested_early_exit_ && !test_nets_.empty()) record_.test_iter = iter_;
}

void Solver::Test(int test_net_id) {
  LOG(INFO) << "Iteration " << iter_ << ", Testing net (#" << test_net_id << ")";
  Net& test_net = *test_nets_.at(test_net_id);
  test_net.ShareTrainedLayersWith(*net_);
  const int batches = param_.test_iter(test_net_id);
  std::vector<float> sums;
  std::vector<int> output_of_score;
  float loss = 0.0f;
  // Predictions each Accuracy layer lost only to ties: on a quantized net, the sign that the logits'
  // format is too coarse (see `condense test`).
  AccuracyTallies accuracy_tallies(test_net);
  for (int i = 0; i < batches; ++i) {
    for (SolverAction request = RequestedAction(); request != SolverAction::kNone;
         request = RequestedAction()) {
      if (request == SolverAction::kSnapshot) Snapshot();
      if (request == SolverAction::kStop) requested_early_exit_ = true;
    }
    if (requested_early_exit_) break;
    const float batch_loss = test_net.Forward();
    if (param_.test_compute_loss()) loss += batch_loss;
    accuracy_tallies.Add();
    size_t index = 0;
    for (size_t j = 0; j < test_net.output_blobs().size(); ++j) {
      const Blob* output = test_net.output_blobs()[j];
      const float* values = output->data();
      for (int64_t k = 0; k < output->count(); ++k, ++index) {
        if (i == 0) {
          sums.push_back(values[k]);
          output_of_score.push_back(static_cast<int>(j));
        } else {
          CONDENSE_CHECK(index < sums.size(), "test net #", test_net_id,
                         ": its outputs changed size between batches");
          sums[index] += values[k];
        }
      }
    }
  }
  if (requested_early_exit_) {
    LOG(INFO) << "Test interrupted.";
    return;
  }
  if (param_.test_compute_loss()) {
    LOG(INFO) << "Test loss: " << loss / static_cast<float>(batches);
  }
  std::vector<TestScore> scores;
  for (size_t i = 0; i < sums.size(); ++i) {
    const int blob_index = test_net.output_blob_indices()[output_of_score[i]];
    TestScore score;
    score.name = test_net.blob_names()[blob_index];
    score.loss_weight = test_net.blob_loss_weight(blob_index);
    score.value = sums[i] / static_cast<float>(batches);
    LOG(INFO) << "    Test net output #" << i << ": " << score.name << " = " << score.value
              << LossSuffix(score.loss_weight, score.value);
    scores.push_back(score);
  }
  for (const AccuracyTallies::Entry& entry : accuracy_tallies.entries()) {
    if (entry.sum.lost_to_ties == 0) continue;
    LOG(INFO) << "    " << entry.layer << ": " << entry.sum.lost_to_ties << " of " << entry.sum.scored
              << " predictions lost to ties with the true class";
  }
  record_.test_scores[test_net_id] = std::move(scores);
}

// ---------------------------------------------------------------------------------------------------
// Snapshots

std::string Solver::SnapshotFilename(const std::string& extension) const {
  return StrCat(param_.snapshot_prefix(), "_iter_", iter_, extension);
}

void Solver::Snapshot() {
  CONDENSE_CHECK(param_.snapshot_format() == SolverParameter::BINARYPROTO, source_,
                 ": snapshot_format HDF5 is not supported; use BINARYPROTO (the default)");
  const std::string model_filename = SnapshotFilename(".caffemodel");
  LOG(INFO) << "Snapshotting to binary proto file " << model_filename;
  NetParameter weights;
  net_->ToProto(&weights, param_.snapshot_diff());
  WriteBinaryProtoFile(model_filename, weights);
  record_.snapshots.push_back(model_filename);

  SolverState state;
  state.set_iter(iter_);
  state.set_learned_net(model_filename);
  state.set_current_step(current_step_);
  for (const auto& blob : history_) blob->ToProto(state.add_history());
  const std::string state_filename = SnapshotFilename(".solverstate");
  LOG(INFO) << "Snapshotting solver state to binary proto file " << state_filename;
  WriteBinaryProtoFile(state_filename, state);
  record_.snapshots.push_back(state_filename);
}

void Solver::Restore(const std::string& state_file) {
  CONDENSE_CHECK(!EndsWith(state_file, ".h5"), state_file,
                 ": HDF5 solver states are not supported; resume from a .solverstate binary proto");
  SolverState state;
  ReadBinaryProtoFile(state_file, &state);
  CONDENSE_CHECK(state.history_size() == static_cast<int>(history_.size()), state_file, ": holds ",
                 state.history_size(), " history blobs but this net with solver type '",
                 update_rule_->type(), "' needs ", history_.size(),
                 " (was it written for another net or solver type?)");
  if (state.has_learned_net() && !state.learned_net().empty()) {
    std::string weights = state.learned_net();
    if (!FileExists(weights)) {
      // Snapshots moved together keep working: look for the weights beside the state file.
      const std::string beside = JoinPath(DirectoryOf(state_file), BaseName(weights));
      CONDENSE_CHECK(FileExists(beside), state_file, ": its learned_net '", weights,
                     "' does not exist (nor does ", beside, ")");
      LOG(INFO) << "learned_net " << weights << " not found; using " << beside;
      weights = beside;
    }
    net_->CopyTrainedLayersFromFile(weights);
  }
  for (size_t i = 0; i < history_.size(); ++i) {
    try {
      history_[i]->FromProto(state.history(static_cast<int>(i)), false);
    } catch (const Error& error) {
      Fail(state_file, ": history blob ", i, ": ", error.what());
    }
  }
  iter_ = state.iter();
  current_step_ = state.current_step();
  LOG(INFO) << "Restored solver state at iteration " << iter_;
}

}  // namespace condense
