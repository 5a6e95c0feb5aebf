// `condense analyze`: per-layer mixed precision. Finds the common activation width and each layer's
// weight width that minimise total weight bits (or MACs × bits) while the net stays within
// --error_margin of float, verified by a final full scoring; writes the quantized prototxt, prints a
// per-layer table and, with --report=DIR, the CSV/JSON/HTML report.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <chrono>
#include <iostream>

#include "condense/analyze/analysis_report.hpp"
#include "condense/analyze/bit_width_search.hpp"
#include "condense/analyze/net_evaluator.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/upgrade.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "verb.hpp"

DEFINE_string(report, "", "analyze: also write analysis.csv, analysis.json and analysis.html here.");
DEFINE_string(cost, "weight_bits", "analyze: what to minimise, weight_bits or mac_bits.");
DEFINE_int32(max_weight_bits, 8, "analyze: the widest weights to consider (2..8).");
DEFINE_int32(max_activation_bits, 8, "analyze: the widest activations to consider (4..16).");
DEFINE_int32(keep_first_last, 0, "analyze: keep the first and last layer's weights at this width (0: search them too).");

namespace condense::tools {
namespace {

ReportFormat FormatOf(bool has, int bits, int fl) {
  if (!has) return {0, 0, "float"};
  return {bits, fl, StrCat("fixed<", bits, ",", fl, ">")};
}

int AnalyzeMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense analyze takes no positional arguments (got '", args[0], "')");
  RequireFlag(FLAGS_model, "model", "analyze");
  RequireFlag(FLAGS_weights, "weights", "analyze");
  RequireFlag(FLAGS_model_quantized, "model_quantized", "analyze");
  CONDENSE_CHECK(FLAGS_iterations > 0, "--iterations must be positive, not ", FLAGS_iterations);
  CONDENSE_CHECK(FLAGS_error_margin > 0 && FLAGS_error_margin < 100,
                 "--error_margin must lie between 0 and 100 (points of accuracy), got ",
                 FLAGS_error_margin);
  CONDENSE_CHECK(FLAGS_cost == "weight_bits" || FLAGS_cost == "mac_bits",
                 "--cost must be weight_bits or mac_bits, not '", FLAGS_cost, "'");
  CONDENSE_CHECK(FLAGS_keep_first_last >= 0 && FLAGS_keep_first_last <= 32,
                 "--keep_first_last must be a width from 1 to 32 bits (or 0), not ", FLAGS_keep_first_last);
  CONDENSE_CHECK(FLAGS_max_weight_bits >= 2 && FLAGS_max_weight_bits <= 8,
                 "--max_weight_bits must lie between 2 and 8, not ", FLAGS_max_weight_bits);
  CONDENSE_CHECK(FLAGS_max_activation_bits >= 4 && FLAGS_max_activation_bits <= 16,
                 "--max_activation_bits must lie between 4 and 16, not ", FLAGS_max_activation_bits);
  if (!FLAGS_report.empty()) {
    // Fail before the long work, not after it.
    MakeDirectories(FLAGS_report);
  }
  MixedPrecisionOptions options;
  options.error_margin = FLAGS_error_margin;
  options.range_method = ParseRangeMethod(FLAGS_range_method.empty() ? "mse" : FLAGS_range_method);
  options.cost_is_mac_bits = FLAGS_cost == "mac_bits";
  options.keep_first_last_bits = FLAGS_keep_first_last;
  options.max_weight_bits = FLAGS_max_weight_bits;
  options.max_activation_bits = FLAGS_max_activation_bits;
  const auto start = std::chrono::steady_clock::now();

  NetEvaluator evaluator(FLAGS_model, FLAGS_weights, FLAGS_iterations);
  MixedPrecisionResult result = MixedPrecisionSearch(evaluator, options);
  std::map<std::string, NetEvaluator::LayerQuality> quality;
  evaluator.Score(ApplyFormats(evaluator.test_net(), result.search.formats), 0, &quality);
  const NetParameter quantized = ApplyFormats(ReadNetParameterFile(FLAGS_model), result.search.formats);
  WriteTextProtoFile(FLAGS_model_quantized, quantized);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  AnalysisReport report;
  report.net_name = evaluator.net_name();
  report.model = FLAGS_model;
  report.weights = FLAGS_weights;
  report.model_quantized = FLAGS_model_quantized;
  report.cost = FLAGS_cost;
  report.error_margin = FLAGS_error_margin;
  report.float_accuracy = evaluator.float_accuracy();
  report.condensed_accuracy = result.search.accuracy;
  report.float_weight_bits = WeightBits(evaluator, {});
  report.condensed_weight_bits = WeightBits(evaluator, result.search.formats);
  report.seconds = seconds;
  report.trials = result.search.trials;
  ConsoleTable table({"layer", "type", "params", "in", "out", "weights", "saturated", "SQNR dB",
                      "sensitivity"});
  for (const QuantizableLayer& layer : evaluator.quantizable_layers()) {
    const QuantizationParameter& q = result.search.formats.at(layer.name);
    LayerReportRow row;
    row.layer = layer.name;
    row.type = layer.type;
    row.params = layer.params;
    row.macs = layer.macs;
    row.input = FormatOf(q.has_bw_layer_in(), q.bw_layer_in(), q.fl_layer_in());
    row.output = FormatOf(q.has_bw_layer_out(), q.bw_layer_out(), q.fl_layer_out());
    row.params_format = FormatOf(q.has_bw_params(), q.bw_params(), q.fl_params());
    row.range_method = RangeMethodName(options.range_method);
    row.saturation = quality[layer.name].saturation;
    row.sqnr_db = quality[layer.name].sqnr_db;
    row.sensitivity = result.sensitivity[layer.name];
    table.AddRow({row.layer, row.type, std::to_string(row.params), row.input.text, row.output.text,
                  row.params_format.text, FormatFixed(100 * row.saturation, 2) + " %",
                  FormatFixed(row.sqnr_db, 1), FormatFixed(row.sensitivity, 2)});
    report.layers.push_back(row);
  }
  std::cout << table.Render();
  std::cout << "accuracy: float " << FormatFixed(report.float_accuracy, 4) << ", condensed "
            << FormatFixed(report.condensed_accuracy, 4) << " (margin " << FLAGS_error_margin
            << " points)\nweight bits: " << report.condensed_weight_bits << " of "
            << report.float_weight_bits << " in float ("
            << FormatFixed(double(report.float_weight_bits) / report.condensed_weight_bits, 2)
            << "x smaller)\n" << evaluator.scorings() << " scorings in " << FormatSeconds(seconds)
            << "\nwrote " << FLAGS_model_quantized << "\n";
  if (report.condensed_accuracy < report.float_accuracy - FLAGS_error_margin / 100) {
    LOG(WARNING) << "Even the widest allowed widths lose more than " << FLAGS_error_margin
                 << " points: fine-tune the condensed net (condense train on " << FLAGS_model_quantized
                 << ") to win the accuracy back";
  }
  if (!FLAGS_report.empty()) {
    std::cout << "report: " << WriteAnalysisReport(report, FLAGS_report) << "\n";
  }
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("analyze",
                       "--model=M --weights=W --model_quantized=Q [--error_margin=2] [--iterations=50] "
                       "[--report=DIR] [--range_method=mse] [--cost=weight_bits|mac_bits] [--max_weight_bits=8] "
                       "[--max_activation_bits=8] "
                       "[--keep_first_last=BITS]",
                       AnalyzeMain);

}  // namespace condense::tools
