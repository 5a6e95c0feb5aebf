// Folding BatchNorm / Scale into the layer before them: on tiny nets with random weights and hand-set
// statistics, the folded net computes what the unfolded one does (convolution with and without bias,
// in place and not, inner product, grouped deconvolution); a convolution whose output feeds another
// layer too, and a Scale with no BatchNorm, are left alone.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "condense/analyze/batch_norm_folding.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/core/random.hpp"
#include "condense/net/net.hpp"

namespace condense {
namespace {

constexpr char kInput[] = R"(
  name: "fold"
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 5 dim: 5 } } }
)";

NetParameter Parse(const std::string& layers) {
  NetParameter param;
  ParseTextProto(kInput + layers, "batch_norm_folding_test", &param);
  param.mutable_state()->set_phase(TEST);
  return param;
}

// Weights from the fillers, with BatchNorm statistics and Scale parameters set by hand: stored sums
// with a scale factor of 2.5, as Caffe keeps them, and variances well away from zero.
NetParameter RandomWeights(const NetParameter& model) {
  SeedRandom(1701);
  Net net(model, "random");
  for (size_t i = 0; i < net.layers().size(); ++i) {
    const auto& blobs = net.layers()[i]->blobs();
    const std::string type = net.layers()[i]->type();
    if (type == "BatchNorm") {
      const int64_t channels = blobs[0]->count();
      FillGaussian(channels, 2.5f, 2.5f, blobs[0]->mutable_data());
      FillUniform(channels, 0.5f, 10.0f, blobs[1]->mutable_data());
      blobs[2]->mutable_data()[0] = 2.5f;
    } else if (type == "Scale") {
      FillGaussian(blobs[0]->count(), 1.0f, 0.5f, blobs[0]->mutable_data());
      if (blobs.size() > 1) FillGaussian(blobs[1]->count(), 0.0f, 1.0f, blobs[1]->mutable_data());
    }
  }
  NetParameter weights;
  net.ToProto(&weights);
  return weights;
}

std::vector<float> Output(const NetParameter& model, const NetParameter& weights,
                          const std::string& blob) {
  Net net(model, "output");
  net.CopyTrainedLayersFrom(weights, "weights");
  Blob* data = net.blob_by_name("data");
  SeedRandom(42);
  FillGaussian(data->count(), 0.0f, 1.0f, data->mutable_data());
  net.Forward();
  const Blob* out = net.blob_by_name(blob);
  return {out->data(), out->data() + out->count()};
}

void ExpectSameOutputs(const NetParameter& model, const NetParameter& weights, const FoldedNet& folded,
                       const std::string& blob) {
  const std::vector<float> expected = Output(model, weights, blob);
  const std::vector<float> actual = Output(folded.model, folded.weights, blob);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(expected[i], actual[i], 1e-4) << blob << "[" << i << "]";
}

int CountType(const NetParameter& param, const std::string& type) {
  int count = 0;
  for (const LayerParameter& layer : param.layer()) count += layer.type() == type;
  return count;
}

bool HasWeights(const NetParameter& weights, const std::string& name) {
  for (const LayerParameter& layer : weights.layer()) {
    if (layer.name() == name) return true;
  }
  return false;
}

TEST(BatchNormFolding, ConvWithoutBiasInPlaceMatchesUnfolded) {
  const NetParameter model = Parse(R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
      convolution_param { num_output: 3 kernel_size: 3 bias_term: false
                          weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
    layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
    layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
    layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1"
      inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.5 }
                            bias_filler { type: "gaussian" std: 0.5 } } }
  )");
  const NetParameter weights = RandomWeights(model);
  const FoldedNet folded = FoldBatchNorm(model, weights, "test");
  EXPECT_EQ(folded.folded, std::vector<std::string>{"bn1 + scale1 into conv1"});
  EXPECT_EQ(CountType(folded.model, "BatchNorm"), 0);
  EXPECT_EQ(CountType(folded.model, "Scale"), 0);
  EXPECT_TRUE(folded.model.layer(1).convolution_param().bias_term());
  EXPECT_FALSE(HasWeights(folded.weights, "bn1"));
  EXPECT_FALSE(HasWeights(folded.weights, "scale1"));
  ExpectSameOutputs(model, weights, folded, "ip1");
}

TEST(BatchNormFolding, ConvWithBiasNotInPlaceAndInnerProductMatchUnfolded) {
  const NetParameter model = Parse(R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
      convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.5 }
                          bias_filler { type: "gaussian" std: 1 } } }
    layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "bn1" }
    layer { name: "scale1" type: "Scale" bottom: "bn1" top: "scale1" scale_param { bias_term: true } }
    layer { name: "relu1" type: "ReLU" bottom: "scale1" top: "scale1" }
    layer { name: "ip1" type: "InnerProduct" bottom: "scale1" top: "ip1"
      inner_product_param { num_output: 5 bias_term: false weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "bn2" type: "BatchNorm" bottom: "ip1" top: "ip1" }
  )");
  const NetParameter weights = RandomWeights(model);
  const FoldedNet folded = FoldBatchNorm(model, weights, "test");
  EXPECT_EQ(folded.folded, (std::vector<std::string>{"bn1 + scale1 into conv1", "bn2 into ip1"}));
  EXPECT_EQ(folded.model.layer_size(), 4);
  EXPECT_EQ(folded.model.layer(2).bottom(0), "conv1");  // the ReLU now reads the convolution
  ExpectSameOutputs(model, weights, folded, "ip1");
}

TEST(BatchNormFolding, GroupedDeconvolutionMatchesUnfolded) {
  const NetParameter model = Parse(R"(
    layer { name: "deconv1" type: "Deconvolution" bottom: "data" top: "deconv1"
      convolution_param { num_output: 6 kernel_size: 3 stride: 2 group: 2 bias_term: false
                          weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "bn1" type: "BatchNorm" bottom: "deconv1" top: "deconv1" }
    layer { name: "scale1" type: "Scale" bottom: "deconv1" top: "deconv1" scale_param { bias_term: true } }
  )");
  const NetParameter weights = RandomWeights(model);
  const FoldedNet folded = FoldBatchNorm(model, weights, "test");
  EXPECT_EQ(folded.folded, std::vector<std::string>{"bn1 + scale1 into deconv1"});
  ExpectSameOutputs(model, weights, folded, "deconv1");
}

TEST(BatchNormFolding, ConvWhoseOutputFeedsAnotherLayerIsLeftAlone) {
  const NetParameter model = Parse(R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
      convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "bn1" }
    layer { name: "scale1" type: "Scale" bottom: "bn1" top: "bn1" scale_param { bias_term: true } }
    layer { name: "shortcut" type: "ReLU" bottom: "conv1" top: "shortcut" }
  )");
  const NetParameter weights = RandomWeights(model);
  const FoldedNet folded = FoldBatchNorm(model, weights, "test");
  EXPECT_TRUE(folded.folded.empty());
  EXPECT_EQ(folded.model.SerializeAsString(), model.SerializeAsString());
  EXPECT_EQ(folded.weights.SerializeAsString(), weights.SerializeAsString());
}

TEST(BatchNormFolding, ScaleWithoutBatchNormIsLeftAlone) {
  const NetParameter model = Parse(R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
      convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
  )");
  const NetParameter weights = RandomWeights(model);
  const FoldedNet folded = FoldBatchNorm(model, weights, "test");
  EXPECT_TRUE(folded.folded.empty());
  EXPECT_EQ(folded.model.SerializeAsString(), model.SerializeAsString());
  EXPECT_EQ(folded.weights.SerializeAsString(), weights.SerializeAsString());
}

}  // namespace
}  // namespace condense
