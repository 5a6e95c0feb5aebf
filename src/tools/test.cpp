// `condense test`: scores a trained net over --iterations batches and reports the mean of every output
// blob, as `caffe test` does, with progress on the way and a summary table at the end.
#include <glog/logging.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "condense/core/file_io.hpp"
#include "condense/core/error.hpp"
#include "condense/layers/accuracy.hpp"
#include "condense/quant/layer_quantization.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "net_setup.hpp"
#include "verb.hpp"

namespace condense::tools {

namespace {

struct OutputScore {
  std::string name;
  float loss_weight = 0.0f;
  std::vector<double> sums;  // one per element of the output blob
};

// Prints, per quantized tensor, the share of values that saturated and the SQNR of the quantized
// against the float values; returns the same figures for the JSON summary.
nlohmann::ordered_json ReportQuantization(const Net& net) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  ConsoleTable table({"layer", "tensor", "format", "saturated %", "SQNR dB"});
  for (size_t i = 0; i < net.layers().size(); ++i) {
    const LayerQuantization* quantization = net.layers()[i]->quantization();
    if (quantization == nullptr) continue;
    for (const TensorQuantizationReport& report : quantization->Reports()) {
      const double sqnr = report.stats.SqnrDb();
      table.AddRow({net.layer_names()[i], report.tensor, report.format,
                    FormatFixed(100.0 * report.stats.SaturatedShare(), 3),
                    std::isinf(sqnr) ? "exact" : FormatFixed(sqnr, 1)});
      rows.push_back({{"layer", net.layer_names()[i]},
                      {"tensor", report.tensor},
                      {"format", report.format},
                      {"values", report.stats.count},
                      {"saturated_share", report.stats.SaturatedShare()},
                      {"sqnr_db", std::isinf(sqnr) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(sqnr)}});
    }
  }
  if (!rows.empty()) std::cout << "\nquantized tensors\n" << table.Render();
  return rows;
}

// Predictions an Accuracy layer counted wrong only because another class scored exactly as high as the
// true one, summed over the batches. Float nets hardly ever tie; logits on a coarse fixed-point grid
// do, and then this is the most a finer output format could win back (a finer grid may also break a
// tie the wrong way).
nlohmann::ordered_json ReportTies(const AccuracyTallies& tallies) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  ConsoleTable table({"layer", "predictions", "lost to ties", "share %"});
  bool any = false;
  for (const AccuracyTallies::Entry& entry : tallies.entries()) {
    const AccuracyLayer::Tally& tally = entry.sum;
    const double share =
        tally.scored == 0 ? 0.0 : static_cast<double>(tally.lost_to_ties) / tally.scored;
    any = any || tally.lost_to_ties > 0;
    table.AddRow({entry.layer, std::to_string(tally.scored), std::to_string(tally.lost_to_ties),
                  FormatFixed(100.0 * share, 3)});
    rows.push_back({{"layer", entry.layer},
                    {"predictions", tally.scored},
                    {"lost_to_ties", tally.lost_to_ties},
                    {"share", share}});
  }
  if (any) {
    std::cout << "\npredictions lost to ties (another class scored exactly as high as the true one; "
                 "Accuracy counts that as wrong, as Caffe does)\n"
              << table.Render();
  }
  return rows;
}

int TestMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense test takes no positional arguments (got '", args[0], "')");
  RequireFlag(FLAGS_weights, "weights", "test");
  CONDENSE_CHECK(FLAGS_iterations > 0, "--iterations must be positive, not ", FLAGS_iterations);
  std::unique_ptr<Net> net = NetFromFlags("test", TEST);
  const int64_t batch = BatchSize(*net);
  LOG(INFO) << "Scoring " << FLAGS_model << " for " << FLAGS_iterations << " batches of " << batch;

  std::vector<OutputScore> scores;
  for (size_t i = 0; i < net->output_blobs().size(); ++i) {
    OutputScore score;
    score.name = net->blob_names()[net->output_blob_indices()[i]];
    score.loss_weight = net->blob_loss_weight(net->output_blob_indices()[i]);
    score.sums.assign(net->output_blobs()[i]->count(), 0.0);
    scores.push_back(score);
  }
  // On a quantized net, also measure what the word widths do to each tensor.
  for (const auto& layer : net->layers()) {
    if (layer->quantization()) layer->quantization()->set_collect_stats(true);
  }
  AccuracyTallies ties(*net);
  double total_loss = 0.0;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  for (int iteration = 0; iteration < FLAGS_iterations; ++iteration) {
    total_loss += net->Forward();
    for (size_t i = 0; i < scores.size(); ++i) {
      const Blob& output = *net->output_blobs()[i];
      CONDENSE_CHECK(static_cast<int64_t>(scores[i].sums.size()) == output.count(), "output '",
                     scores[i].name, "' changed size between batches");
      for (int64_t k = 0; k < output.count(); ++k) scores[i].sums[k] += output.data()[k];
    }
    ties.Add();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report > std::chrono::seconds(2) || iteration + 1 == FLAGS_iterations) {
      last_report = now;
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double per_batch = elapsed / (iteration + 1);
      LOG(INFO) << "Batch " << iteration + 1 << "/" << FLAGS_iterations << ", "
                << FormatFixed(batch / per_batch, 0) << " images/s, ETA "
                << FormatSeconds(per_batch * (FLAGS_iterations - iteration - 1));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  nlohmann::ordered_json outputs = nlohmann::ordered_json::object();
  ConsoleTable table({"output", "mean", "loss weight"});
  for (const OutputScore& score : scores) {
    std::vector<double> means;
    for (double sum : score.sums) means.push_back(sum / FLAGS_iterations);
    for (size_t k = 0; k < means.size(); ++k) {
      const std::string label = means.size() == 1 ? score.name : StrCat(score.name, "[", k, "]");
      LOG(INFO) << label << " = " << means[k]
                << (score.loss_weight != 0.0f
                        ? StrCat(" (* ", score.loss_weight, " = ", score.loss_weight * means[k], " loss)")
                        : std::string());
      table.AddRow({label, FormatFixed(means[k], 6),
                    score.loss_weight != 0.0f ? FormatFixed(score.loss_weight, 3) : "-"});
    }
    outputs[score.name] = means.size() == 1 ? nlohmann::ordered_json(means[0]) : nlohmann::ordered_json(means);
  }
  const double loss = total_loss / FLAGS_iterations;
  LOG(INFO) << "Loss: " << loss;
  std::cout << "\n" << table.Render() << "images: " << batch * FLAGS_iterations << " in "
            << FormatSeconds(seconds) << " (" << FormatFixed(batch * FLAGS_iterations / seconds, 0)
            << " images/s)\n";

  const nlohmann::ordered_json tie_rows = ReportTies(ties);
  const nlohmann::ordered_json quantization = ReportQuantization(*net);
  if (!FLAGS_json.empty()) {
    nlohmann::ordered_json summary;
    summary["outputs"] = outputs;
    summary["loss"] = loss;
    summary["images"] = batch * FLAGS_iterations;
    summary["iterations"] = FLAGS_iterations;
    summary["batch_size"] = batch;
    summary["seconds"] = seconds;
    summary["model"] = FLAGS_model;
    summary["weights"] = FLAGS_weights;
    if (!tie_rows.empty()) summary["ties"] = tie_rows;
    if (!quantization.empty()) summary["quantization"] = quantization;
    WriteFileAtomically(FLAGS_json, summary.dump(2) + "\n");
  }
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("test", "score a model: --model --weights [--iterations=50] [--json=FILE]",
                       TestMain);

}  // namespace condense::tools
