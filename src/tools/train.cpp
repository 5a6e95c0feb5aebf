// `condense train`: trains a net from a Caffe solver file as `caffe train` does: from scratch, from
// --weights (fine-tuning) or from a --snapshot (resuming), with Caffe's signal handling (Ctrl-C stops
// after the current iteration and writes the final snapshot; SIGHUP snapshots) and a summary table at
// the end.
#include <glog/logging.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/net/upgrade.hpp"
#include "condense/solver/signal_handler.hpp"
#include "condense/solver/solver.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "verb.hpp"

DEFINE_string(solver, "", "The solver definition (.prototxt) to train with.");
DEFINE_string(snapshot, "",
              "Resume training from this .solverstate (its .caffemodel is found through the state). "
              "Cannot be combined with --weights.");
DEFINE_string(sigint_effect, "stop",
              "What SIGINT (Ctrl-C) does while training: stop (after the current iteration, then the "
              "final snapshot), snapshot, or none.");
DEFINE_string(sighup_effect, "snapshot",
              "What SIGHUP does while training: snapshot, stop, or none.");

namespace condense::tools {

namespace {

std::string FormatFloat(float value) { return StrCat(value); }

void PrintSummary(const Solver& solver) {
  const TrainingRecord& record = solver.record();
  ConsoleTable table({"training", "value"});
  table.AddRow({"iterations", StrCat(record.start_iter, " -> ", record.end_iter, " of ",
                                     solver.param().max_iter(),
                                     record.stopped_early ? " (stopped early)" : "")});
  table.AddRow({"wall time", FormatSeconds(record.wall_seconds)});
  const int trained = record.end_iter - record.start_iter;
  if (trained > 0 && record.wall_seconds > 0.0) {
    table.AddRow({"speed", StrCat(FormatFixed(trained / record.wall_seconds, 2), " iter/s")});
  }
  table.AddRow({"final train loss", record.has_train_loss ? FormatFloat(record.train_loss) : "-"});
  table.AddRow({"final learning rate", FormatFloat(record.learning_rate)});
  for (size_t net_id = 0; net_id < record.test_scores.size(); ++net_id) {
    for (const TestScore& score : record.test_scores[net_id]) {
      table.AddRow({StrCat("test #", net_id, " ", score.name, " (iter ", record.test_iter, ")"),
                    FormatFloat(score.value)});
    }
  }
  if (record.snapshots.empty()) table.AddRow({"snapshot", "none written"});
  for (const std::string& path : record.snapshots) table.AddRow({"snapshot", path});
  std::cout << "\n" << table.Render();
}

void WriteJsonSummary(const Solver& solver, const std::string& path) {
  const TrainingRecord& record = solver.record();
  nlohmann::ordered_json summary;
  summary["solver"] = FLAGS_solver;
  summary["start_iter"] = record.start_iter;
  summary["end_iter"] = record.end_iter;
  summary["max_iter"] = solver.param().max_iter();
  summary["stopped_early"] = record.stopped_early;
  summary["seconds"] = record.wall_seconds;
  summary["train_loss"] = record.has_train_loss ? nlohmann::ordered_json(record.train_loss)
                                                : nlohmann::ordered_json(nullptr);
  summary["learning_rate"] = record.learning_rate;
  summary["test_iter"] = record.test_iter;
  nlohmann::ordered_json tests = nlohmann::ordered_json::array();
  for (const auto& scores : record.test_scores) {
    nlohmann::ordered_json outputs = nlohmann::ordered_json::array();
    for (const TestScore& score : scores) {
      outputs.push_back({{"name", score.name}, {"value", score.value},
                         {"loss_weight", score.loss_weight}});
    }
    tests.push_back(outputs);
  }
  summary["test_outputs"] = tests;
  summary["snapshots"] = record.snapshots;
  WriteFileAtomically(path, summary.dump(2) + "\n");
}

int TrainMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense train takes no positional arguments (got '", args[0], "')");
  RequireFlag(FLAGS_solver, "solver", "train");
  CONDENSE_CHECK(FLAGS_snapshot.empty() || FLAGS_weights.empty(),
                 "give --snapshot to resume training or --weights to fine-tune, not both");
  SolverParameter param = ReadSolverParameterFile(FLAGS_solver);
  // As in Caffe, --level and --stage select the layers of the training net only.
  param.mutable_train_state()->set_level(FLAGS_level);
  for (const std::string& stage : StagesFromFlag()) param.mutable_train_state()->add_stage(stage);
  if (param.has_solver_mode() && param.solver_mode() == SolverParameter::GPU) {
    LOG(INFO) << FLAGS_solver << ": solver_mode GPU ignored; condense trains on the CPU";
  }
  // Installed before the nets are built, so that a Ctrl-C while data loads still stops cleanly.
  SignalHandler signals(ParseSignalEffect(FLAGS_sigint_effect, "sigint_effect"),
                        ParseSignalEffect(FLAGS_sighup_effect, "sighup_effect"));
  if (!FLAGS_snapshot.empty()) {
    param.clear_weights();
  } else if (!FLAGS_weights.empty()) {
    param.clear_weights();
    param.add_weights(FLAGS_weights);
  }
  Solver solver(param, FLAGS_solver);
  solver.SetActionFunction(signals.GetActionFunction());
  if (!FLAGS_snapshot.empty()) {
    LOG(INFO) << "Resuming from " << FLAGS_snapshot;
    solver.Restore(FLAGS_snapshot);
  }
  solver.Solve();
  PrintSummary(solver);
  if (!FLAGS_json.empty()) WriteJsonSummary(solver, FLAGS_json);
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("train",
                       "train or fine-tune: --solver [--weights=A,B | --snapshot=S.solverstate] "
                       "[--sigint_effect] [--sighup_effect] [--level] [--stage] [--json=FILE]",
                       TrainMain);

}  // namespace condense::tools
