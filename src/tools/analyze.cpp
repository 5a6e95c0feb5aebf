// `condense analyze`: per-layer mixed precision. Finds the common activation width and each layer's
// weight width that minimise total weight bits (or MACs × bits) while the net stays within
// --error_margin of float, verified by a final full scoring; writes the quantized prototxt, prints a
// per-layer table and, with --report=DIR, the CSV/JSON/HTML report. With --fold_bn, BatchNorm and
// Scale layers are first folded into the convolutions before them, and the folded weights are written
// next to the quantized prototxt, which no longer matches the original caffemodel.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <chrono>
#include <iostream>
#include <string>
#include <utility>

#include "condense/analyze/analysis_report.hpp"
#include "condense/analyze/batch_norm_folding.hpp"
#include "condense/analyze/bit_width_search.hpp"
#include "condense/analyze/net_evaluator.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/upgrade.hpp"
#include "condense/quant/layer_quantizer.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "verb.hpp"

DEFINE_string(report, "", "analyze: also write analysis.csv, analysis.json and analysis.html here.");
DEFINE_string(cost, "weight_bits", "analyze: what to minimise, weight_bits or mac_bits.");
DEFINE_int32(max_weight_bits, 8, "analyze: the widest weights to consider (2..8).");
DEFINE_int32(max_activation_bits, 8, "analyze: the widest activations to consider (4..16).");
DEFINE_bool(fold_bn, false,
            "analyze: fold BatchNorm/Scale into the preceding convolution or inner product before "
            "quantizing; writes the folded weights as <model_quantized>.caffemodel.");
DEFINE_string(format, "dynamic_fixed_point",
              "analyze: dynamic_fixed_point or integer_affine (scale and zero point, as TFLite).");
DEFINE_bool(per_channel, false,
            "analyze: integer affine weights with a range per output channel (with "
            "--format=dynamic_fixed_point, beside dynamic fixed point activations).");
DEFINE_int32(keep_first_last, 0, "analyze: keep the first and last layer's weights at this width (0: search them too).");

namespace condense::tools {
namespace {

ReportFormat FormatOf(QuantizationParameter::Precision precision, bool has, int bits, int fl,
                      bool per_channel = false) {
  if (!has) return {0, 0, "float"};
  if (precision == QuantizationParameter::INTEGER_AFFINE) {
    return {bits, 0, StrCat("affine<", bits, per_channel ? ",per-channel>" : ">")};
  }
  return {bits, fl, StrCat("fixed<", bits, ",", fl, ">")};
}

// Where the folded weights go: beside the quantized prototxt, with the same stem.
std::string FoldedWeightsPath(const std::string& model_quantized) {
  const std::string suffix = ".prototxt";
  const bool has_suffix = model_quantized.size() > suffix.size() &&
                          model_quantized.compare(model_quantized.size() - suffix.size(), suffix.size(),
                                                  suffix) == 0;
  return (has_suffix ? model_quantized.substr(0, model_quantized.size() - suffix.size())
                     : model_quantized) + ".caffemodel";
}

int AnalyzeMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense analyze takes no positional arguments (got '", args[0], "')");
  CheckSearchFlags("analyze");
  CONDENSE_CHECK(FLAGS_cost == "weight_bits" || FLAGS_cost == "mac_bits",
                 "--cost must be weight_bits or mac_bits, not '", FLAGS_cost, "'");
  CONDENSE_CHECK(FLAGS_keep_first_last >= 0 && FLAGS_keep_first_last <= 32,
                 "--keep_first_last must be a width from 1 to 32 bits (or 0), not ", FLAGS_keep_first_last);
  CONDENSE_CHECK(FLAGS_max_weight_bits >= 2 && FLAGS_max_weight_bits <= 8,
                 "--max_weight_bits must lie between 2 and 8, not ", FLAGS_max_weight_bits);
  CONDENSE_CHECK(FLAGS_max_activation_bits >= 4 && FLAGS_max_activation_bits <= 16,
                 "--max_activation_bits must lie between 4 and 16, not ", FLAGS_max_activation_bits);
  CONDENSE_CHECK(FLAGS_format == "dynamic_fixed_point" || FLAGS_format == "integer_affine",
                 "--format must be dynamic_fixed_point or integer_affine, not '", FLAGS_format, "'");
  if (!FLAGS_report.empty()) {
    // Fail before the long work, not after it.
    MakeDirectories(FLAGS_report);
  }
  MixedPrecisionOptions options;
  options.error_margin = FLAGS_error_margin;
  options.range_method = RangeMethodFlag("mse");
  options.cost_is_mac_bits = FLAGS_cost == "mac_bits";
  options.keep_first_last_bits = FLAGS_keep_first_last;
  options.max_weight_bits = FLAGS_max_weight_bits;
  options.max_activation_bits = FLAGS_max_activation_bits;
  options.integer_affine = FLAGS_format == "integer_affine";
  options.per_channel = FLAGS_per_channel;
  const auto start = std::chrono::steady_clock::now();

  NetParameter model = ReadNetParameterFile(FLAGS_model);
  NetParameter weights = ReadWeightsFile(FLAGS_weights);
  std::string folded_weights_path;
  if (FLAGS_fold_bn) {
    FoldedNet folded = FoldBatchNorm(model, weights, FLAGS_model);
    if (folded.folded.empty()) LOG(INFO) << "--fold_bn: no BatchNorm layer could be folded";
    for (const std::string& line : folded.folded) LOG(INFO) << "Folded " << line;
    model = std::move(folded.model);
    weights = std::move(folded.weights);
    folded_weights_path = FoldedWeightsPath(FLAGS_model_quantized);
  }
  NetEvaluator evaluator(model, weights, FLAGS_iterations, FLAGS_model, FLAGS_weights);
  MixedPrecisionResult result = MixedPrecisionSearch(evaluator, options);
  std::map<std::string, NetEvaluator::LayerQuality> quality;
  evaluator.Score(ApplyFormats(evaluator.test_net(), result.search.formats), 0, &quality);
  const NetParameter quantized = ApplyFormats(model, result.search.formats);
  // The folded weights first: an interrupted run never leaves a new prototxt beside missing or stale
  // weights.
  if (!folded_weights_path.empty()) WriteBinaryProtoFile(folded_weights_path, weights);
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
    row.input = FormatOf(q.precision(), q.has_bw_layer_in(), q.bw_layer_in(), q.fl_layer_in());
    row.output = FormatOf(q.precision(), q.has_bw_layer_out(), q.bw_layer_out(), q.fl_layer_out());
    row.params_format =
        FormatOf(WeightPrecision(q), q.has_bw_params(), q.bw_params(), q.fl_params(), q.per_channel());
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
  if (!folded_weights_path.empty()) std::cout << "wrote " << folded_weights_path << "\n";
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
                       "[--max_activation_bits=8] [--format=dynamic_fixed_point|integer_affine] "
                       "[--per_channel] [--fold_bn] [--keep_first_last=BITS]",
                       AnalyzeMain);

}  // namespace condense::tools
