// The analysis report's three files: the CSV's columns, the JSON's fields, and an HTML page that is
// self-contained (nothing from the network), holds the inlined Chart.js where the build had it, escapes
// names, and — where Chromium is installed — renders with its plots drawn.
#include "condense/analyze/analysis_report.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

const char kTrickyName[] = "a<b&\"c\"";

ReportFormat Fixed(int bits, int fl) { return {bits, fl, StrCat("fixed<", bits, ",", fl, ">")}; }

// A LeNet-shaped report; the first layer has a name that HTML, CSV and JSON all must escape.
AnalysisReport SampleReport() {
  AnalysisReport report;
  report.net_name = "LeNet";
  report.model = "models/lenet/lenet_train_test.prototxt";
  report.weights = "lenet_iter_10000.caffemodel";
  report.model_quantized = "/tmp/lenet_condensed.prototxt";
  report.cost = "weight_bits";
  report.error_margin = 1.0;
  report.float_accuracy = 0.9906;
  report.condensed_accuracy = 0.9891;
  report.float_weight_bits = 431080LL * 32;
  report.condensed_weight_bits = 1190000;
  report.seconds = 83.4;
  const auto layer = [](std::string name, std::string type, int64_t params, int64_t macs, ReportFormat in,
                        ReportFormat out, ReportFormat weights, double saturation, double sqnr,
                        double sensitivity) {
    LayerReportRow row;
    row.layer = std::move(name), row.type = std::move(type), row.params = params, row.macs = macs;
    row.input = in, row.output = out, row.params_format = weights;
    row.range_method = "mse", row.saturation = saturation, row.sqnr_db = sqnr;
    row.sensitivity = sensitivity;
    return row;
  };
  report.layers = {
      layer(kTrickyName, "Convolution", 520, 288000, Fixed(8, 7), Fixed(8, 3), Fixed(4, 3), 0.0012, 31.5, 0.08),
      layer("conv2", "Convolution", 25050, 1600000, Fixed(8, 3), Fixed(8, 2), Fixed(3, 4), 0.0004, 24.2, 0.21),
      layer("ip1", "InnerProduct", 400500, 400000, Fixed(8, 2), Fixed(8, 3), Fixed(2, 5), 0.0, 18.7, 0.55),
      layer("ip2", "InnerProduct", 5010, 5000, Fixed(8, 3), ReportFormat{0, 0, "float"}, Fixed(4, 3), 0.0,
            std::numeric_limits<double>::infinity(), 0.02)};
  const std::vector<std::pair<int64_t, double>> tried = {
      {6897280, 0.9906}, {3448640, 0.9905}, {1724320, 0.9888}, {1400000, 0.9893},
      {1190000, 0.9891}, {980000, 0.9702}, {862160, 0.6962}, {1050000, 0.9810}};
  for (size_t i = 0; i < tried.size(); ++i) {
    report.trials.push_back(
        {StrCat("trial ", i), tried[i].first, tried[i].second, tried[i].first == 1190000});
  }
  return report;
}

struct ReportFiles {
  std::string dir, html_path, csv, json, html;
};

class AnalysisReportTest : public ::testing::Test {
 protected:
  void SetUp() override { base_ = testing::MakeTempDir("condense_report_"); }
  void TearDown() override { std::system(("rm -rf '" + base_ + "'").c_str()); }

  // Writes the sample report into a directory that does not exist yet.
  ReportFiles WriteSample() {
    ReportFiles files;
    files.dir = base_ + "/nested/report";
    files.html_path = WriteAnalysisReport(SampleReport(), files.dir);
    files.csv = ReadFileToString(files.dir + "/analysis.csv");
    files.json = ReadFileToString(files.dir + "/analysis.json");
    files.html = ReadFileToString(files.html_path);
    return files;
  }

  std::string base_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(AnalysisReportTest, WritesCsvJsonAndHtmlIntoANewDirectory) {
  const ReportFiles files = WriteSample();
  EXPECT_EQ(files.dir + "/analysis.html", files.html_path);
  EXPECT_TRUE(FileExists(files.dir + "/analysis.csv"));
  EXPECT_TRUE(FileExists(files.dir + "/analysis.json"));
  EXPECT_FALSE(files.html.empty());
}

TEST_F(AnalysisReportTest, CsvHasAHeaderAndOneRowPerLayer) {
  const std::vector<std::string> lines = Lines(WriteSample().csv);
  ASSERT_EQ(5u, lines.size());
  EXPECT_EQ(
      "layer,type,params,macs,input_bits,input_fl,input_format,output_bits,output_fl,output_format,"
      "params_bits,params_fl,params_format,range_method,saturation,sqnr_db,sensitivity",
      lines[0]);
  // Quoted where the name holds a quote; the format texts hold a comma.
  EXPECT_EQ("\"a<b&\"\"c\"\"\",Convolution,520,288000,8,7,\"fixed<8,7>\",8,3,\"fixed<8,3>\",4,3,"
            "\"fixed<4,3>\",mse,0.0012,31.5,0.08",
            lines[1]);
  EXPECT_EQ("ip2,InnerProduct,5010,5000,8,3,\"fixed<8,3>\",0,0,float,4,3,\"fixed<4,3>\",mse,0,inf,0.02",
            lines[4]);
}

TEST_F(AnalysisReportTest, JsonHoldsTheWholeReport) {
  const nlohmann::json json = nlohmann::json::parse(WriteSample().json);
  EXPECT_EQ("LeNet", json["net_name"]);
  EXPECT_EQ("weight_bits", json["cost"]);
  EXPECT_EQ("/tmp/lenet_condensed.prototxt", json["model_quantized"]);
  EXPECT_DOUBLE_EQ(0.9906, json["float_accuracy"].get<double>());
  EXPECT_DOUBLE_EQ(0.9891, json["condensed_accuracy"].get<double>());
  EXPECT_DOUBLE_EQ(1.0, json["error_margin"].get<double>());
  EXPECT_EQ(431080LL * 32, json["float_weight_bits"].get<int64_t>());
  EXPECT_EQ(1190000, json["condensed_weight_bits"].get<int64_t>());
  EXPECT_NEAR(431080.0 * 32 / 1190000, json["compression_ratio"].get<double>(), 1e-9);
  EXPECT_DOUBLE_EQ(83.4, json["seconds"].get<double>());
  ASSERT_EQ(4u, json["layers"].size());
  const nlohmann::json& first = json["layers"][0];
  EXPECT_EQ(kTrickyName, first["layer"]);
  EXPECT_EQ(520, first["params"]);
  EXPECT_EQ(288000, first["macs"]);
  EXPECT_EQ(8, first["input"]["bits"]);
  EXPECT_EQ(7, first["input"]["fraction_length"]);
  EXPECT_EQ("fixed<4,3>", first["params_format"]["text"]);
  EXPECT_EQ("mse", first["range_method"]);
  EXPECT_DOUBLE_EQ(0.0012, first["saturation"].get<double>());
  EXPECT_DOUBLE_EQ(31.5, first["sqnr_db"].get<double>());
  EXPECT_DOUBLE_EQ(0.08, first["sensitivity"].get<double>());
  EXPECT_TRUE(json["layers"][3]["sqnr_db"].is_null());  // infinite: nothing was lost
  EXPECT_EQ(0, json["layers"][3]["output"]["bits"]);
  ASSERT_EQ(8u, json["trials"].size());
  EXPECT_EQ("trial 4", json["trials"][4]["label"]);
  EXPECT_TRUE(json["trials"][4]["chosen"].get<bool>());
  EXPECT_FALSE(json["trials"][0]["chosen"].get<bool>());
  EXPECT_EQ(862160, json["trials"][6]["weight_bits"]);
}

TEST_F(AnalysisReportTest, HtmlLoadsNothingFromTheNetwork) {
  const std::string html = WriteSample().html;
  const std::regex remote(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, remote));
  EXPECT_EQ(std::string::npos, html.find("<link"));
  EXPECT_EQ(std::string::npos, html.find("@import"));
  EXPECT_EQ(std::string::npos, html.find("<script src"));
}

TEST_F(AnalysisReportTest, HtmlEscapesNamesInTablesAndScriptData) {
  const std::string html = WriteSample().html;
  EXPECT_NE(std::string::npos, html.find("a&lt;b&amp;&quot;c&quot;"));
  EXPECT_EQ(std::string::npos, html.find(kTrickyName));
  // In the JSON the plots read, '<' and '&' are \u escapes: no "</script>" can come out of a name.
  EXPECT_NE(std::string::npos, html.find(R"(a\u003cb\u0026\"c\")"));
}

TEST_F(AnalysisReportTest, HtmlHasSummaryTableAndPlotsOrSaysTheyAreUnavailable) {
  const std::string html = WriteSample().html;
  EXPECT_NE(std::string::npos, html.find("99.06 %"));  // float accuracy
  EXPECT_NE(std::string::npos, html.find("98.91 %"));  // condensed accuracy
  EXPECT_NE(std::string::npos, html.find("1.19 Mbit"));
  EXPECT_NE(std::string::npos, html.find("13.79 Mbit"));  // float 32-bit
  EXPECT_NE(std::string::npos, html.find("11.59\u00d7"));  // compression
  EXPECT_NE(std::string::npos, html.find("1 min 23 s"));
  EXPECT_NE(std::string::npos, html.find("<td>InnerProduct</td>"));
  EXPECT_NE(std::string::npos, html.find("\u221e"));  // the infinite SQNR
  if (AnalysisReportHasPlots()) {
    EXPECT_NE(std::string::npos, html.find("Chart.js v"));  // the inlined library's banner
    EXPECT_NE(std::string::npos, html.find("new Chart("));
    for (const char* canvas : {"bits-chart", "sqnr-chart", "trials-chart"}) {
      EXPECT_NE(std::string::npos, html.find(StrCat("<canvas id=\"", canvas, "\">"))) << canvas;
    }
    EXPECT_NE(std::string::npos, html.find("data-charts=\"pending\""));
  } else {
    EXPECT_NE(std::string::npos, html.find("Plots are unavailable"));
    EXPECT_EQ(std::string::npos, html.find("<canvas"));
  }
}

TEST_F(AnalysisReportTest, UnwritableDirectoryIsAnErrorNamingIt) {
  WriteFileAtomically(base_ + "/file", "not a directory");
  const std::string dir = base_ + "/file/report";
  try {
    WriteAnalysisReport(SampleReport(), dir);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string::npos, std::string(error.what()).find(dir)) << error.what();
  }
}

bool OnPath(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_F(AnalysisReportTest, RendersInHeadlessChromiumWithItsPlots) {
  if (!OnPath("chromium")) GTEST_SKIP() << "chromium is not on PATH: skipping the browser rendering test";
  if (!AnalysisReportHasPlots()) GTEST_SKIP() << "built without Chart.js (libjs-chart.js): no plots to render";
  const ReportFiles files = WriteSample();
  const std::string png = files.dir + "/screenshot.png";
  const std::string command = StrCat("bash '", CONDENSE_SOURCE_DIR, "/scripts/report_screenshot.sh' '",
                                     files.html_path, "' '", png, "' 2>&1");
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << command;
  EXPECT_EQ(0, WEXITSTATUS(status)) << command;
  ASSERT_TRUE(FileExists(png));
  EXPECT_GT(ReadFileToString(png).size(), 20000u);  // a blank 1280x2000 page is a few kilobytes
}

}  // namespace
}  // namespace condense
