// AnalysisReport: what `condense analyze` found, in the form the user reads it — a row per quantized
// layer (widths, fraction lengths, range method, saturation, SQNR, sensitivity), float against condensed
// accuracy and size, and every trial the search scored — written as CSV, JSON and one self-contained
// HTML page with plots (Chart.js inlined, nothing fetched from the network).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace condense {

// One tensor group's format; bits == 0 means the tensor stays float.
struct ReportFormat {
  int bits = 0;
  int fraction_length = 0;
  std::string text;  // as the prototxt says it, e.g. "fixed<4,6>", "minifloat e4m3", "float"
};

struct LayerReportRow {
  std::string layer;
  std::string type;
  int64_t params = 0;  // weights and biases
  int64_t macs = 0;    // multiply-accumulates per image
  ReportFormat input, output, params_format;
  std::string range_method;
  double saturation = 0;   // share of this layer's values that were clipped, 0..1, at the chosen widths
  double sqnr_db = 0;      // of the layer's quantized tensors together, at the chosen widths; +inf
                           // where they lost nothing
  double sensitivity = 0;  // accuracy drop in points when only this layer is reduced to its chosen widths
};

// One scored configuration of the search.
struct TrialPoint {
  std::string label;  // e.g. "ip1 weights 2 bits"
  int64_t weight_bits = 0;
  double accuracy = 0;  // 0..1, as the accuracies below
  bool chosen = false;
};

struct AnalysisReport {
  std::string net_name;
  std::string model, weights, model_quantized;
  std::string cost;  // "weight_bits" or "mac_bits"
  double error_margin = 0;  // points: percentage points of accuracy, so 1 allows 0.99 -> 0.98
  // As Caffe's Accuracy layer reports them, 0..1; the report shows them in percent.
  double float_accuracy = 0, condensed_accuracy = 0;
  int64_t float_weight_bits = 0;  // every weight and bias at 32 bits
  int64_t condensed_weight_bits = 0;
  double seconds = 0;  // wall time of the whole analysis
  std::vector<LayerReportRow> layers;
  std::vector<TrialPoint> trials;
};

// Writes DIR/analysis.csv, DIR/analysis.json and DIR/analysis.html (each to a temporary name, then
// renamed), creating DIR when needed; an unwritable DIR is an Error naming it. Returns the HTML path.
std::string WriteAnalysisReport(const AnalysisReport& report, const std::string& dir);

// Whether this build inlines Chart.js (libjs-chart.js was there at build time); without it the HTML
// page has the summary and tables and says that plots are unavailable.
bool AnalysisReportHasPlots();

}  // namespace condense
