// End-to-end checks on the real Caffe files in ../shared/data: the V1-format CIFAR-10 model, the
// traffic-sign model stored as HDF5 with its Caffe-written LMDB and mean file, the SqueezeNet deploy nets
// run on Caffe's demo photos, the prototxts written by Ristretto, and the `condense test` / `condense time`
// verbs on real nets. These files were written by Caffe itself, so they catch what hand-made test nets
// cannot: legacy blob shapes, old enum layer types, comments and odd-but-legal text syntax. Every test
// skips when the shared folder is absent.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "condense/core/blob.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/core/random.hpp"
#include "condense/data/data_transformer.hpp"
#include "condense/data/image_file.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

namespace fs = std::filesystem;
using Shape = std::vector<int64_t>;

// Runs a shell command with its output sent to `log`; returns the exit code (-1 when it did not exit).
int RunLogged(const std::string& command, const std::string& log) {
  const int status = std::system((command + " > " + log + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

nlohmann::json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

int64_t CountLearnableParameters(const Net& net) {
  int64_t total = 0;
  for (const Blob* blob : net.learnable_params()) total += blob->count();
  return total;
}

const LayerParameter& LayerNamed(const NetParameter& param, const std::string& name) {
  for (const LayerParameter& layer : param.layer()) {
    if (layer.name() == name) return layer;
  }
  throw std::runtime_error("no layer named " + name);
}

std::vector<std::string> LayerNames(const NetParameter& param) {
  std::vector<std::string> names;
  for (const LayerParameter& layer : param.layer()) names.push_back(layer.name());
  return names;
}

std::vector<std::string> LayerTypes(const NetParameter& param) {
  std::vector<std::string> types;
  for (const LayerParameter& layer : param.layer()) types.push_back(layer.type());
  return types;
}

// Expects a probability vector: every value finite and in [0, 1], the sum 1.
void ExpectDistribution(const Blob& prob, int64_t classes, const std::string& what) {
  ASSERT_EQ(classes, prob.count()) << what << ": shape " << prob.shape_string();
  double sum = 0.0;
  for (int64_t k = 0; k < prob.count(); ++k) {
    const float p = prob.data()[k];
    ASSERT_TRUE(std::isfinite(p)) << what << ": class " << k;
    EXPECT_GE(p, 0.0f) << what << ": class " << k;
    EXPECT_LE(p, 1.0f) << what << ": class " << k;
    sum += p;
  }
  EXPECT_NEAR(1.0, sum, 1e-5) << what;
}

// --- CIFAR-10 quick, V1 format (shared/data/cifar10) --------------------------------------------

TEST(Cifar10V1Test, DeployPrototxtUpgradesToCurrentLayers) {
  CONDENSE_REQUIRE_SHARED(deploy, "cifar10/cifar10_quick.prototxt");
  const NetParameter param = ReadNetParameterFile(deploy);
  EXPECT_EQ(0, param.layers_size()) << "V1 layers must be moved to `layer`";
  EXPECT_EQ(0, param.input_size()) << "net-level inputs must become an Input layer";
  const std::vector<std::string> expected_types = {
      "Input", "Convolution", "Pooling", "ReLU",    "Convolution",  "ReLU",        "Pooling",
      "Convolution", "ReLU",  "Pooling", "InnerProduct", "InnerProduct", "Softmax"};
  const std::vector<std::string> expected_names = {"conv1", "pool1", "relu1", "conv2", "relu2", "pool2",
                                                   "conv3", "relu3", "pool3", "ip1",   "ip2",   "prob"};
  EXPECT_EQ(expected_types, LayerTypes(param));
  std::vector<std::string> names = LayerNames(param);
  ASSERT_FALSE(names.empty());
  names.erase(names.begin());  // the Input layer's name is the upgrade's choice
  EXPECT_EQ(expected_names, names);

  const LayerParameter& input = param.layer(0);
  ASSERT_EQ(1, input.top_size());
  EXPECT_EQ("data", input.top(0));
  ASSERT_EQ(1, input.input_param().shape_size());
  EXPECT_EQ(Shape({1, 3, 32, 32}),
            Shape(input.input_param().shape(0).dim().begin(), input.input_param().shape(0).dim().end()));
  // blobs_lr 1 and 2 become ParamSpec lr_mult.
  const LayerParameter& conv1 = LayerNamed(param, "conv1");
  ASSERT_EQ(2, conv1.param_size());
  EXPECT_EQ(1.0f, conv1.param(0).lr_mult());
  EXPECT_EQ(2.0f, conv1.param(1).lr_mult());
  EXPECT_EQ(PoolingParameter::MAX, LayerNamed(param, "pool1").pooling_param().pool());
  EXPECT_EQ(PoolingParameter::AVE, LayerNamed(param, "pool2").pooling_param().pool());
  EXPECT_EQ(10u, LayerNamed(param, "ip2").inner_product_param().num_output());
}

TEST(Cifar10V1Test, CaffemodelBlobsLandInTheNetsShapes) {
  CONDENSE_REQUIRE_SHARED(deploy, "cifar10/cifar10_quick.prototxt");
  CONDENSE_REQUIRE_SHARED(weights_path, "cifar10/cifar10_quick_iter_5000.caffemodel");
  const NetParameter weights = ReadWeightsFile(weights_path);
  EXPECT_EQ(0, weights.layers_size());
  ASSERT_EQ(13, weights.layer_size());
  EXPECT_EQ((std::vector<std::string>{"Data", "Convolution", "Pooling", "ReLU", "Convolution", "ReLU",
                                      "Pooling", "Convolution", "ReLU", "Pooling", "InnerProduct",
                                      "InnerProduct", "SoftmaxWithLoss"}),
            LayerTypes(weights));
  // The file keeps Caffe's legacy 4-d blob dimensions.
  EXPECT_EQ(Shape({32, 3, 5, 5}), ShapeOfProto(LayerNamed(weights, "conv1").blobs(0)));
  EXPECT_EQ(Shape({1, 1, 1, 32}), ShapeOfProto(LayerNamed(weights, "conv1").blobs(1)));
  EXPECT_EQ(Shape({1, 1, 64, 1024}), ShapeOfProto(LayerNamed(weights, "ip1").blobs(0)));
  EXPECT_EQ(Shape({1, 1, 10, 64}), ShapeOfProto(LayerNamed(weights, "ip2").blobs(0)));

  auto net = Net::FromFile(deploy, TEST);
  net->CopyTrainedLayersFromFile(weights_path);
  const std::map<std::string, std::vector<Shape>> expected_shapes = {
      {"conv1", {{32, 3, 5, 5}, {32}}},  {"conv2", {{32, 32, 5, 5}, {32}}},
      {"conv3", {{64, 32, 5, 5}, {64}}}, {"ip1", {{64, 1024}, {64}}},
      {"ip2", {{10, 64}, {10}}}};
  int64_t parameters = 0;
  for (const auto& [name, shapes] : expected_shapes) {
    const Layer& layer = *net->layer_by_name(name);
    const LayerParameter& stored = LayerNamed(weights, name);
    ASSERT_EQ(shapes.size(), layer.blobs().size()) << name;
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Blob& blob = *layer.blobs()[i];
      EXPECT_EQ(shapes[i], blob.shape()) << name << " blob " << i;
      ASSERT_EQ(blob.count(), stored.blobs(i).data_size()) << name << " blob " << i;
      for (int64_t k = 0; k < blob.count(); ++k) {
        ASSERT_EQ(stored.blobs(i).data(k), blob.data()[k]) << name << " blob " << i << " value " << k;
      }
      parameters += blob.count();
    }
  }
  EXPECT_EQ(parameters, CountLearnableParameters(*net));
  EXPECT_EQ((std::vector<float>{1, 2, 1, 2, 1, 2, 1, 2, 1, 2}), net->params_lr());
}

TEST(Cifar10V1Test, ForwardOnSyntheticImageGivesTenWayDistribution) {
  CONDENSE_REQUIRE_SHARED(deploy, "cifar10/cifar10_quick.prototxt");
  CONDENSE_REQUIRE_SHARED(weights_path, "cifar10/cifar10_quick_iter_5000.caffemodel");
  auto net = Net::FromFile(deploy, TEST);
  net->CopyTrainedLayersFromFile(weights_path);
  Blob& data = *net->blob_by_name("data");
  ASSERT_EQ(Shape({1, 3, 32, 32}), data.shape());
  // Roughly a mean-subtracted image: the model was trained on pixels minus the CIFAR-10 mean.
  SeedRandom(1701);
  FillUniform(data.count(), -100.0f, 100.0f, data.mutable_data());
  net->Forward();
  ExpectDistribution(*net->blob_by_name("prob"), 10, "cifar10 prob");
  EXPECT_EQ(Shape({1, 10}), net->blob_by_name("prob")->shape());

  // ip2 recomputed from the file's raw (1,1,10,64) blob: checks that its rows are the outputs.
  const NetParameter weights = ReadWeightsFile(weights_path);
  const BlobProto& w = LayerNamed(weights, "ip2").blobs(0);
  const BlobProto& b = LayerNamed(weights, "ip2").blobs(1);
  const Blob& ip1 = *net->blob_by_name("ip1");
  const Blob& ip2 = *net->blob_by_name("ip2");
  ASSERT_EQ(64, ip1.count());
  for (int k = 0; k < 10; ++k) {
    double expected = b.data(k);
    for (int j = 0; j < 64; ++j) expected += static_cast<double>(w.data(k * 64 + j)) * ip1.data()[j];
    EXPECT_NEAR(expected, ip2.data()[k], 1e-4 * (1.0 + std::abs(expected))) << "ip2 output " << k;
  }
}

TEST(Cifar10V1Test, TrainTestNetRunsWithAnInputInPlaceOfTheLevelDbLayers) {
  CONDENSE_REQUIRE_SHARED(train_test, "cifar10/cifar10_quick_train_test.prototxt");
  CONDENSE_REQUIRE_SHARED(weights_path, "cifar10/cifar10_quick_iter_5000.caffemodel");
  const NetParameter original = ReadNetParameterFile(train_test);
  NetParameter param = original;
  param.clear_layer();
  LayerParameter* input = param.add_layer();
  input->set_name("input");
  input->set_type("Input");
  input->add_top("data");
  input->add_top("label");
  BlobShape* data_shape = input->mutable_input_param()->add_shape();
  for (int64_t dim : {1, 3, 32, 32}) data_shape->add_dim(dim);
  input->mutable_input_param()->add_shape()->add_dim(1);
  int data_layers = 0;
  for (const LayerParameter& layer : original.layer()) {
    if (layer.type() != "Data") {
      *param.add_layer() = layer;
      continue;
    }
    // The V1 DATA layers: LevelDB sources, the mean file moved into transform_param, one per phase.
    ++data_layers;
    EXPECT_EQ(DataParameter::LEVELDB, layer.data_param().backend()) << layer.name();
    EXPECT_EQ("examples/cifar10/mean.binaryproto", layer.transform_param().mean_file()) << layer.name();
    ASSERT_EQ(1, layer.include_size()) << layer.name();
  }
  EXPECT_EQ(2, data_layers);
  EXPECT_EQ("SoftmaxWithLoss", LayerNamed(original, "loss").type());
  EXPECT_EQ("Accuracy", LayerNamed(original, "accuracy").type());

  param.mutable_state()->set_phase(TEST);
  Net net(param, train_test);
  net.CopyTrainedLayersFromFile(weights_path);
  SeedRandom(1702);
  Blob& data = *net.blob_by_name("data");
  FillUniform(data.count(), -100.0f, 100.0f, data.mutable_data());
  net.blob_by_name("label")->mutable_data()[0] = 3.0f;
  const float loss = net.Forward();
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 0.0f);
  const float accuracy = net.blob_by_name("accuracy")->data()[0];
  EXPECT_TRUE(accuracy == 0.0f || accuracy == 1.0f) << accuracy;
}

// --- Traffic signs: HDF5 caffemodel, mean.binaryproto, Caffe-written LMDB ----------------------

TEST(TrafficSignTest, TestNetScoresTheReferenceAccuracyOverTheWholeLmdb) {
  CONDENSE_REQUIRE_SHARED(train_test, "trafficsign_lmdb_h5/cifar10_quick_train_test.prototxt");
  CONDENSE_REQUIRE_SHARED(weights_path, "trafficsign_lmdb_h5/cifar10_quick_iter_5000.caffemodel.h5");
  CONDENSE_REQUIRE_SHARED(mean_file, "trafficsign_lmdb_h5/cifar10_mean.binaryproto");
  CONDENSE_REQUIRE_SHARED(lmdb, "trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb");
  constexpr int kRecords = 527;
  constexpr int kBatch = 17;  // 527 = 17 * 31: each record is scored exactly once
  NetParameter param = ReadNetParameterFile(train_test);
  for (LayerParameter& layer : *param.mutable_layer()) {
    if (layer.type() != "Data") continue;
    layer.mutable_data_param()->set_source(lmdb);
    layer.mutable_data_param()->set_batch_size(kBatch);
    layer.mutable_transform_param()->set_mean_file(mean_file);
  }
  param.mutable_state()->set_phase(TEST);
  Net net(param, train_test);
  net.CopyTrainedLayersFromFile(weights_path);
  EXPECT_EQ(Shape({9, 64}), net.layer_by_name("ip2")->blobs()[0]->shape());

  double correct = 0.0;
  std::map<int, int> label_counts;
  for (int batch = 0; batch < kRecords / kBatch; ++batch) {
    net.Forward();
    correct += net.blob_by_name("accuracy")->data()[0] * kBatch;
    const Blob& labels = *net.blob_by_name("label");
    for (int i = 0; i < kBatch; ++i) ++label_counts[static_cast<int>(labels.data()[i])];
  }
  // The LMDB's label histogram (PROVENANCE.md): every record was read once.
  EXPECT_EQ((std::map<int, int>{{0, 60}, {1, 59}, {2, 60}, {3, 60}, {4, 60}, {5, 59}, {6, 53},
                                {7, 58}, {8, 58}}),
            label_counts);
  const double accuracy = correct / kRecords;
  RecordProperty("accuracy", std::to_string(accuracy));
  EXPECT_NEAR(0.834915, accuracy, 0.001) << std::lround(correct) << " of " << kRecords << " right";
}

// --- SqueezeNet v1.0 / v1.1 deploy nets, no weights ---------------------------------------------

struct SqueezeNetCase {
  const char* version;
  int64_t parameters;
};

void PrintTo(const SqueezeNetCase& param, std::ostream* out) { *out << "SqueezeNet " << param.version; }

class SqueezeNetTest : public ::testing::TestWithParam<SqueezeNetCase> {
 protected:
  std::string Relative(const std::string& file) const {
    return std::string("squeezenet/") + GetParam().version + "/" + file;
  }
};

TEST_P(SqueezeNetTest, DeployNetHasThePublishedParameterCount) {
  CONDENSE_REQUIRE_SHARED(deploy, Relative("deploy.prototxt"));
  auto net = Net::FromFile(deploy, TEST);
  EXPECT_EQ(GetParam().parameters, CountLearnableParameters(*net));
  EXPECT_EQ(Shape({10, 3, 227, 227}), net->blob_by_name("data")->shape());
  EXPECT_EQ("Concat", std::string(net->layer_by_name("fire2/concat")->type()));
}

// The deploy net at batch 1, its convolutions given the xavier filler train_val uses (the deploy file
// has no fillers, and all-zero weights would hide whether the image reaches the output).
std::unique_ptr<Net> SqueezeNetWithFillers(const std::string& deploy) {
  NetParameter param = ReadNetParameterFile(deploy);
  for (LayerParameter& layer : *param.mutable_layer()) {
    if (layer.type() == "Input") layer.mutable_input_param()->mutable_shape(0)->set_dim(0, 1);
    if (layer.type() == "Convolution") {
      layer.mutable_convolution_param()->mutable_weight_filler()->set_type("xavier");
    }
  }
  param.mutable_state()->set_phase(TEST);
  SeedRandom(1703);
  return std::make_unique<Net>(param, deploy);
}

TEST_P(SqueezeNetTest, PhotosGiveAThousandWaySoftmax) {
  CONDENSE_REQUIRE_SHARED(deploy, Relative("deploy.prototxt"));
  CONDENSE_REQUIRE_SHARED(train_val, Relative("train_val.prototxt"));
  CONDENSE_REQUIRE_SHARED(images, "squeezenet/images");
  // The TEST data layer's transform_param: crop 227 (a no-op on a 227x227 image), mean 104/117/123.
  TransformationParameter transform;
  const NetParameter train_val_param = ReadNetParameterFile(train_val);
  for (const LayerParameter& layer : train_val_param.layer()) {
    if (layer.type() == "Data" && layer.include_size() > 0 && layer.include(0).phase() == TEST) {
      transform = layer.transform_param();
    }
  }
  ASSERT_EQ(3, transform.mean_value_size());
  EXPECT_EQ(104.0f, transform.mean_value(0));
  const DataTransformer transformer(transform, TEST, "SqueezeNet train_val TEST data");

  auto net = SqueezeNetWithFillers(deploy);
  Blob& data = *net->blob_by_name("data");
  ASSERT_EQ(Shape({1, 3, 227, 227}), data.shape());
  std::vector<std::vector<float>> outputs;
  for (const char* photo : {"cat.jpg", "fish-bike.jpg", "cat_gray.jpg"}) {
    const cv::Mat image = ReadImage(images + "/" + photo, 227, 227, /*is_color=*/true);
    ASSERT_EQ(3, image.channels()) << photo << " must be read as 3 channels";
    ASSERT_EQ(Shape({3, 227, 227}), transformer.InferShape(image, photo));
    transformer.Transform(image, nullptr, data.mutable_data(), photo);
    const auto start = std::chrono::steady_clock::now();
    net->Forward();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    RecordProperty(std::string("forward_ms_") + photo, std::to_string(ms));
    const Blob& prob = *net->blob_by_name("prob");
    EXPECT_TRUE(prob.shape() == Shape({1, 1000}) || prob.shape() == Shape({1, 1000, 1, 1}))
        << prob.shape_string();
    ExpectDistribution(prob, 1000, photo);
    outputs.emplace_back(prob.data(), prob.data() + prob.count());
  }
  // Different photos must give different outputs: the image, not only the biases, reaches `prob`.
  EXPECT_NE(outputs[0], outputs[1]);
  EXPECT_NE(outputs[0], outputs[2]);
}

TEST_P(SqueezeNetTest, TimeVerbRunsOnTheDeployFile) {
  CONDENSE_REQUIRE_SHARED(deploy, Relative("deploy.prototxt"));
  testing::ScopedTempDir scratch("condense_squeezenet_time_");
  const std::string json = scratch.path() + "/time.json";
  const std::string log = scratch.path() + "/time.log";
  const int code = RunLogged(testing::CondenseBinary() + " time --model=" + deploy +
                                 " --iterations=1 --json=" + json, log);
  ASSERT_EQ(0, code) << ReadWholeFile(log);
  const nlohmann::json summary = ReadJsonFile(json);
  EXPECT_EQ(10, summary.at("batch_size").get<int>());
  EXPECT_EQ("TRAIN", summary.at("phase").get<std::string>());
  EXPECT_GT(summary.at("forward_ms").get<double>(), 0.0);
  EXPECT_FALSE(summary.at("layers").empty());
  RecordProperty("forward_ms", std::to_string(summary.at("forward_ms").get<double>()));
  RecordProperty("backward_ms", std::to_string(summary.at("backward_ms").get<double>()));
}

// Weights and biases of every convolution, counted by hand from the prototxts (torchvision's
// squeezenet1_0 / squeezenet1_1 have the same counts).
INSTANTIATE_TEST_SUITE_P(RealFiles, SqueezeNetTest,
                         ::testing::Values(SqueezeNetCase{"v1.0", 1248424},
                                           SqueezeNetCase{"v1.1", 1235496}),
                         [](const ::testing::TestParamInfo<SqueezeNetCase>& info) {
                           return std::string(info.param.version[3] == '0' ? "V1_0" : "V1_1");
                         });

// --- Ristretto prototxts: parsing and quantization_param only -----------------------------------

const QuantizationParameter& QuantizationOf(const NetParameter& param, const std::string& layer) {
  const LayerParameter& found = LayerNamed(param, layer);
  EXPECT_TRUE(found.has_quantization_param()) << layer;
  return found.quantization_param();
}

bool IsRistrettoType(const std::string& type) {
  const std::string suffix = "Ristretto";
  return type.size() > suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(RistrettoPrototxtTest, EveryNetPrototxtParsesAndItsRistrettoLayersCarryQuantization) {
  CONDENSE_REQUIRE_SHARED(root, "ristretto");
  int nets = 0;
  int solvers = 0;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".prototxt") continue;
    if (entry.path().filename().string().rfind("solver", 0) == 0) {
      EXPECT_NO_THROW(ReadSolverParameterFile(path)) << path;
      ++solvers;
      continue;
    }
    NetParameter param;
    ASSERT_NO_THROW(param = ReadNetParameterFile(path)) << path;
    EXPECT_GT(param.layer_size(), 0) << path;
    for (const LayerParameter& layer : param.layer()) {
      if (IsRistrettoType(layer.type())) {
        EXPECT_TRUE(layer.has_quantization_param()) << path << ": layer " << layer.name();
      }
    }
    ++nets;
  }
  EXPECT_EQ(19, nets);  // 7 generated, 9 manual_dfp, 2 quantized_examples, SqueezeNet train_val
  EXPECT_EQ(1, solvers);
}

TEST(RistrettoPrototxtTest, LenetQuantizedFieldsReadBack) {
  CONDENSE_REQUIRE_SHARED(path, "ristretto/quantized_examples/lenet_quantized.prototxt");
  const NetParameter param = ReadNetParameterFile(path);
  struct Expected {
    const char* layer;
    const char* type;
    int fl_layer_in, fl_layer_out, fl_params;
  };
  for (const Expected& e : {Expected{"conv1", "ConvolutionRistretto", 8, 6, 3},
                            Expected{"conv2", "ConvolutionRistretto", 6, 4, 5},
                            Expected{"ip1", "FcRistretto", 4, 4, 6},
                            Expected{"ip2", "FcRistretto", 4, 3, 4}}) {
    EXPECT_EQ(e.type, LayerNamed(param, e.layer).type());
    const QuantizationParameter& q = QuantizationOf(param, e.layer);
    EXPECT_FALSE(q.has_precision()) << e.layer;
    EXPECT_EQ(QuantizationParameter::DYNAMIC_FIXED_POINT, q.precision()) << e.layer;
    EXPECT_EQ(8u, q.bw_layer_in()) << e.layer;
    EXPECT_EQ(8u, q.bw_layer_out()) << e.layer;
    EXPECT_EQ(4u, q.bw_params()) << e.layer;
    EXPECT_EQ(e.fl_layer_in, q.fl_layer_in()) << e.layer;
    EXPECT_EQ(e.fl_layer_out, q.fl_layer_out()) << e.layer;
    EXPECT_EQ(e.fl_params, q.fl_params()) << e.layer;
  }
  EXPECT_FALSE(LayerNamed(param, "pool1").has_quantization_param());
}

TEST(RistrettoPrototxtTest, SqueezeNetDynamicFixedPointHasNegativeFractionalLengths) {
  CONDENSE_REQUIRE_SHARED(path, "ristretto/quantized_examples/squeezenet_v1.0_dfp8_quantized.prototxt");
  const NetParameter param = ReadNetParameterFile(path);
  int quantized = 0;
  int lowest_fl_out = 100;
  for (const LayerParameter& layer : param.layer()) {
    if (!layer.has_quantization_param()) continue;
    ++quantized;
    EXPECT_EQ("ConvolutionRistretto", layer.type()) << layer.name();
    const QuantizationParameter& q = layer.quantization_param();
    EXPECT_EQ(8u, q.bw_layer_in()) << layer.name();
    EXPECT_EQ(8u, q.bw_layer_out()) << layer.name();
    EXPECT_EQ(8u, q.bw_params()) << layer.name();
    lowest_fl_out = std::min(lowest_fl_out, q.fl_layer_out());
  }
  EXPECT_EQ(26, quantized);
  EXPECT_EQ(-4, lowest_fl_out);
  const QuantizationParameter& conv1 = QuantizationOf(param, "conv1");
  EXPECT_EQ(0, conv1.fl_layer_in());
  EXPECT_EQ(-3, conv1.fl_layer_out());
  EXPECT_EQ(7, conv1.fl_params());
}

TEST(RistrettoPrototxtTest, MinifloatAndPowerOfTwoFieldsReadBack) {
  CONDENSE_REQUIRE_SHARED(minifloat_path, "ristretto/generated/lenet_mnist_minifloat_em1.prototxt");
  CONDENSE_REQUIRE_SHARED(power_path,
                          "ristretto/generated/lenet_mnist_integer_power_of_2_weights_em1.prototxt");
  const NetParameter minifloat = ReadNetParameterFile(minifloat_path);
  for (const char* layer : {"conv1", "conv2", "ip1", "ip2"}) {
    const QuantizationParameter& q = QuantizationOf(minifloat, layer);
    EXPECT_EQ(QuantizationParameter::MINIFLOAT, q.precision()) << layer;
    EXPECT_EQ(3u, q.mant_bits()) << layer;
    EXPECT_EQ(4u, q.exp_bits()) << layer;
  }
  const NetParameter power = ReadNetParameterFile(power_path);
  const QuantizationParameter& q = QuantizationOf(power, "conv1");
  EXPECT_EQ(QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS, q.precision());
  EXPECT_EQ(-8, q.exp_min());
  EXPECT_EQ(-1, q.exp_max());
  EXPECT_EQ(8u, q.bw_layer_in());
  EXPECT_EQ(8, q.fl_layer_in());
  EXPECT_EQ(6, q.fl_layer_out());
}

TEST(RistrettoPrototxtTest, FinetuneSolverUpgradesToAdam) {
  CONDENSE_REQUIRE_SHARED(path, "ristretto/pmgysel_SqueezeNet/solver_finetune.prototxt");
  const SolverParameter solver = ReadSolverParameterFile(path);
  EXPECT_EQ("Adam", solver.type());
  EXPECT_EQ(32, solver.iter_size());
  EXPECT_FLOAT_EQ(0.999f, solver.momentum2());
  EXPECT_FLOAT_EQ(1e-8f, solver.delta());
}

// --- `condense test` on the real LeNet and the real MNIST test set ------------------------------

// `condense test` on the real LeNet weights over the MNIST test set, which each test converts into its
// scratch folder with `condense convert_mnist`; the net is a shared prototxt with its Data layers
// re-pointed at that LMDB, which a test may edit before it is written.
class LenetCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = testing::SharedDataPath("lenet_caffe/lenet_iter_10000.caffemodel");
    images_ = testing::SharedDataPath("mnist/t10k-images-idx3-ubyte.gz");
    labels_ = testing::SharedDataPath("mnist/t10k-labels-idx1-ubyte.gz");
    if (weights_.empty() || images_.empty() || labels_.empty()) {
      GTEST_SKIP() << "../shared/data (LeNet caffemodel, MNIST test set) is absent: skipping a test of "
                      "real files";
    }
  }

  // The net of a prototxt (found with CONDENSE_REQUIRE_SHARED, which skips where it is absent),
  // reading the converted MNIST test set; an empty optional (and a failure) when the conversion fails.
  std::optional<NetParameter> ReadingMnistTestSet(const std::string& prototxt) {
    const std::string lmdb = scratch_.path() + "/mnist_test_lmdb";
    if (RunLogged(testing::CondenseBinary() + " convert_mnist " + images_ + " " + labels_ + " " + lmdb,
                  scratch_.path() + "/convert.log") != 0) {
      ADD_FAILURE() << ReadWholeFile(scratch_.path() + "/convert.log");
      return std::nullopt;
    }
    NetParameter param;
    ReadTextProtoFile(prototxt, &param);
    for (LayerParameter& layer : *param.mutable_layer()) {
      if (layer.type() == "Data") layer.mutable_data_param()->set_source(lmdb);
    }
    return param;
  }

  // Writes the net and scores it with the real weights; returns the JSON summary, and the console
  // output in *output.
  nlohmann::json Test(const NetParameter& param, int iterations, std::string* output) {
    const std::string model = scratch_.path() + "/net.prototxt";
    WriteTextProtoFile(model, param);
    const std::string json = scratch_.path() + "/test.json";
    const std::string log = scratch_.path() + "/test.log";
    const int code = RunLogged(testing::CondenseBinary() + " test --model=" + model + " --weights=" +
                                   weights_ + " --iterations=" + std::to_string(iterations) +
                                   " --json=" + json,
                               log);
    *output = ReadWholeFile(log);
    EXPECT_EQ(0, code) << *output;
    return code == 0 ? ReadJsonFile(json) : nlohmann::json::object();
  }

  testing::ScopedTempDir scratch_{"condense_lenet_cli_"};
  std::string weights_, images_, labels_;
};

TEST_F(LenetCliTest, TestVerbScoresCaffesAccuracyInItsJsonSummary) {
  CONDENSE_REQUIRE_SHARED(prototxt, "lenet_caffe/lenet_train_test.prototxt");
  const std::optional<NetParameter> param = ReadingMnistTestSet(prototxt);
  ASSERT_TRUE(param);
  std::string output;
  const nlohmann::json summary = Test(*param, 100, &output);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(10000, summary.at("images").get<int>());
  EXPECT_EQ(100, summary.at("batch_size").get<int>());
  const double accuracy = summary.at("outputs").at("accuracy").get<double>();
  EXPECT_NEAR(0.9906, accuracy, 0.0005);
  // Caffe's own full-set loss for this model is 0.0302945.
  EXPECT_NEAR(0.0302945, summary.at("outputs").at("loss").get<double>(), 1e-4);
  // Float logits do not tie: the tie table stays out of the console, the JSON says zero.
  ASSERT_EQ(1u, summary.at("ties").size());
  EXPECT_EQ(0, summary.at("ties")[0].at("lost_to_ties").get<int>());
  EXPECT_EQ(std::string::npos, output.find("lost to ties")) << output;
  RecordProperty("accuracy", std::to_string(accuracy));
  RecordProperty("seconds", std::to_string(summary.at("seconds").get<double>()));
}

// Ristretto's hand-set w4a4 LeNet puts its logits on a grid of step 2 (fixed<4,-1>), where the true
// class often ties another: `condense test` says how many predictions Accuracy lost that way alone.
TEST_F(LenetCliTest, CoarseLogitsReportThePredictionsLostToTies) {
  CONDENSE_REQUIRE_SHARED(prototxt, "ristretto/manual_dfp/lenet_mnist_dfp_w4a4.prototxt");
  const std::optional<NetParameter> param = ReadingMnistTestSet(prototxt);
  ASSERT_TRUE(param);
  std::string output;
  const nlohmann::json summary = Test(*param, 100, &output);
  ASSERT_FALSE(HasFailure());
  const double accuracy = summary.at("outputs").at("accuracy").get<double>();
  EXPECT_NEAR(0.9571, accuracy, 0.0005);  // what Ristretto printed for this file
  ASSERT_EQ(1u, summary.at("ties").size());
  const nlohmann::json& ties = summary.at("ties")[0];
  EXPECT_EQ("accuracy", ties.at("layer"));
  EXPECT_EQ(10000, ties.at("predictions").get<int>());
  const int lost = ties.at("lost_to_ties").get<int>();
  // Most of what this file loses to 4-bit activations is ties, never more than all of its errors.
  EXPECT_GT(lost, 100);
  EXPECT_LE(lost, static_cast<int>(std::lround((1.0 - accuracy) * 10000)));
  EXPECT_NE(std::string::npos, output.find("lost to ties")) << output;
}

// A narrow accumulator on conv2 of Ristretto's 8-bit LeNet: the sums that overflow show up as a line
// of the per-tensor table and of the JSON summary; a 32-bit one on ip1 overflows nowhere.
TEST_F(LenetCliTest, AccumulatorOverflowShowsInTheQuantizedTensors) {
  CONDENSE_REQUIRE_SHARED(prototxt, "ristretto/generated/lenet_mnist_dynamic_fixed_point_em1.prototxt");
  std::optional<NetParameter> param = ReadingMnistTestSet(prototxt);
  ASSERT_TRUE(param);
  for (LayerParameter& layer : *param->mutable_layer()) {
    if (layer.name() == "conv2") layer.mutable_quantization_param()->set_accumulator_bits(12);
    if (layer.name() == "ip1") layer.mutable_quantization_param()->set_accumulator_bits(32);
  }
  std::string output;
  const nlohmann::json summary = Test(*param, 2, &output);
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(std::string::npos, output.find("accumulator")) << output;
  EXPECT_NE(std::string::npos, output.find("acc 12b fl 11")) << output;

  std::map<std::string, nlohmann::json> accumulators;
  for (const nlohmann::json& row : summary.at("quantization")) {
    if (row.at("tensor") == "accumulator") accumulators[row.at("layer").get<std::string>()] = row;
  }
  ASSERT_EQ(2u, accumulators.size());
  const nlohmann::json& conv2 = accumulators["conv2"];
  EXPECT_EQ("acc 12b fl 11", conv2.at("format"));  // 8-bit inputs with fl 6, 4-bit weights with fl 5
  EXPECT_EQ(2 * 100 * 50 * 8 * 8, conv2.at("values").get<int64_t>()) << "one sum per output value";
  EXPECT_GT(conv2.at("saturated_share").get<double>(), 0.1);
  const nlohmann::json& ip1 = accumulators["ip1"];
  EXPECT_EQ(2 * 100 * 500, ip1.at("values").get<int64_t>());
  EXPECT_EQ(0.0, ip1.at("saturated_share").get<double>());
  EXPECT_TRUE(ip1.at("sqnr_db").is_null()) << "no overflow: the sums are exact";
}

}  // namespace
}  // namespace condense
