#include "condense/analyze/analysis_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {

// Chart.js as cmake/EmbedChartJs.cmake found it at build time; empty where it found none.
namespace detail {
extern const char kChartJs[];
extern const std::size_t kChartJsSize;
extern const char kChartJsOrigin[];
}  // namespace detail

namespace {

using Json = nlohmann::ordered_json;

// ---- Plain text helpers ------------------------------------------------------------------------

std::string Printf(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

// A double as JSON can hold it: infinities and NaN (an SQNR with no noise) become null.
Json Number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

std::string HtmlEscape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string CsvNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return Printf("%.6g", value);
}

// JSON text safe inside a <script> element: '<', '>' and '&' only occur inside JSON strings, where
// their \u escapes mean the same, and without them no "</script>" or "<!--" can end the element early.
std::string ScriptSafeJson(const Json& json) {
  const std::string text = json.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string safe;
  safe.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '<': safe += "\\u003c"; break;
      case '>': safe += "\\u003e"; break;
      case '&': safe += "\\u0026"; break;
      default: safe += c;
    }
  }
  return safe;
}

// Chart.js as script text; a "</script" inside (none in 3.9 or 4.x) would end the element early, and
// "<\/" means the same in a JavaScript string.
std::string ChartJsScript() {
  std::string script(detail::kChartJs, detail::kChartJsSize);
  for (size_t at = script.find("</"); at != std::string::npos; at = script.find("</", at + 3)) {
    script.replace(at, 2, "<\\/");
  }
  return script;
}

double CompressionRatio(const AnalysisReport& report) {
  return report.condensed_weight_bits > 0
             ? static_cast<double>(report.float_weight_bits) / report.condensed_weight_bits
             : 0.0;
}

// ---- JSON ----------------------------------------------------------------------------------------

Json FormatJson(const ReportFormat& format) {
  return Json{{"bits", format.bits}, {"fraction_length", format.fraction_length}, {"text", format.text}};
}

Json ReportJson(const AnalysisReport& report) {
  Json layers = Json::array();
  for (const LayerReportRow& row : report.layers) {
    layers.push_back(Json{{"layer", row.layer},
                          {"type", row.type},
                          {"params", row.params},
                          {"macs", row.macs},
                          {"input", FormatJson(row.input)},
                          {"output", FormatJson(row.output)},
                          {"params_format", FormatJson(row.params_format)},
                          {"range_method", row.range_method},
                          {"saturation", Number(row.saturation)},
                          {"sqnr_db", Number(row.sqnr_db)},
                          {"sensitivity", Number(row.sensitivity)}});
  }
  Json trials = Json::array();
  for (const TrialPoint& trial : report.trials) {
    trials.push_back(Json{{"label", trial.label},
                          {"weight_bits", trial.weight_bits},
                          {"accuracy", Number(trial.accuracy)},
                          {"chosen", trial.chosen}});
  }
  return Json{{"net_name", report.net_name},
              {"model", report.model},
              {"weights", report.weights},
              {"model_quantized", report.model_quantized},
              {"cost", report.cost},
              {"error_margin", Number(report.error_margin)},
              {"float_accuracy", Number(report.float_accuracy)},
              {"condensed_accuracy", Number(report.condensed_accuracy)},
              {"float_weight_bits", report.float_weight_bits},
              {"condensed_weight_bits", report.condensed_weight_bits},
              {"compression_ratio", Number(CompressionRatio(report))},
              {"seconds", Number(report.seconds)},
              {"layers", std::move(layers)},
              {"trials", std::move(trials)}};
}

// ---- CSV -----------------------------------------------------------------------------------------

std::string ReportCsv(const AnalysisReport& report) {
  std::ostringstream csv;
  csv << "layer,type,params,macs,input_bits,input_fl,input_format,output_bits,output_fl,output_format,"
         "params_bits,params_fl,params_format,range_method,saturation,sqnr_db,sensitivity\n";
  const auto format_fields = [](const ReportFormat& format) {
    return StrCat(format.bits, ",", format.fraction_length, ",", CsvField(format.text), ",");
  };
  for (const LayerReportRow& row : report.layers) {
    csv << CsvField(row.layer) << "," << CsvField(row.type) << "," << row.params << "," << row.macs
        << "," << format_fields(row.input) << format_fields(row.output)
        << format_fields(row.params_format) << CsvField(row.range_method) << ","
        << CsvNumber(row.saturation) << "," << CsvNumber(row.sqnr_db) << ","
        << CsvNumber(row.sensitivity) << "\n";
  }
  return csv.str();
}

// ---- HTML ----------------------------------------------------------------------------------------

std::string Percent(double accuracy) { return Printf("%.2f", 100.0 * accuracy) + " %"; }

std::string Bits(int64_t bits) {
  const double value = static_cast<double>(bits);
  if (bits >= 1000000) return Printf("%.2f", value / 1e6) + " Mbit";
  if (bits >= 1000) return Printf("%.1f", value / 1e3) + " kbit";
  return StrCat(bits, " bit");
}

std::string Count(int64_t count) {
  std::string digits = std::to_string(count);
  const size_t first = digits[0] == '-' ? 1 : 0;
  for (size_t at = digits.size(); at > first + 3; at -= 3) digits.insert(at - 3, "\u2009");
  return digits;
}

std::string Duration(double seconds) {
  if (seconds < 60) return Printf("%.1f", seconds) + " s";
  const int64_t whole = static_cast<int64_t>(std::llround(seconds));
  if (whole < 3600) return StrCat(whole / 60, " min ", whole % 60, " s");
  return StrCat(whole / 3600, " h ", (whole % 3600) / 60, " min");
}

std::string Card(const std::string& label, const std::string& value, const std::string& note,
                 const std::string& value_class = "") {
  return StrCat("<div class=\"card\"><div class=\"label\">", HtmlEscape(label),
                "</div><div class=\"value", value_class.empty() ? "" : " " + value_class, "\">",
                HtmlEscape(value), "</div><div class=\"note\">", HtmlEscape(note), "</div></div>\n");
}

std::string SummaryHtml(const AnalysisReport& report) {
  const double drop_points = 100.0 * (report.float_accuracy - report.condensed_accuracy);
  const bool within_margin = drop_points <= report.error_margin + 1e-9;
  double change = std::round(-drop_points * 100.0) / 100.0;
  if (change == 0) change = 0;  // no "-0.00"
  const double ratio = CompressionRatio(report);
  std::string html = "<section class=\"cards\">\n";
  html += Card("Float accuracy", Percent(report.float_accuracy), "32-bit float weights and activations");
  html += Card("Condensed accuracy", Percent(report.condensed_accuracy),
               Printf("%+.2f", change) + " points; margin " + Printf("%.2f", report.error_margin) +
                   " points",
               within_margin ? "good" : "bad");
  html += Card("Weight bits", Bits(report.condensed_weight_bits),
               "float 32-bit: " + Bits(report.float_weight_bits));
  html += Card("Compression", ratio > 0 ? Printf("%.2f", ratio) + "\u00d7" : "\u2013",
               "of the weight bits against 32-bit float");
  html += Card("Analysis time", Duration(report.seconds),
               report.cost.empty() ? "" : "search cost: " + report.cost);
  return html + "</section>\n";
}

std::string FilesHtml(const AnalysisReport& report) {
  std::string html = "<dl class=\"files\">";
  const auto entry = [&](const char* name, const std::string& path) {
    if (!path.empty()) html += StrCat("<dt>", name, "</dt><dd><code>", HtmlEscape(path), "</code></dd>");
  };
  entry("model", report.model);
  entry("weights", report.weights);
  entry("condensed model", report.model_quantized);
  return html + "</dl>\n";
}

std::string FormatCells(const ReportFormat& format) {
  if (format.bits <= 0) return "<td class=\"float\" colspan=\"2\">float</td>";
  const std::string title = format.text.empty() ? "" : " title=\"" + HtmlEscape(format.text) + "\"";
  return StrCat("<td class=\"num bits\"", title, ">", format.bits, "</td><td class=\"num\"", title, ">",
                format.fraction_length, "</td>");
}

std::string LayerTableHtml(const AnalysisReport& report) {
  std::string html =
      "<div class=\"table-wrap\"><table class=\"layers\">\n<thead>\n<tr><th rowspan=\"2\">Layer</th><th rowspan=\"2\">Type</th>"
      "<th rowspan=\"2\" class=\"num\">Params</th>"
      "<th rowspan=\"2\" class=\"num\">MACs<br><small>per image</small></th>"
      "<th colspan=\"2\" class=\"group\">Inputs</th><th colspan=\"2\" class=\"group\">Outputs</th>"
      "<th colspan=\"2\" class=\"group\">Parameters</th><th rowspan=\"2\">Range<br><small>method</small></th>"
      "<th rowspan=\"2\" class=\"num\">Saturation</th>"
      "<th rowspan=\"2\" class=\"num\">SQNR<br><small>dB</small></th>"
      "<th rowspan=\"2\" class=\"num\">Sensitivity<br><small>points</small></th></tr>\n"
      "<tr><th class=\"num\">bits</th><th class=\"num\">fl</th><th class=\"num\">bits</th>"
      "<th class=\"num\">fl</th><th class=\"num\">bits</th><th class=\"num\">fl</th></tr>\n"
      "</thead>\n<tbody>\n";
  for (const LayerReportRow& row : report.layers) {
    html += StrCat("<tr><td class=\"name\">", HtmlEscape(row.layer), "</td><td>", HtmlEscape(row.type),
                   "</td><td class=\"num\">", Count(row.params), "</td><td class=\"num\">",
                   Count(row.macs), "</td>", FormatCells(row.input), FormatCells(row.output),
                   FormatCells(row.params_format), "<td>", HtmlEscape(row.range_method),
                   "</td><td class=\"num\">", Printf("%.3f", 100.0 * row.saturation),
                   " %</td><td class=\"num\">",
                   std::isinf(row.sqnr_db) ? "\u221e" : Printf("%.1f", row.sqnr_db),
                   "</td><td class=\"num\">", Printf("%.2f", row.sensitivity), "</td></tr>\n");
  }
  return html + "</tbody>\n</table></div>\n";
}

std::string TrialTableHtml(const AnalysisReport& report) {
  if (report.trials.empty()) return "";
  std::string html = StrCat("<details><summary>All ", report.trials.size(),
                            " trials of the search</summary>\n<table class=\"trials\">\n<thead><tr>"
                            "<th>Trial</th><th class=\"num\">Weight bits</th>"
                            "<th class=\"num\">Accuracy</th><th>Chosen</th></tr></thead>\n<tbody>\n");
  for (const TrialPoint& trial : report.trials) {
    html += StrCat("<tr", trial.chosen ? " class=\"chosen\"" : "", "><td>", HtmlEscape(trial.label),
                   "</td><td class=\"num\">", Count(trial.weight_bits), "</td><td class=\"num\">",
                   Percent(trial.accuracy), "</td><td>", trial.chosen ? "\u2713" : "", "</td></tr>\n");
  }
  return html + "</tbody>\n</table>\n</details>\n";
}

std::string PlotsHtml() {
  if (!AnalysisReportHasPlots()) {
    return "<p class=\"notice\">Plots are unavailable: this build of condense was made without Chart.js "
           "(Debian's libjs-chart.js). The tables below hold the same figures.</p>\n";
  }
  return "<p class=\"notice\" id=\"plots-note\" hidden></p>\n"
         "<section class=\"charts\">\n"
         "<figure class=\"chart\"><figcaption>Bits per layer</figcaption>"
         "<div class=\"plot\"><canvas id=\"bits-chart\"></canvas></div></figure>\n"
         "<figure class=\"chart\"><figcaption>SQNR per layer</figcaption>"
         "<div class=\"plot\"><canvas id=\"sqnr-chart\"></canvas></div></figure>\n"
         "<figure class=\"chart wide\"><figcaption>Accuracy against total weight bits, every trial"
         "</figcaption><div class=\"plot\"><canvas id=\"trials-chart\"></canvas></div></figure>\n"
         "</section>\n";
}

const char kStyle[] = R"css(
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --page: #f5f7fa; --head: #eef2f7;
        --good: #2f855a; --bad: #c53030; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
             "Liberation Sans", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 56px; }
h1 { font-size: 26px; margin: 0 0 6px; font-weight: 650; }
h2 { font-size: 19px; margin: 34px 0 12px; font-weight: 600; }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; }
.files { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 22px;
         color: var(--muted); font-size: 13px; }
.files dt { font-weight: 600; } .files dd { margin: 0; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.card .value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0; }
.card .value.good { color: var(--good); } .card .value.bad { color: var(--bad); }
.card .note { font-size: 13px; color: var(--muted); }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.chart { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px;
         padding: 12px 16px 16px; min-width: 0; }
.chart.wide { grid-column: 1 / -1; }
.chart figcaption { font-weight: 600; margin-bottom: 8px; }
.plot { position: relative; height: 300px; }
.chart.wide .plot { height: 380px; }
.notice { background: #fffbea; border: 1px solid #f0d88a; border-radius: 6px; padding: 10px 14px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line);
        font-size: 14px; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--head); text-align: left; font-weight: 600; white-space: nowrap; }
th small { font-weight: 400; color: var(--muted); }
th.group { text-align: center; border-left: 1px solid var(--line); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.bits { font-weight: 600; border-left: 1px solid var(--line); }
td.float { color: var(--muted); font-style: italic; text-align: center; border-left: 1px solid var(--line); }
td.name { font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.chosen { background: #fdecec !important; font-weight: 600; }
details { margin-top: 18px; } summary { cursor: pointer; color: var(--muted); margin-bottom: 8px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
)css";

// Draws the three plots from the report's JSON; marks <body data-charts> "drawn" when all three
// were made without an exception (scripts/report_screenshot.sh looks for it), "failed" otherwise.
const char kPlotScript[] = R"js(
(function () {
  var body = document.body;
  if (typeof Chart === 'undefined') { body.setAttribute('data-charts', 'unavailable'); return; }
  try {
    var report = JSON.parse(document.getElementById('report-data').textContent);
    Chart.defaults.animation = false;
    Chart.defaults.responsive = true;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family = getComputedStyle(body).fontFamily;
    Chart.defaults.font.size = 13;
    Chart.defaults.color = '#3e4c59';
    var names = report.layers.map(function (row) { return row.layer; });
    var groups = [
      { label: 'inputs', key: 'input', colour: '#4e79a7' },
      { label: 'outputs', key: 'output', colour: '#f28e2b' },
      { label: 'parameters', key: 'params_format', colour: '#59a14f' }];
    var width = function (format) { return format.bits > 0 ? format.bits : 32; };
    var describe = function (format) {
      if (format.bits <= 0) return 'float (32 bits)';
      return format.text || (format.bits + ' bits, fl ' + format.fraction_length);
    };
    var bitsLabel = function (bits) {
      if (Math.abs(bits) >= 1e6) return (bits / 1e6).toFixed(2) + ' Mbit';
      if (Math.abs(bits) >= 1e3) return (bits / 1e3).toFixed(1) + ' kbit';
      return bits + ' bit';
    };

    new Chart(document.getElementById('bits-chart'), {
      type: 'bar',
      // Tensors that stay float are drawn at 32 bits in grey.
      data: { labels: names, datasets: groups.map(function (group) {
        return { label: group.label, backgroundColor: report.layers.map(function (row) {
                   return row[group.key].bits > 0 ? group.colour : '#cbd2d9'; }),
                 data: report.layers.map(function (row) { return width(row[group.key]); }) };
      }) },
      options: {
        scales: { y: { beginAtZero: true, suggestedMax: 16, ticks: { precision: 0 },
                       title: { display: true, text: 'bits (float: grey, as 32)' } } },
        plugins: { legend: { labels: { generateLabels: function (chart) {
          return groups.map(function (group, index) {
            return { text: group.label, fillStyle: group.colour, strokeStyle: group.colour,
                     hidden: !chart.isDatasetVisible(index), datasetIndex: index };
          });
        } } }, tooltip: { callbacks: { label: function (item) {
          var group = groups[item.datasetIndex];
          return group.label + ': ' + describe(report.layers[item.dataIndex][group.key]);
        } } } }
      }
    });

    new Chart(document.getElementById('sqnr-chart'), {
      type: 'bar',
      // An infinite SQNR (nothing lost) has no bar; its label says so.
      data: { labels: report.layers.map(function (row) {
                return row.sqnr_db === null ? row.layer + ' (\u221e)' : row.layer; }),
              datasets: [{ label: 'SQNR', backgroundColor: '#76b7b2',
                data: report.layers.map(function (row) { return row.sqnr_db; }) }] },
      options: {
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, title: { display: true, text: 'SQNR (dB)' } } }
      }
    });

    var point = function (bits, accuracy, label) { return { x: bits, y: 100 * accuracy, label: label }; };
    var tried = [], chosen = [];
    report.trials.forEach(function (trial) {
      (trial.chosen ? chosen : tried).push(point(trial.weight_bits, trial.accuracy, trial.label));
    });
    if (chosen.length === 0) {
      chosen.push(point(report.condensed_weight_bits, report.condensed_accuracy, 'condensed'));
    }
    var reference = [point(report.float_weight_bits, report.float_accuracy, '32-bit float')];
    var xs = tried.concat(chosen, reference).map(function (p) { return p.x; });
    var low = Math.min.apply(null, xs), high = Math.max.apply(null, xs);
    var floor = 100 * report.float_accuracy - report.error_margin;
    // The float point sits far to the right of the trials: a log axis keeps the trials apart.
    var logarithmic = low > 0 && high / low > 6;
    // On a log axis only 1, 2 and 5 times a power of ten get a label.
    var tickLabel = function (value) {
      if (!logarithmic) return bitsLabel(value);
      var leading = value / Math.pow(10, Math.floor(Math.log10(value)));
      return [1, 2, 5].some(function (d) { return Math.abs(leading - d) < 1e-6; }) ? bitsLabel(value) : '';
    };
    new Chart(document.getElementById('trials-chart'), {
      type: 'scatter',
      data: { datasets: [
        { label: 'trials', data: tried, backgroundColor: 'rgba(78, 121, 167, 0.55)',
          borderColor: '#4e79a7', pointRadius: 4 },
        { label: 'chosen', data: chosen, backgroundColor: '#e15759', borderColor: '#9b1c1c',
          pointRadius: 9, pointHoverRadius: 11, pointStyle: 'rectRot' },
        { label: '32-bit float', data: reference, backgroundColor: '#9aa5b1', borderColor: '#52606d',
          pointRadius: 7, pointStyle: 'triangle' },
        { type: 'line', label: 'float accuracy \u2212 margin', data: [{ x: low, y: floor }, { x: high, y: floor }],
          borderColor: '#7b8794', backgroundColor: '#7b8794', borderWidth: 1.5, borderDash: [6, 4],
          pointRadius: 0, pointStyle: 'line', fill: false }] },
      options: {
        scales: {
          x: { type: logarithmic ? 'logarithmic' : 'linear',
               title: { display: true, text: 'total weight bits' + (logarithmic ? ' (log scale)' : '') },
               min: logarithmic ? low / 1.25 : undefined, max: logarithmic ? high * 1.25 : undefined,
               ticks: { maxRotation: 0, autoSkip: false, callback: tickLabel } },
          y: { title: { display: true, text: 'accuracy (%)' } }
        },
        plugins: { legend: { labels: { usePointStyle: true } },
                   tooltip: { callbacks: { label: function (item) {
          var raw = item.raw;
          if (raw.label === undefined) return 'float accuracy \u2212 margin: ' + raw.y.toFixed(2) + ' %';
          return raw.label + ': ' + raw.y.toFixed(2) + ' % at ' + bitsLabel(raw.x);
        } } } }
      }
    });
    body.setAttribute('data-charts', 'drawn');
  } catch (error) {
    body.setAttribute('data-charts', 'failed');
    var note = document.getElementById('plots-note');
    note.textContent = 'The plots could not be drawn: ' + error;
    note.hidden = false;
    console.error(error);
  }
})();
)js";

std::string ReportHtml(const AnalysisReport& report) {
  const std::string name = report.net_name.empty() ? "network" : report.net_name;
  std::string html = StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>condense analysis: ",
      HtmlEscape(name), "</title>\n<style>", kStyle, "</style>\n</head>\n<body data-charts=\"",
      AnalysisReportHasPlots() ? "pending" : "unavailable", "\">\n<main>\n<h1>condense analysis: ",
      HtmlEscape(name), "</h1>\n", FilesHtml(report), SummaryHtml(report), "<h2>Plots</h2>\n",
      PlotsHtml(), "<h2>Layers</h2>\n", LayerTableHtml(report), TrialTableHtml(report),
      "<footer>Written by condense. Accuracy in percent; a point is one percentage point of accuracy. "
      "fl: fraction length of the dynamic fixed point format.</footer>\n</main>\n");
  html += "<script type=\"application/json\" id=\"report-data\">" + ScriptSafeJson(ReportJson(report)) +
          "</script>\n";
  if (AnalysisReportHasPlots()) {
    html += "<script>\n" + ChartJsScript() + "\n</script>\n<script>" + kPlotScript + "</script>\n";
  }
  return html + "</body>\n</html>\n";
}

}  // namespace

bool AnalysisReportHasPlots() { return detail::kChartJsSize > 0; }

std::string WriteAnalysisReport(const AnalysisReport& report, const std::string& dir) {
  CONDENSE_CHECK(!dir.empty(), "analysis report: no directory given");
  const std::string html_path = dir + "/analysis.html";
  try {
    MakeDirectories(dir);
    WriteFileAtomically(dir + "/analysis.csv", ReportCsv(report));
    WriteFileAtomically(dir + "/analysis.json",
                        ReportJson(report).dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
    WriteFileAtomically(html_path, ReportHtml(report));
  } catch (const Error& error) {
    Fail("analysis report directory ", dir, ": cannot write the report (", error.what(), ")");
  }
  return html_path;
}

}  // namespace condense
