#include "condense/net/net.hpp"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

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
