// Reading real Caffe / Ristretto prototxt, caffemodel and solver files through the upgrader, and each
// upgrade step on small hand-written nets: V1 layers, deprecated transformation fields, net inputs,
// old BatchNorm ParamSpecs, V0 refusal and the solver_type enum.
#include "condense/net/upgrade.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using google::protobuf::util::MessageDifferencer;

std::vector<std::string> LayerNames(const NetParameter& net) {
  std::vector<std::string> names;
  for (const LayerParameter& layer : net.layer()) names.push_back(layer.name());
  return names;
}

std::vector<std::string> LayerTypes(const NetParameter& net) {
  std::vector<std::string> types;
  for (const LayerParameter& layer : net.layer()) types.push_back(layer.type());
  return types;
}

const LayerParameter& LayerNamed(const NetParameter& net, const std::string& name) {
  for (const LayerParameter& layer : net.layer()) {
    if (layer.name() == name) return layer;
  }
  throw Error("no layer " + name);
}

NetParameter ParseNet(const std::string& text) {
  NetParameter net;
  ParseTextProto(text, "test net", &net);
  return net;
}

std::string UpgradeError(NetParameter net) {
  try {
    UpgradeNetAsNeeded("net.prototxt", &net);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// --- real files ----------------------------------------------------------------------------------

TEST(UpgradeRealFiles, LenetTrainTest) {
  CONDENSE_REQUIRE_SHARED(path, "lenet_caffe/lenet_train_test.prototxt");
  const NetParameter net = ReadNetParameterFile(path);
  EXPECT_FALSE(NetNeedsUpgrade(net));
  EXPECT_EQ(net.name(), "LeNet");
  EXPECT_EQ(LayerNames(net), (std::vector<std::string>{"mnist", "mnist", "conv1", "pool1", "conv2",
                                                       "pool2", "ip1", "relu1", "ip2", "accuracy",
                                                       "loss"}));
  const LayerParameter& conv1 = LayerNamed(net, "conv1");
  EXPECT_EQ(conv1.type(), "Convolution");
  ASSERT_EQ(conv1.param_size(), 2);
  EXPECT_EQ(conv1.param(1).lr_mult(), 2.0f);
  EXPECT_EQ(conv1.convolution_param().num_output(), 20u);
  EXPECT_EQ(conv1.convolution_param().weight_filler().type(), "xavier");
  EXPECT_FLOAT_EQ(net.layer(0).transform_param().scale(), 0.00390625f);
  EXPECT_EQ(net.layer(0).data_param().backend(), DataParameter::LMDB);
}

TEST(UpgradeRealFiles, LenetDeployInputShapeBecomesAnInputLayer) {
  CONDENSE_REQUIRE_SHARED(path, "lenet_caffe/lenet.prototxt");
  NetParameter raw;
  ReadTextProtoFile(path, &raw);
  EXPECT_TRUE(NetNeedsUpgrade(raw));
  const NetParameter net = ReadNetParameterFile(path);
  EXPECT_FALSE(NetNeedsUpgrade(net));
  EXPECT_EQ(net.input_size() + net.input_shape_size() + net.input_dim_size(), 0);
  ASSERT_GE(net.layer_size(), 2);
  const LayerParameter& input = net.layer(0);
  EXPECT_EQ(input.type(), "Input");
  EXPECT_EQ(input.name(), "input");
  ASSERT_EQ(input.top_size(), 1);
  EXPECT_EQ(input.top(0), "data");
  ASSERT_EQ(input.input_param().shape_size(), 1);
  EXPECT_EQ(std::vector<int64_t>(input.input_param().shape(0).dim().begin(),
                                 input.input_param().shape(0).dim().end()),
            (std::vector<int64_t>{64, 1, 28, 28}));
  EXPECT_EQ(net.layer(1).name(), "conv1");
  EXPECT_EQ(net.layer_size(), raw.layer_size() + 1);
}

TEST(UpgradeRealFiles, LenetCaffemodel) {
  CONDENSE_REQUIRE_SHARED(path, "lenet_caffe/lenet_iter_10000.caffemodel");
  const NetParameter net = ReadWeightsFile(path);
  const LayerParameter& conv1 = LayerNamed(net, "conv1");
  ASSERT_EQ(conv1.blobs_size(), 2);
  EXPECT_EQ(ShapeOfProto(conv1.blobs(0)), (std::vector<int64_t>{20, 1, 5, 5}));
  EXPECT_EQ(ShapeOfProto(conv1.blobs(1)), (std::vector<int64_t>{20}));
  const LayerParameter& ip1 = LayerNamed(net, "ip1");
  EXPECT_EQ(ShapeOfProto(ip1.blobs(0)), (std::vector<int64_t>{500, 800}));
  EXPECT_EQ(ip1.blobs(0).data_size(), 500 * 800);
  EXPECT_EQ(ShapeOfProto(LayerNamed(net, "ip2").blobs(0)), (std::vector<int64_t>{10, 500}));
}

TEST(UpgradeRealFiles, Cifar10V1DeployWithInputDim) {
  CONDENSE_REQUIRE_SHARED(path, "cifar10/cifar10_quick.prototxt");
  const NetParameter net = ReadNetParameterFile(path);
  EXPECT_FALSE(NetNeedsUpgrade(net));
  EXPECT_EQ(net.layers_size(), 0);
  EXPECT_EQ(LayerTypes(net),
            (std::vector<std::string>{"Input", "Convolution", "Pooling", "ReLU", "Convolution",
                                      "ReLU", "Pooling", "Convolution", "ReLU", "Pooling",
                                      "InnerProduct", "InnerProduct", "Softmax"}));
  EXPECT_EQ(std::vector<int64_t>(net.layer(0).input_param().shape(0).dim().begin(),
                                 net.layer(0).input_param().shape(0).dim().end()),
            (std::vector<int64_t>{1, 3, 32, 32}));
  const LayerParameter& conv1 = LayerNamed(net, "conv1");
  ASSERT_EQ(conv1.param_size(), 2);  // from blobs_lr: 1, 2
  EXPECT_EQ(conv1.param(0).lr_mult(), 1.0f);
  EXPECT_EQ(conv1.param(1).lr_mult(), 2.0f);
  EXPECT_FALSE(conv1.param(0).has_decay_mult());
  EXPECT_EQ(conv1.convolution_param().pad(0), 2u);
  EXPECT_EQ(LayerNamed(net, "pool2").pooling_param().pool(), PoolingParameter::AVE);
}

TEST(UpgradeRealFiles, Cifar10V1TrainTest) {
  CONDENSE_REQUIRE_SHARED(path, "cifar10/cifar10_quick_train_test.prototxt");
  const NetParameter net = ReadNetParameterFile(path);
  ASSERT_GE(net.layer_size(), 2);
  const LayerParameter& train_data = net.layer(0);
  EXPECT_EQ(train_data.type(), "Data");
  ASSERT_EQ(train_data.include_size(), 1);
  EXPECT_EQ(train_data.include(0).phase(), TRAIN);
  EXPECT_EQ(train_data.transform_param().mean_file(), "examples/cifar10/mean.binaryproto");
  EXPECT_EQ(train_data.data_param().batch_size(), 100u);
  EXPECT_EQ(net.layer(1).include(0).phase(), TEST);
  EXPECT_EQ(LayerNamed(net, "loss").type(), "SoftmaxWithLoss");
  EXPECT_EQ(LayerNamed(net, "accuracy").type(), "Accuracy");
}

TEST(UpgradeRealFiles, Cifar10V1CaffemodelKeepsLegacyBlobShapes) {
  CONDENSE_REQUIRE_SHARED(path, "cifar10/cifar10_quick_iter_5000.caffemodel");
  NetParameter raw;
  ReadBinaryProtoFile(path, &raw);
  EXPECT_GT(raw.layers_size(), 0);
  EXPECT_TRUE(NetNeedsUpgrade(raw));
  const NetParameter net = ReadWeightsFile(path);
  EXPECT_FALSE(NetNeedsUpgrade(net));
  EXPECT_EQ(net.layer_size(), raw.layers_size());
  EXPECT_EQ(LayerNamed(net, "conv1").type(), "Convolution");
  EXPECT_EQ(LayerNamed(net, "ip1").type(), "InnerProduct");
  EXPECT_EQ(LayerNamed(net, "cifar").type(), "Data");

  // Legacy num/channels/height/width stay as written; Blob::FromProto interprets them.
  const BlobProto& conv1_weights = LayerNamed(net, "conv1").blobs(0);
  EXPECT_FALSE(conv1_weights.has_shape());
  EXPECT_EQ(ShapeOfProto(conv1_weights), (std::vector<int64_t>{32, 3, 5, 5}));
  EXPECT_EQ(ShapeOfProto(LayerNamed(net, "conv1").blobs(1)), (std::vector<int64_t>{1, 1, 1, 32}));
  const BlobProto& ip1_weights = LayerNamed(net, "ip1").blobs(0);
  EXPECT_EQ(ShapeOfProto(ip1_weights), (std::vector<int64_t>{1, 1, 64, 1024}));
  Blob ip1({64, 1024});
  ip1.FromProto(ip1_weights, /*reshape=*/false);
  EXPECT_GT(ip1.asum_data(), 0.0f);
  EXPECT_EQ(ShapeOfProto(LayerNamed(net, "ip2").blobs(0)), (std::vector<int64_t>{1, 1, 10, 64}));
  // blobs_lr became ParamSpecs.
  ASSERT_EQ(LayerNamed(net, "conv1").param_size(), 2);
  EXPECT_EQ(LayerNamed(net, "conv1").param(1).lr_mult(), 2.0f);
}

TEST(UpgradeRealFiles, SqueezeNetPrototxts) {
  for (const std::string version : {"v1.0", "v1.1"}) {
    CONDENSE_REQUIRE_SHARED(deploy_path, "squeezenet/" + version + "/deploy.prototxt");
    CONDENSE_REQUIRE_SHARED(train_path, "squeezenet/" + version + "/train_val.prototxt");
    const NetParameter deploy = ReadNetParameterFile(deploy_path);
    const NetParameter train = ReadNetParameterFile(train_path);
    int concats = 0;
    for (const std::string& type : LayerTypes(deploy)) concats += type == "Concat";
    EXPECT_EQ(concats, 8) << version;
    EXPECT_EQ(deploy.layer(0).type(), "Input") << version;
    EXPECT_EQ(LayerNamed(deploy, "conv10").convolution_param().num_output(), 1000u) << version;
    const TransformationParameter& transform = train.layer(0).transform_param();
    EXPECT_EQ(transform.crop_size(), 227u) << version;
    ASSERT_EQ(transform.mean_value_size(), 3) << version;
    EXPECT_EQ(transform.mean_value(0), 104.0f) << version;
    EXPECT_EQ(transform.mean_value(2), 123.0f) << version;
  }
}

TEST(UpgradeRealFiles, EveryRistrettoPrototxtParses) {
  CONDENSE_REQUIRE_SHARED(notes, "ristretto/FORMAT-NOTES.md");
  const std::filesystem::path root = std::filesystem::path(notes).parent_path();
  int nets = 0;
  int solvers = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".prototxt") continue;
    const std::string path = entry.path().string();
    if (entry.path().filename().string().find("solver") != std::string::npos) {
      EXPECT_NO_THROW(ReadSolverParameterFile(path)) << path;
      ++solvers;
    } else {
      NetParameter net;
      EXPECT_NO_THROW(net = ReadNetParameterFile(path)) << path;
      EXPECT_GT(net.layer_size(), 0) << path;
      ++nets;
    }
  }
  EXPECT_GE(nets, 18);
  EXPECT_GE(solvers, 1);
}

TEST(UpgradeRealFiles, RistrettoQuantizationValues) {
  CONDENSE_REQUIRE_SHARED(lenet_path, "ristretto/quantized_examples/lenet_quantized.prototxt");
  const NetParameter lenet = ReadNetParameterFile(lenet_path);
  const LayerParameter& conv1 = LayerNamed(lenet, "conv1");
  EXPECT_EQ(conv1.type(), "ConvolutionRistretto");
  ASSERT_TRUE(conv1.has_quantization_param());
  const QuantizationParameter& q = conv1.quantization_param();
  EXPECT_FALSE(q.has_precision());
  EXPECT_EQ(q.precision(), QuantizationParameter::DYNAMIC_FIXED_POINT);
  EXPECT_EQ(q.bw_layer_in(), 8u);
  EXPECT_EQ(q.bw_layer_out(), 8u);
  EXPECT_EQ(q.bw_params(), 4u);
  EXPECT_EQ(q.fl_layer_in(), 8);
  EXPECT_EQ(q.fl_layer_out(), 6);
  EXPECT_EQ(q.fl_params(), 3);
  EXPECT_FALSE(LayerNamed(lenet, "pool1").has_quantization_param());

  CONDENSE_REQUIRE_SHARED(squeeze_path,
                          "ristretto/quantized_examples/squeezenet_v1.0_dfp8_quantized.prototxt");
  const NetParameter squeeze = ReadNetParameterFile(squeeze_path);
  int quantized = 0;
  bool negative_fractional_length = false;
  for (const LayerParameter& layer : squeeze.layer()) {
    if (!layer.has_quantization_param()) continue;
    ++quantized;
    negative_fractional_length |= layer.quantization_param().fl_layer_out() < 0;
  }
  EXPECT_EQ(quantized, 26);
  EXPECT_TRUE(negative_fractional_length);

  CONDENSE_REQUIRE_SHARED(minifloat_path, "ristretto/generated/lenet_mnist_minifloat_em1.prototxt");
  const NetParameter minifloat = ReadNetParameterFile(minifloat_path);
  const QuantizationParameter& mq = LayerNamed(minifloat, "conv1").quantization_param();
  EXPECT_EQ(mq.precision(), QuantizationParameter::MINIFLOAT);
  EXPECT_EQ(mq.mant_bits(), 3u);
  EXPECT_EQ(mq.exp_bits(), 4u);

  CONDENSE_REQUIRE_SHARED(pow2_path,
                          "ristretto/generated/lenet_mnist_integer_power_of_2_weights_em1.prototxt");
  const NetParameter pow2 = ReadNetParameterFile(pow2_path);
  const QuantizationParameter& pq = LayerNamed(pow2, "conv1").quantization_param();
  EXPECT_EQ(pq.precision(), QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS);
  EXPECT_EQ(pq.exp_min(), -8);
  EXPECT_EQ(pq.exp_max(), -1);
}

TEST(UpgradeRealFiles, RistrettoSolverTypeAdam) {
  CONDENSE_REQUIRE_SHARED(path, "ristretto/pmgysel_SqueezeNet/solver_finetune.prototxt");
  SolverParameter raw;
  ReadTextProtoFile(path, &raw);
  EXPECT_TRUE(SolverNeedsUpgrade(raw));
  const SolverParameter solver = ReadSolverParameterFile(path);
  EXPECT_EQ(solver.type(), "Adam");
  EXPECT_FALSE(solver.has_solver_type());
  EXPECT_FALSE(SolverNeedsUpgrade(solver));
  EXPECT_FLOAT_EQ(solver.momentum2(), 0.999f);
  EXPECT_FLOAT_EQ(solver.delta(), 1e-8f);
  EXPECT_EQ(solver.iter_size(), 32);
  EXPECT_EQ(solver.average_loss(), 40);
  EXPECT_EQ(solver.random_seed(), 42);
  EXPECT_TRUE(solver.test_initialization());
  EXPECT_EQ(solver.snapshot_prefix(), "models/SqueezeNet/RistrettoDemo/squeezenet");
}

TEST(UpgradeRealFiles, EverySolverFileReads) {
  for (const std::string relative :
       {"lenet_caffe/lenet_solver.prototxt", "cifar10/cifar10_quick_solver.prototxt",
        "cifar10/cifar10_quick_solver_lr1.prototxt", "squeezenet/v1.0/solver.prototxt",
        "squeezenet/v1.1/solver.prototxt", "trafficsign_lmdb_h5/cifar10_quick_solver.prototxt"}) {
    CONDENSE_REQUIRE_SHARED(path, relative);
    SolverParameter solver;
    EXPECT_NO_THROW(solver = ReadSolverParameterFile(path)) << path;
    EXPECT_FALSE(solver.type().empty()) << path;
    EXPECT_GT(solver.max_iter(), 0) << path;
  }
  CONDENSE_REQUIRE_SHARED(lenet, "lenet_caffe/lenet_solver.prototxt");
  const SolverParameter solver = ReadSolverParameterFile(lenet);
  EXPECT_EQ(solver.type(), "SGD");
  EXPECT_EQ(solver.lr_policy(), "inv");
  EXPECT_EQ(solver.net(), "examples/mnist/lenet_train_test.prototxt");
  EXPECT_EQ(solver.solver_mode(), SolverParameter::CPU);
}

TEST(UpgradeRealFiles, TrafficSignNets) {
  CONDENSE_REQUIRE_SHARED(deploy, "trafficsign_lmdb_h5/cifar10_quick.prototxt");
  CONDENSE_REQUIRE_SHARED(train, "trafficsign_lmdb_h5/cifar10_quick_train_test.prototxt");
  EXPECT_EQ(LayerNamed(ReadNetParameterFile(deploy), "ip2").inner_product_param().num_output(), 9u);
  EXPECT_GT(ReadNetParameterFile(train).layer_size(), 0);
}

// --- V1 -> V2 on hand-written nets -----------------------------------------------------------------

TEST(UpgradeV1, ParamSpecsFromParallelLists) {
  NetParameter net = ParseNet(R"(
    layers {
      name: "fc" type: INNER_PRODUCT bottom: "x" top: "y"
      blobs_lr: 1 blobs_lr: 2
      weight_decay: 1 weight_decay: 0
      param: "shared_w" param: "shared_b" param: "third"
      blob_share_mode: PERMISSIVE
      loss_weight: 0.5
      inner_product_param { num_output: 7 }
      include { phase: TEST }
      exclude { stage: "deploy" }
    })");
  EXPECT_TRUE(UpgradeNetAsNeeded("net.prototxt", &net));
  ASSERT_EQ(net.layer_size(), 1);
  EXPECT_EQ(net.layers_size(), 0);
  const LayerParameter& layer = net.layer(0);
  EXPECT_EQ(layer.type(), "InnerProduct");
  ASSERT_EQ(layer.param_size(), 3);
  EXPECT_EQ(layer.param(0).name(), "shared_w");
  EXPECT_EQ(layer.param(0).share_mode(), ParamSpec::PERMISSIVE);
  EXPECT_EQ(layer.param(0).lr_mult(), 1.0f);
  EXPECT_EQ(layer.param(1).lr_mult(), 2.0f);
  EXPECT_EQ(layer.param(1).decay_mult(), 0.0f);
  EXPECT_FALSE(layer.param(1).has_share_mode());
  EXPECT_EQ(layer.param(2).name(), "third");
  EXPECT_FALSE(layer.param(2).has_lr_mult());
  ASSERT_EQ(layer.loss_weight_size(), 1);
  EXPECT_EQ(layer.loss_weight(0), 0.5f);
  EXPECT_EQ(layer.inner_product_param().num_output(), 7u);
  EXPECT_EQ(layer.include(0).phase(), TEST);
  EXPECT_EQ(layer.exclude(0).stage(0), "deploy");
  EXPECT_FALSE(NetNeedsUpgrade(net));
  EXPECT_FALSE(UpgradeNetAsNeeded("net.prototxt", &net));
}

TEST(UpgradeV1, EveryLayerTypeHasAName) {
  const google::protobuf::EnumDescriptor* types = V1LayerParameter::LayerType_descriptor();
  for (int i = 0; i < types->value_count(); ++i) {
    const auto type = static_cast<V1LayerParameter::LayerType>(types->value(i)->number());
    const std::string name = V1LayerTypeName(type);
    EXPECT_EQ(name.empty(), type == V1LayerParameter::NONE) << types->value(i)->name();
  }
  EXPECT_EQ(V1LayerTypeName(V1LayerParameter::SOFTMAX_LOSS), "SoftmaxWithLoss");
  EXPECT_EQ(V1LayerTypeName(V1LayerParameter::TANH), "TanH");
  EXPECT_EQ(V1LayerTypeName(V1LayerParameter::HDF5_DATA), "HDF5Data");
}

TEST(UpgradeV1, EveryParameterMessageIsCopied) {
  // Sets every *_param of a V1 layer to a non-default message and checks each arrives in the V2
  // layer under the same name.
  V1LayerParameter v1;
  v1.set_name("all");
  const google::protobuf::Descriptor* descriptor = v1.GetDescriptor();
  const google::protobuf::Reflection* reflection = v1.GetReflection();
  std::vector<std::string> param_fields;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->name().size() < 6 || field->name().substr(field->name().size() - 6) != "_param") {
      continue;
    }
    google::protobuf::Message* message = reflection->MutableMessage(&v1, field);
    // Any set field makes the message present; the first field of each is a scalar or string.
    const google::protobuf::FieldDescriptor* first = message->GetDescriptor()->field(0);
    if (first->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      message->GetReflection()->SetString(message, first, "x");
    }
    param_fields.push_back(field->name());
  }
  EXPECT_GE(param_fields.size(), 30u);
  const LayerParameter layer = UpgradeV1Layer(v1, "net.prototxt");
  for (const std::string& name : param_fields) {
    const google::protobuf::FieldDescriptor* field = layer.GetDescriptor()->FindFieldByName(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_TRUE(layer.GetReflection()->HasField(layer, field)) << name;
  }
}

TEST(UpgradeV1, DeprecatedTransformationFieldsMoveToTransformParam) {
  NetParameter net = ParseNet(R"(
    layers {
      name: "data" type: DATA top: "data" top: "label"
      data_param { source: "db" batch_size: 4 scale: 0.5 mean_file: "m.binaryproto" crop_size: 7
                   mirror: true }
    }
    layers {
      name: "images" type: IMAGE_DATA top: "img" top: "lbl"
      image_data_param { source: "list.txt" scale: 2 }
    }
    layers {
      name: "windows" type: WINDOW_DATA top: "win" top: "wl"
      window_data_param { source: "w.txt" mirror: true crop_size: 3 }
    })");
  UpgradeNetAsNeeded("net.prototxt", &net);
  ASSERT_EQ(net.layer_size(), 3);
  const LayerParameter& data = net.layer(0);
  EXPECT_EQ(data.transform_param().scale(), 0.5f);
  EXPECT_EQ(data.transform_param().mean_file(), "m.binaryproto");
  EXPECT_EQ(data.transform_param().crop_size(), 7u);
  EXPECT_TRUE(data.transform_param().mirror());
  EXPECT_FALSE(data.data_param().has_scale());
  EXPECT_FALSE(data.data_param().has_mean_file());
  EXPECT_FALSE(data.data_param().has_crop_size());
  EXPECT_FALSE(data.data_param().has_mirror());
  EXPECT_EQ(data.data_param().source(), "db");
  EXPECT_EQ(data.data_param().batch_size(), 4u);
  EXPECT_EQ(net.layer(1).transform_param().scale(), 2.0f);
  EXPECT_FALSE(net.layer(1).image_data_param().has_scale());
  EXPECT_TRUE(net.layer(2).transform_param().mirror());
  EXPECT_EQ(net.layer(2).transform_param().crop_size(), 3u);
  EXPECT_FALSE(net.layer(2).window_data_param().has_crop_size());
}

TEST(UpgradeV1, MixingLayersAndLayerIsAnError) {
  const std::string message = UpgradeError(ParseNet(R"(
    layers { name: "a" type: RELU }
    layer { name: "b" type: "ReLU" })"));
  EXPECT_EQ(message.rfind("net.prototxt: ", 0), 0u) << message;
  EXPECT_NE(message.find("'layers'"), std::string::npos) << message;
}

TEST(UpgradeV0, IsRefusedWithAClearError) {
  const std::string message = UpgradeError(ParseNet(R"(
    layers { layer { name: "conv1" type: "conv" num_output: 3 kernelsize: 5 }
             bottom: "data" top: "conv1" })"));
  EXPECT_EQ(message.rfind("net.prototxt: layer 'conv1'", 0), 0u) << message;
  EXPECT_NE(message.find("V0"), std::string::npos) << message;
}

// --- net inputs ----------------------------------------------------------------------------------

TEST(UpgradeInput, InputDimForTwoInputs) {
  NetParameter net = ParseNet(R"(
    input: "a" input: "b"
    input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 4
    input_dim: 5 input_dim: 6 input_dim: 7 input_dim: 8
    layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "c" })");
  EXPECT_TRUE(NetNeedsUpgrade(net));
  UpgradeNetAsNeeded("net.prototxt", &net);
  ASSERT_EQ(net.layer_size(), 2);
  const LayerParameter& input = net.layer(0);
  EXPECT_EQ(input.type(), "Input");
  ASSERT_EQ(input.top_size(), 2);
  EXPECT_EQ(input.top(1), "b");
  ASSERT_EQ(input.input_param().shape_size(), 2);
  EXPECT_EQ(input.input_param().shape(1).dim(0), 5);
  EXPECT_EQ(input.input_param().shape(1).dim(3), 8);
  EXPECT_EQ(net.layer(1).name(), "sum");
  EXPECT_EQ(net.input_dim_size(), 0);
  EXPECT_EQ(net.input_size(), 0);
}

TEST(UpgradeInput, InputsWithoutShapesAreDropped) {
  NetParameter net = ParseNet(R"(input: "data" layer { name: "r" type: "ReLU" })");
  UpgradeNetAsNeeded("net.prototxt", &net);
  EXPECT_EQ(net.input_size(), 0);
  ASSERT_EQ(net.layer_size(), 1);
  EXPECT_EQ(net.layer(0).name(), "r");
}

TEST(UpgradeInput, MismatchedCountsAreErrors) {
  EXPECT_NE(UpgradeError(ParseNet(R"(input: "a" input_dim: 1 input_dim: 2 input_dim: 3)")).find(
                "input_dim"),
            std::string::npos);
  EXPECT_NE(UpgradeError(ParseNet(R"(input: "a" input: "b" input_shape { dim: 1 })")).find(
                "input_shape"),
            std::string::npos);
  EXPECT_NE(UpgradeError(ParseNet(R"(input_shape { dim: 1 })")), "");
}

// --- BatchNorm -----------------------------------------------------------------------------------

TEST(UpgradeBatchNorm, ThreeParamSpecsGetZeroMultipliers) {
  NetParameter net = ParseNet(R"(
    layer { name: "bn" type: "BatchNorm"
            param { name: "m" lr_mult: 1 } param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 1 } }
    layer { name: "bn2" type: "BatchNorm" param { lr_mult: 1 } }
    layer { name: "conv" type: "Convolution"
            param { lr_mult: 1 } param { lr_mult: 1 } param { lr_mult: 1 } })");
  EXPECT_TRUE(NetNeedsUpgrade(net));
  UpgradeNetAsNeeded("net.prototxt", &net);
  ASSERT_EQ(net.layer(0).param_size(), 3);
  for (const ParamSpec& spec : net.layer(0).param()) {
    EXPECT_EQ(spec.lr_mult(), 0.0f);
    EXPECT_EQ(spec.decay_mult(), 0.0f);
  }
  EXPECT_EQ(net.layer(0).param(0).name(), "m");
  EXPECT_EQ(net.layer(1).param(0).lr_mult(), 1.0f);
  EXPECT_EQ(net.layer(2).param(0).lr_mult(), 1.0f);
  EXPECT_FALSE(NetNeedsUpgrade(net));
}

// --- solver --------------------------------------------------------------------------------------

TEST(UpgradeSolver, EverySolverTypeMapsToItsName) {
  const std::vector<std::pair<SolverParameter::SolverType, std::string>> expected = {
      {SolverParameter::SGD, "SGD"},         {SolverParameter::NESTEROV, "Nesterov"},
      {SolverParameter::ADAGRAD, "AdaGrad"}, {SolverParameter::RMSPROP, "RMSProp"},
      {SolverParameter::ADADELTA, "AdaDelta"}, {SolverParameter::ADAM, "Adam"}};
  for (const auto& [type, name] : expected) {
    SolverParameter solver;
    solver.set_solver_type(type);
    EXPECT_TRUE(UpgradeSolverAsNeeded("solver.prototxt", &solver));
    EXPECT_EQ(solver.type(), name);
    EXPECT_FALSE(solver.has_solver_type());
  }
  SolverParameter modern;
  modern.set_type("Adam");
  EXPECT_FALSE(UpgradeSolverAsNeeded("solver.prototxt", &modern));
}

TEST(UpgradeSolver, BothSolverTypeAndTypeIsAnError) {
  SolverParameter solver;
  solver.set_solver_type(SolverParameter::ADAM);
  solver.set_type("SGD");
  try {
    UpgradeSolverAsNeeded("solver.prototxt", &solver);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("solver.prototxt: ", 0), 0u) << error.what();
  }
}

TEST(UpgradeSolver, SnapshotPrefixDefaultsToTheSolverFileName) {
  const std::string dir = testing::MakeTempDir("upgrade_solver_test");
  const std::string path = dir + "/my_solver.prototxt";
  std::ofstream(path) << "base_lr: 0.1\n";
  EXPECT_EQ(ReadSolverParameterFile(path).snapshot_prefix(), dir + "/my_solver");
  std::filesystem::create_directory(dir + "/snapshots");
  std::ofstream(path) << "snapshot_prefix: \"" << dir << "/snapshots\"\n";
  EXPECT_EQ(ReadSolverParameterFile(path).snapshot_prefix(), dir + "/snapshots/my_solver");
  std::ofstream(path) << "snapshot_prefix: \"" << dir << "/run1\"\n";
  EXPECT_EQ(ReadSolverParameterFile(path).snapshot_prefix(), dir + "/run1");
  std::filesystem::remove_all(dir);
}

TEST(UpgradeFiles, ErrorsNameTheFile) {
  const std::string dir = testing::MakeTempDir("upgrade_files_test");
  const std::string net_path = dir + "/bad.prototxt";
  std::ofstream(net_path) << "layer {\n  name: \"x\"\n  bogus: 1\n}\n";
  try {
    ReadNetParameterFile(net_path);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), net_path + ":3:3: unknown field 'bogus' in LayerParameter");
  }
  const std::string weights_path = dir + "/bad.caffemodel";
  std::ofstream(weights_path) << "garbage";
  try {
    ReadWeightsFile(weights_path);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind(weights_path + ": ", 0), 0u) << error.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace condense
