// The analyzer's scoring and searches on the real LeNet and a slice of the real MNIST test set: a
// trial replayed from cached batches (and from cached float activations) scores exactly what a fresh
// net reading the data source scores; early stopping only ever stops trials that miss the bar; the
// quantize and analyze commands write nets that load, keep their promises and name bad input clearly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "condense/analyze/bit_width_search.hpp"
#include "condense/analyze/net_evaluator.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/parallel.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

constexpr int kBatches = 5;  // of 100 images: enough to see a difference, quick enough for CI

class BitWidthSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string images = testing::SharedDataPath("mnist/t10k-images-idx3-ubyte.gz");
    const std::string labels = testing::SharedDataPath("mnist/t10k-labels-idx1-ubyte.gz");
    const std::string prototxt = testing::SharedDataPath("lenet_caffe/lenet_train_test.prototxt");
    if (images.empty() || labels.empty() || prototxt.empty()) return;
    scratch_ = testing::MakeTempDir("condense_search_");
    const std::string command = testing::CondenseBinary() + " convert_mnist " + images + " " + labels +
                                " " + scratch_ + "/mnist_lmdb > " + scratch_ + "/convert.log 2>&1";
    ASSERT_EQ(0, std::system(command.c_str())) << "convert_mnist failed; see " << scratch_;
    NetParameter param = ReadNetParameterFile(prototxt);
    for (LayerParameter& layer : *param.mutable_layer()) {
      if (layer.type() != "Data") continue;
      layer.mutable_data_param()->set_source(scratch_ + "/mnist_lmdb");
      layer.mutable_data_param()->set_batch_size(100);
    }
    WriteTextProtoFile(scratch_ + "/net.prototxt", param);
    SetThreadCount(2);
  }
  static void TearDownTestSuite() {
    if (!scratch_.empty()) std::system(("rm -rf " + scratch_).c_str());
  }

  // Accuracy of a prototxt read afresh, data source and all, as `condense test` scores it.
  static double ScoreFresh(const NetParameter& definition, const std::string& weights) {
    NetParameter param = definition;
    param.mutable_state()->set_phase(TEST);
    Net net(param, "fresh");
    net.CopyTrainedLayersFromFile(weights);
    double sum = 0;
    for (int i = 0; i < kBatches; ++i) {
      net.Forward();
      sum += net.blob_by_name("accuracy")->data()[0];
    }
    return sum / kBatches;
  }

  static std::string Run(const std::string& arguments, int* exit_code) {
    const std::string log = scratch_ + "/run.log";
    *exit_code = std::system((testing::CondenseBinary() + " " + arguments + " > " + log + " 2>&1").c_str());
    return ReadFileToString(log);
  }

  static std::string scratch_;
};

std::string BitWidthSearchTest::scratch_;

#define REQUIRE_LENET()                                                            \
  CONDENSE_REQUIRE_SHARED(weights, "lenet_caffe/lenet_iter_10000.caffemodel");     \
  if (scratch_.empty()) GTEST_SKIP() << "../shared/data/mnist or lenet_caffe is absent"

TEST_F(BitWidthSearchTest, ReplayedTrialsScoreWhatAFreshNetScores) {
  REQUIRE_LENET();
  NetEvaluator evaluator(scratch_ + "/net.prototxt", weights, kBatches);
  // Equal up to how the batch means are summed (one image is 0.001 here).
  EXPECT_NEAR(evaluator.float_accuracy(),
              ScoreFresh(ReadNetParameterFile(scratch_ + "/net.prototxt"), weights), 1e-6);
  ASSERT_EQ(4u, evaluator.quantizable_layers().size());
  EXPECT_EQ(520, evaluator.quantizable_layers()[0].params);
  EXPECT_EQ(25 * 20 * 24 * 24, evaluator.quantizable_layers()[0].macs);  // 25 taps, 20 maps of 24²

  // Only ip2 quantized: the evaluator starts from cached pool2/ip1 activations. Everything quantized:
  // it replays cached batches from the first layer. Both must equal a fresh net's score.
  for (const std::string first : {"ip2", "conv1"}) {
    std::map<std::string, QuantizationParameter> formats;
    bool on = false;
    for (const QuantizableLayer& layer : evaluator.quantizable_layers()) {
      on = on || layer.name == first;
      if (!on) continue;
      QuantizationParameter q;
      q.set_bw_layer_in(4);
      q.set_fl_layer_in(first == "ip2" ? 0 : 2);
      q.set_bw_layer_out(4);
      q.set_fl_layer_out(0);
      q.set_bw_params(3);
      q.set_fl_params(5);
      formats[layer.name] = q;
    }
    const NetParameter trial = ApplyFormats(evaluator.test_net(), formats);
    const double replayed = evaluator.Score(trial);
    EXPECT_NEAR(ScoreFresh(ApplyFormats(ReadNetParameterFile(scratch_ + "/net.prototxt"), formats),
                           weights),
                replayed, 1e-6)
        << "first quantized layer " << first;
    EXPECT_LT(replayed, evaluator.float_accuracy()) << "the trial should cost accuracy";
    // Early stopping: a bar above the true score stops below the bar; a bar below it changes nothing.
    EXPECT_LT(evaluator.Score(trial, replayed + 0.001), replayed + 0.001);
    EXPECT_DOUBLE_EQ(replayed, evaluator.Score(trial, replayed - 0.001));
  }
}

TEST_F(BitWidthSearchTest, RistrettoSearchKeepsTheMarginWithTheSignBit) {
  REQUIRE_LENET();
  NetEvaluator evaluator(scratch_ + "/net.prototxt", weights, kBatches);
  const SearchResult result =
      RistrettoSearch(evaluator, TrimmingMode::kDynamicFixedPoint, 1, RangeMethod::kMax);
  EXPECT_GE(result.accuracy, evaluator.float_accuracy() - 0.01);
  ASSERT_EQ(4u, result.formats.size());
  for (const auto& [layer, q] : result.formats) {
    EXPECT_LE(q.bw_params(), 4) << layer << ": Ristretto chose 4-bit weights on this model";
    EXPECT_LE(q.bw_layer_in(), 8) << layer;
  }
  // conv1 reads pixels in [0, 1): with the sign bit, one integer bit (fl 7 at 8 bits), not Ristretto's 0.
  EXPECT_EQ(7, result.formats.at("conv1").fl_layer_in());
  EXPECT_NEAR(result.accuracy,
              ScoreFresh(ApplyFormats(ReadNetParameterFile(scratch_ + "/net.prototxt"), result.formats),
                         weights),
              1e-6);
}

TEST_F(BitWidthSearchTest, MixedPrecisionUsesFewerBitsThanRistrettoWithinTheMargin) {
  REQUIRE_LENET();
  NetEvaluator evaluator(scratch_ + "/net.prototxt", weights, kBatches);
  MixedPrecisionOptions options;
  options.error_margin = 1;
  const MixedPrecisionResult result = MixedPrecisionSearch(evaluator, options);
  EXPECT_GE(result.search.accuracy, evaluator.float_accuracy() - 0.01);
  EXPECT_LE(WeightBits(evaluator, result.search.formats), 1293240)  // 0.75 × 4 bits × 431 080
      << "the analyzer should beat Ristretto's uniform 4-bit weights by a quarter";
  // The chosen point is the last trial, marked, and scored in full.
  ASSERT_FALSE(result.search.trials.empty());
  EXPECT_TRUE(result.search.trials.back().chosen);
  EXPECT_DOUBLE_EQ(result.search.accuracy, result.search.trials.back().accuracy);

  // With a cap, no layer is wider than the cap.
  options.max_weight_bits = 4;
  const MixedPrecisionResult capped = MixedPrecisionSearch(evaluator, options);
  for (const auto& [layer, bits] : capped.weight_bits) EXPECT_LE(bits, 4) << layer;

  // Per-channel integer affine weights beside dynamic fixed point activations (params_precision).
  options.max_weight_bits = 8;
  options.per_channel = true;
  const MixedPrecisionResult hybrid = MixedPrecisionSearch(evaluator, options);
  EXPECT_GE(hybrid.search.accuracy, evaluator.float_accuracy() - 0.01);
  for (const auto& [layer, q] : hybrid.search.formats) {
    EXPECT_EQ(QuantizationParameter::DYNAMIC_FIXED_POINT, q.precision()) << layer;
    EXPECT_EQ(QuantizationParameter::INTEGER_AFFINE, q.params_precision()) << layer;
    EXPECT_TRUE(q.per_channel()) << layer;
    EXPECT_FALSE(q.has_fl_params()) << layer;
  }

  // Integer affine with per-channel weights: the same search, TFLite's kind of format.
  options.integer_affine = true;
  options.per_channel = true;
  const MixedPrecisionResult affine = MixedPrecisionSearch(evaluator, options);
  EXPECT_GE(affine.search.accuracy, evaluator.float_accuracy() - 0.01);
  for (const auto& [layer, q] : affine.search.formats) {
    EXPECT_EQ(QuantizationParameter::INTEGER_AFFINE, q.precision()) << layer;
    EXPECT_TRUE(q.per_channel()) << layer;
    EXPECT_LT(q.range_in_min(), q.range_in_max()) << layer;
  }
}

// The size analyze reports, by hand for LeNet (weights + biases: conv1 500 + 20, conv2 25 000 + 50,
// ip1 400 000 + 500, ip2 5 000 + 10).
TEST_F(BitWidthSearchTest, WeightBitsCountBiasesScalesAndZeroPoints) {
  REQUIRE_LENET();
  NetEvaluator evaluator(scratch_ + "/net.prototxt", weights, 1);
  EXPECT_EQ(431080 * 32, WeightBits(evaluator, {}));
  std::map<std::string, QuantizationParameter> formats;
  formats["conv1"].set_bw_params(4);  // biases in the weights' format, as Ristretto
  formats["conv2"].set_bw_params(8);
  formats["conv2"].set_bw_bias(16);
  QuantizationParameter& ip1 = formats["ip1"];
  ip1.set_params_precision(QuantizationParameter::INTEGER_AFFINE);
  ip1.set_per_channel(true);
  ip1.set_bw_params(2);
  ip1.set_bw_bias(16);
  const int64_t conv1 = 520 * 4, conv2 = 25000 * 8 + 50 * 16;
  const int64_t ip1_bits = 400000 * 2 + 500 * (32 + 2) + 500 * 16;  // a scale and zero point per channel
  EXPECT_EQ(conv1 + conv2 + ip1_bits + 5010 * 32, WeightBits(evaluator, formats));
  // Power-of-two weights in [2^-8, 2^-1] and zero: 9 magnitudes and a sign, 5 bits; float biases.
  formats["ip2"].set_precision(QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS);
  const int64_t ip2 = 5000 * 5 + 10 * 32;
  EXPECT_EQ(conv1 + conv2 + ip1_bits + ip2, WeightBits(evaluator, formats));
  // Symmetric: no zero points; per tensor: one scale.
  ip1.set_affine_symmetric(true);
  ip1.set_per_channel(false);
  EXPECT_EQ(conv1 + conv2 + 400000 * 2 + 32 + 500 * 16 + ip2, WeightBits(evaluator, formats));
}

TEST_F(BitWidthSearchTest, CommandsWriteNetsThatLoadAndReports) {
  REQUIRE_LENET();
  int code = 0;
  const std::string common = " --model=" + scratch_ + "/net.prototxt --weights=" + weights +
                             " --iterations=5 --error_margin=1 --threads=2";
  std::string log = Run("quantize" + common + " --model_quantized=" + scratch_ + "/q.prototxt", &code);
  ASSERT_EQ(0, code) << log;
  EXPECT_NE(std::string::npos, log.find("wrote ")) << log;
  Net quantized(ReadNetParameterFile(scratch_ + "/q.prototxt"), "q.prototxt");  // loads, TRAIN too

  log = Run("analyze" + common + " --model_quantized=" + scratch_ + "/a.prototxt --report=" + scratch_ +
                "/report",
            &code);
  ASSERT_EQ(0, code) << log;
  for (const char* file : {"analysis.html", "analysis.csv", "analysis.json"}) {
    EXPECT_TRUE(FileExists(scratch_ + "/report/" + file)) << file;
  }
  EXPECT_NE(std::string::npos, log.find("weight bits")) << log;
}

TEST_F(BitWidthSearchTest, BadInputIsOneClearError) {
  REQUIRE_LENET();
  const std::string model = " --model=" + scratch_ + "/net.prototxt --weights=" + weights +
                            " --model_quantized=" + scratch_ + "/bad.prototxt --iterations=2";
  // A net without an Accuracy layer.
  NetParameter no_accuracy = ReadNetParameterFile(scratch_ + "/net.prototxt");
  for (int i = no_accuracy.layer_size() - 1; i >= 0; --i) {
    if (no_accuracy.layer(i).type() == "Accuracy") no_accuracy.mutable_layer()->DeleteSubrange(i, 1);
  }
  WriteTextProtoFile(scratch_ + "/no_accuracy.prototxt", no_accuracy);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"analyze" + model + " --error_margin=0", "--error_margin"},
      {"analyze" + model + " --error_margin=100", "--error_margin"},
      {"quantize" + model + " --error_margin=-1", "--error_margin"},
      {"analyze" + model + " --iterations=0", "--iterations"},
      {"quantize" + model + " --trimming_mode=ternary", "--trimming_mode"},
      {"analyze" + model + " --range_method=median", "--range_method: range method 'median' is unknown"},
      {"quantize" + model + " --range_method=kl2", "--range_method"},
      {"analyze" + model + " --report=/proc/condense_report", "/proc/condense_report"},
      {"analyze --model=" + scratch_ + "/no_accuracy.prototxt --weights=" + weights +
           " --model_quantized=" + scratch_ + "/bad.prototxt --iterations=2",
       "no Accuracy layer"},
      {"analyze --model=" + scratch_ + "/net.prototxt --weights=" + scratch_ +
           "/net.prototxt --model_quantized=" + scratch_ + "/bad.prototxt",
       "net.prototxt"},
  };
  for (const auto& [arguments, expected] : cases) {
    int code = 0;
    const std::string log = Run(arguments, &code);
    EXPECT_EQ(1, WEXITSTATUS(code)) << arguments << "\n" << log;
    EXPECT_NE(std::string::npos, log.find(expected)) << arguments << "\n" << log;
    EXPECT_EQ(std::string::npos, log.find("terminate")) << log;
    EXPECT_FALSE(FileExists(scratch_ + "/bad.prototxt")) << arguments;
  }
}

}  // namespace
}  // namespace condense
