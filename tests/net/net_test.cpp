#include "condense/net/net.hpp"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/random.hpp"

namespace condense {
namespace {

NetParameter Parse(const std::string& text, Phase phase = TRAIN) {
  NetParameter param;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  param.mutable_state()->set_phase(phase);
  return param;
}

// Two inputs, a fully connected layer and a Euclidean loss against the target.
const char* kRegressionNet = R"(
  name: "regression"
  layer { name: "in" type: "Input" top: "x" top: "target"
          input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }
  layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
          inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 }
                                bias_filler { type: "constant" value: 0.1 } } }
  layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "target" top: "loss" }
)";

std::string ErrorOf(const NetParameter& param) {
  try {
    Net net(param, "test.prototxt");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(NetFilterTest, PhaseLevelAndStageRules) {
  NetParameter param = Parse(R"(
    layer { name: "train_only" type: "Silence" include { phase: TRAIN } }
    layer { name: "test_only" type: "Silence" include { phase: TEST } }
    layer { name: "not_test" type: "Silence" exclude { phase: TEST } }
    layer { name: "deep" type: "Silence" include { min_level: 2 } }
    layer { name: "staged" type: "Silence" include { stage: "deploy" } }
    layer { name: "unstaged" type: "Silence" include { not_stage: "deploy" } }
  )", TRAIN);
  std::vector<std::string> kept;
  const NetParameter train = FilterNet(param);
  for (const auto& layer : train.layer()) kept.push_back(layer.name());
  EXPECT_EQ((std::vector<std::string>{"train_only", "not_test", "unstaged"}), kept);
  param.mutable_state()->set_phase(TEST);
  param.mutable_state()->set_level(3);
  param.mutable_state()->add_stage("deploy");
  kept.clear();
  const NetParameter test = FilterNet(param);
  for (const auto& layer : test.layer()) kept.push_back(layer.name());
  EXPECT_EQ((std::vector<std::string>{"test_only", "deep", "staged"}), kept);
}

TEST(NetSplitTest, ABlobReadTwiceGetsASplitLayer) {
  const NetParameter param = InsertSplits(Parse(R"(
    layer { name: "data" type: "Input" top: "x" }
    layer { name: "a" type: "ReLU" bottom: "x" top: "a" }
    layer { name: "b" type: "ReLU" bottom: "x" top: "b" }
  )"));
  ASSERT_EQ(4, param.layer_size());
  EXPECT_EQ("x_data_0_split", param.layer(1).name());
  EXPECT_EQ("Split", param.layer(1).type());
  EXPECT_EQ("x_data_0_split_0", param.layer(2).bottom(0));
  EXPECT_EQ("x_data_0_split_1", param.layer(3).bottom(0));
}

// A loss on a blob that another layer also reads: Caffe gives the Split's copy 0 to the loss and
// copies 1, 2, ... to the readers, so the reader's gradient adds to the loss weight.
const char* kLossAlsoRead = R"(
  layer { name: "in" type: "Input" top: "x" top: "target"
          input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 2 } } }
  layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" loss_weight: 0.5
          inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 }
                                bias_filler { type: "constant" value: 0.25 } } }
  layer { name: "euclid" type: "EuclideanLoss" bottom: "ip" bottom: "target" top: "loss" }
)";

TEST(NetSplitTest, ALossBlobAlsoReadKeepsCopyZeroForTheLoss) {
  const NetParameter param = InsertSplits(Parse(kLossAlsoRead));
  ASSERT_EQ(4, param.layer_size());
  const LayerParameter& split = param.layer(2);
  EXPECT_EQ("ip_ip_0_split", split.name());
  ASSERT_EQ(2, split.top_size());
  EXPECT_EQ("ip_ip_0_split_0", split.top(0));
  ASSERT_EQ(2, split.loss_weight_size());
  EXPECT_EQ(0.5f, split.loss_weight(0));
  EXPECT_EQ(0.0f, split.loss_weight(1));
  EXPECT_EQ("ip_ip_0_split_1", param.layer(3).bottom(0));
  // The producer's loss moved to the split.
  for (float weight : param.layer(1).loss_weight()) EXPECT_EQ(0.0f, weight);
}

TEST(NetTest, ALossBlobAlsoReadSumsBothGradients) {
  SeedRandom(5);
  Net net(Parse(kLossAlsoRead));
  std::vector<std::string> outputs;
  for (int index : net.output_blob_indices()) outputs.push_back(net.blob_names()[index]);
  std::sort(outputs.begin(), outputs.end());
  EXPECT_EQ((std::vector<std::string>{"ip_ip_0_split_0", "loss"}), outputs);
  const auto& names = net.blob_names();
  const int copy_zero = static_cast<int>(
      std::find(names.begin(), names.end(), "ip_ip_0_split_0") - names.begin());
  EXPECT_EQ(0.5f, net.blob_loss_weight(copy_zero));

  const float x[2][3] = {{1.0f, -2.0f, 0.5f}, {0.25f, 3.0f, -1.0f}};
  const float t[2][2] = {{0.5f, -1.0f}, {2.0f, 0.0f}};
  float* x_data = net.blob_by_name("x")->mutable_data();
  float* t_data = net.blob_by_name("target")->mutable_data();
  for (int n = 0; n < 2; ++n) {
    for (int k = 0; k < 3; ++k) x_data[n * 3 + k] = x[n][k];
    for (int i = 0; i < 2; ++i) t_data[n * 2 + i] = t[n][i];
  }
  const Blob& weights = *net.layer_by_name("ip")->blobs()[0];
  const Blob& bias = *net.layer_by_name("ip")->blobs()[1];
  // By hand: y = x W^T + b; L = 0.5 * sum(y) + sum((y - t)^2) / (2 * 2); dL/dy = 0.5 + (y - t) / 2.
  double y[2][2];
  double expected_loss = 0.0;
  double dy[2][2];
  for (int n = 0; n < 2; ++n) {
    for (int i = 0; i < 2; ++i) {
      y[n][i] = bias.data()[i];
      for (int k = 0; k < 3; ++k) y[n][i] += x[n][k] * weights.data()[i * 3 + k];
      expected_loss += 0.5 * y[n][i] + (y[n][i] - t[n][i]) * (y[n][i] - t[n][i]) / 4.0;
      dy[n][i] = 0.5 + (y[n][i] - t[n][i]) / 2.0;
    }
  }
  // Twice, so a loss weight overwritten by the first backward pass would show in the second.
  for (int pass = 0; pass < 2; ++pass) {
    net.ClearParamDiffs();
    const float loss = net.ForwardBackward();
    EXPECT_NEAR(expected_loss, loss, 1e-5);
    for (int i = 0; i < 2; ++i) {
      for (int k = 0; k < 3; ++k) {
        const double expected = dy[0][i] * x[0][k] + dy[1][i] * x[1][k];
        EXPECT_NEAR(expected, weights.diff()[i * 3 + k], 1e-5) << "pass " << pass << " W[" << i
                                                              << "][" << k << "]";
      }
      EXPECT_NEAR(dy[0][i] + dy[1][i], bias.diff()[i], 1e-5) << "pass " << pass << " b[" << i << "]";
    }
  }
}

TEST(NetTest, ALossLayerTopReadByAnotherLossCountsBoth) {
  // EuclideanLoss weighs 1 by default; Power doubles its output, which weighs 1 too: 3 L in all.
  const std::string with_power = std::string(kRegressionNet) + R"(
    layer { name: "double" type: "Power" bottom: "loss" top: "doubled" loss_weight: 1
            power_param { scale: 2 } }
  )";
  SeedRandom(7);
  Net plain(Parse(kRegressionNet));
  SeedRandom(7);
  Net tripled(Parse(with_power));
  for (Net* net : {&plain, &tripled}) {
    net->blob_by_name("x")->SetData(0.5f);
    net->blob_by_name("target")->SetData(-0.25f);
  }
  for (int pass = 0; pass < 2; ++pass) {
    plain.ClearParamDiffs();
    tripled.ClearParamDiffs();
    const float plain_loss = plain.ForwardBackward();
    EXPECT_NEAR(3.0f * plain_loss, tripled.ForwardBackward(), 1e-5);
    const Blob& plain_weights = *plain.layer_by_name("fc")->blobs()[0];
    const Blob& tripled_weights = *tripled.layer_by_name("fc")->blobs()[0];
    for (int64_t i = 0; i < plain_weights.count(); ++i) {
      EXPECT_NEAR(3.0f * plain_weights.diff()[i], tripled_weights.diff()[i], 1e-5) << "pass " << pass;
    }
  }
}

TEST(NetTest, BuildsRunsForwardAndBackward) {
  SeedRandom(3);
  Net net(Parse(kRegressionNet));
  EXPECT_EQ("regression", net.name());
  EXPECT_EQ(3u, net.layers().size());
  EXPECT_EQ(2u, net.learnable_params().size());
  ASSERT_EQ(1u, net.output_blobs().size());
  EXPECT_EQ("loss", net.blob_names()[net.output_blob_indices()[0]]);
  EXPECT_EQ(1.0f, net.blob_loss_weight(net.output_blob_indices()[0]));
  net.blob_by_name("x")->SetData(1.0f);
  net.blob_by_name("target")->SetData(0.0f);
  net.ClearParamDiffs();
  const float loss = net.ForwardBackward();
  EXPECT_GT(loss, 0.0f);
  EXPECT_GT(net.learnable_params()[0]->asum_diff(), 0.0f);
  EXPECT_TRUE(net.layer_need_backward()[1]);
  EXPECT_FALSE(net.layer_need_backward()[0]);
}

TEST(NetTest, LossWeightScalesTheLoss) {
  SeedRandom(3);
  Net plain(Parse(kRegressionNet));
  NetParameter weighted_param = Parse(kRegressionNet);
  weighted_param.mutable_layer(2)->add_loss_weight(2.0f);
  SeedRandom(3);
  Net weighted(weighted_param);
  for (Net* net : {&plain, &weighted}) {
    net->blob_by_name("x")->SetData(1.0f);
    net->blob_by_name("target")->SetData(0.0f);
  }
  EXPECT_FLOAT_EQ(2.0f * plain.Forward(), weighted.Forward());
}

TEST(NetTest, ParametersSharedByName) {
  Net net(Parse(R"(
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "y1" param { name: "w" } param { name: "b" }
            inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
    layer { name: "fc2" type: "InnerProduct" bottom: "y1" top: "y2" param { name: "w" lr_mult: 3 } param { name: "b" }
            inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  )"));
  EXPECT_EQ(2u, net.learnable_params().size());
  EXPECT_TRUE(net.layer_by_name("fc2")->blobs()[0]->SharesDataWith(*net.layer_by_name("fc1")->blobs()[0]));
  EXPECT_EQ(3.0f, net.params_lr()[0]);
}

std::string SharedNet(const std::string& spec1, const std::string& spec2, const std::string& spec3) {
  std::string text = R"(layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } })";
  const std::string specs[] = {spec1, spec2, spec3};
  for (int i = 0; i < 3; ++i) {
    text += StrCat(R"(layer { name: "fc)", i + 1, R"(" type: "InnerProduct" bottom: ")",
                   i == 0 ? "x" : StrCat("y", i), R"(" top: "y)", i + 1, R"(" param { name: "w" )",
                   specs[i], R"( } inner_product_param { num_output: 3 } })");
  }
  return text;
}

TEST(NetTest, SharedParameterMultipliersMustAgree) {
  // Caffe's rule: the first explicit value fixes the multiplier; a different explicit one is refused.
  std::string message = ErrorOf(Parse(SharedNet("lr_mult: 1", "lr_mult: 3", "")));
  EXPECT_NE(std::string::npos, message.find("test.prototxt")) << message;
  EXPECT_NE(std::string::npos, message.find("'w' has mismatched lr_mult")) << message;
  EXPECT_NE(std::string::npos, message.find("'fc1'")) << message;
  EXPECT_NE(std::string::npos, message.find("'fc2'")) << message;

  message = ErrorOf(Parse(SharedNet("", "decay_mult: 2", "decay_mult: 0")));
  EXPECT_NE(std::string::npos, message.find("'w' has mismatched decay_mult")) << message;
  EXPECT_NE(std::string::npos, message.find("'fc2'")) << message;
  EXPECT_NE(std::string::npos, message.find("'fc3'")) << message;

  // Equal values, or a value set by one layer only, are fine.
  Net equal(Parse(SharedNet("lr_mult: 2 decay_mult: 0", "lr_mult: 2", "decay_mult: 0")));
  EXPECT_EQ(2.0f, equal.params_lr()[0]);
  EXPECT_EQ(0.0f, equal.params_weight_decay()[0]);
  Net one(Parse(SharedNet("", "", "lr_mult: 4")));
  EXPECT_EQ(4.0f, one.params_lr()[0]);
  EXPECT_EQ(1.0f, one.params_weight_decay()[0]);
}

TEST(NetTest, InPlaceLayerWritesItsInput) {
  Net net(Parse(R"(
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 } } }
    layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }
  )"));
  EXPECT_EQ(1u, net.blobs().size());
  Blob* x = net.blob_by_name("x");
  x->mutable_data()[0] = -1.0f;
  x->mutable_data()[1] = 2.0f;
  net.Forward();
  EXPECT_EQ(0.0f, x->data()[0]);
  EXPECT_EQ(2.0f, x->data()[1]);
}

TEST(NetTest, ClearErrorsForBrokenGraphs) {
  EXPECT_NE(std::string::npos,
            ErrorOf(Parse(R"(layer { name: "r" type: "ReLU" bottom: "nothing" top: "y" })"))
                .find("bottom blob 'nothing'"));
  const std::string unknown = ErrorOf(Parse(R"(layer { name: "odd" type: "NoSuchLayer" top: "y" })"));
  EXPECT_NE(std::string::npos, unknown.find("test.prototxt")) << unknown;
  EXPECT_NE(std::string::npos, unknown.find("NoSuchLayer")) << unknown;
  EXPECT_NE(std::string::npos,
            ErrorOf(Parse(R"(
              layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }
              layer { name: "in2" type: "Input" top: "x" input_param { shape { dim: 1 } } })"))
                .find("more than one layer"));
}

TEST(NetTest, CopyingWeightsChecksShapes) {
  Net net(Parse(kRegressionNet));
  NetParameter weights;
  net.ToProto(&weights);
  Net other(Parse(kRegressionNet));
  other.CopyTrainedLayersFrom(weights);
  EXPECT_EQ(net.learnable_params()[0]->data()[0], other.learnable_params()[0]->data()[0]);
  weights.mutable_layer(1)->mutable_blobs(0)->mutable_shape()->set_dim(0, 5);
  try {
    other.CopyTrainedLayersFrom(weights, "w.caffemodel");
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(std::string::npos, message.find("w.caffemodel")) << message;
    EXPECT_NE(std::string::npos, message.find("'fc'")) << message;
  }
}

TEST(NetTest, SharedTrainedLayersFollowTheSource) {
  Net train(Parse(kRegressionNet, TRAIN));
  Net test(Parse(kRegressionNet, TEST));
  test.ShareTrainedLayersWith(train);
  train.learnable_params()[0]->mutable_data()[0] = 42.0f;
  EXPECT_EQ(42.0f, test.layer_by_name("fc")->blobs()[0]->data()[0]);
}

}  // namespace
}  // namespace condense
