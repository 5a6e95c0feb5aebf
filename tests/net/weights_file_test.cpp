// HDF5 weight files: the real Caffe-written .caffemodel.h5 reads with the expected layers and shapes,
// a write -> read round trip is exact (float, double, diffs), and broken files give an Error.
#include "condense/net/weights_file.hpp"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using google::protobuf::util::MessageDifferencer;

class WeightsFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("weights_file_test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

std::map<std::string, std::vector<std::vector<int64_t>>> BlobShapesByLayer(const NetParameter& net) {
  std::map<std::string, std::vector<std::vector<int64_t>>> shapes;
  for (const LayerParameter& layer : net.layer()) {
    auto& layer_shapes = shapes[layer.name()];
    for (const BlobProto& blob : layer.blobs()) layer_shapes.push_back(ShapeOfProto(blob));
  }
  return shapes;
}

TEST_F(WeightsFileTest, ReadsTheRealCifar10QuickHdf5Caffemodel) {
  CONDENSE_REQUIRE_SHARED(path, "trafficsign_lmdb_h5/cifar10_quick_iter_5000.caffemodel.h5");
  const NetParameter net = ReadHdf5Weights(path);
  const auto shapes = BlobShapesByLayer(net);
  using Shapes = std::vector<std::vector<int64_t>>;
  EXPECT_EQ(shapes.at("conv1"), (Shapes{{32, 3, 5, 5}, {32}}));
  EXPECT_EQ(shapes.at("conv2"), (Shapes{{32, 32, 5, 5}, {32}}));
  EXPECT_EQ(shapes.at("conv3"), (Shapes{{64, 32, 5, 5}, {64}}));
  EXPECT_EQ(shapes.at("ip1"), (Shapes{{64, 1024}, {64}}));
  EXPECT_EQ(shapes.at("ip2"), (Shapes{{9, 64}, {9}}));
  // Layers without parameters are stored as empty groups.
  ASSERT_TRUE(shapes.count("pool1"));
  EXPECT_TRUE(shapes.at("pool1").empty());
  for (const LayerParameter& layer : net.layer()) {
    EXPECT_TRUE(layer.type().empty());
    for (const BlobProto& blob : layer.blobs()) {
      EXPECT_EQ(blob.double_data_size(), 0);
      double sum_abs = 0;
      for (float value : blob.data()) {
        ASSERT_TRUE(std::isfinite(value)) << layer.name();
        sum_abs += std::fabs(value);
      }
      EXPECT_GT(sum_abs, 0.0) << layer.name();
      EXPECT_EQ(blob.diff_size(), 0);
    }
  }
}

TEST_F(WeightsFileTest, ReadWeightsFileDispatchesOnTheH5Suffix) {
  CONDENSE_REQUIRE_SHARED(path, "trafficsign_lmdb_h5/cifar10_quick_iter_5000.caffemodel.h5");
  const NetParameter net = ReadWeightsFile(path);
  EXPECT_TRUE(MessageDifferencer::Equals(net, ReadHdf5Weights(path)));
  // The HDF5 blobs load into blobs of the deploy net's shapes.
  Blob weights({9, 64});
  for (const LayerParameter& layer : net.layer()) {
    if (layer.name() == "ip2") weights.FromProto(layer.blobs(0), /*reshape=*/false);
  }
  EXPECT_GT(weights.asum_data(), 0.0f);
}

NetParameter MixedPrecisionNet() {
  NetParameter net;
  LayerParameter* conv = net.add_layer();
  conv->set_name("conv");
  BlobProto* weights = conv->add_blobs();
  for (int dim : {2, 1, 3, 3}) weights->mutable_shape()->add_dim(dim);
  for (int i = 0; i < 18; ++i) {
    weights->add_data(0.125f * static_cast<float>(i) - 1.0f);
    weights->add_diff(-0.5f * static_cast<float>(i));
  }
  BlobProto* bias = conv->add_blobs();
  bias->mutable_shape()->add_dim(2);
  bias->add_double_data(1.0 / 3.0);
  bias->add_double_data(-1e-200);
  bias->add_double_diff(7.0);
  bias->add_double_diff(8.0);
  LayerParameter* relu = net.add_layer();
  relu->set_name("relu");
  LayerParameter* empty_blob = net.add_layer();
  empty_blob->set_name("zero");
  BlobProto* nothing = empty_blob->add_blobs();
  nothing->mutable_shape()->add_dim(0);
  nothing->mutable_shape()->add_dim(5);
  return net;
}

TEST_F(WeightsFileTest, RoundTripKeepsFloatDoubleAndDiffsExactly) {
  const NetParameter net = MixedPrecisionNet();
  const std::string path = dir_ + "/net.caffemodel.h5";
  WriteHdf5Weights(path, net, /*write_diff=*/true);
  const NetParameter with_diff = ReadHdf5Weights(path, /*read_diff=*/true);
  EXPECT_TRUE(MessageDifferencer::Equals(net, with_diff)) << with_diff.DebugString();

  NetParameter without_diff = net;
  for (LayerParameter& layer : *without_diff.mutable_layer()) {
    for (BlobProto& blob : *layer.mutable_blobs()) {
      blob.clear_diff();
      blob.clear_double_diff();
    }
  }
  EXPECT_TRUE(MessageDifferencer::Equals(without_diff, ReadHdf5Weights(path)));
}

// fc1 owns "w" and "b"; fc2 shares "w" with fc1 (param { name: "w" }) and owns its bias; fc3 owns its
// weights and shares "b". Caffe's ToHDF5 writes fc2's dataset "1" only and fc3's "0" only.
const char* kSharingNet = R"(
  layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
  layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "y1" param { name: "w" } param { name: "b" }
          inner_product_param { num_output: 3 } }
  layer { name: "fc2" type: "InnerProduct" bottom: "y1" top: "y2" param { name: "w" } param { }
          inner_product_param { num_output: 3 } }
  layer { name: "fc3" type: "InnerProduct" bottom: "y2" top: "y3" param { } param { name: "b" }
          inner_product_param { num_output: 3 } }
)";

NetParameter ParseNet(const std::string& text) {
  NetParameter param;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  param.mutable_state()->set_phase(TEST);
  return param;
}

BlobProto FilledBlob(const std::vector<int64_t>& shape, float first) {
  BlobProto blob;
  int64_t count = 1;
  for (int64_t dim : shape) {
    blob.mutable_shape()->add_dim(dim);
    count *= dim;
  }
  for (int64_t i = 0; i < count; ++i) blob.add_data(first + static_cast<float>(i));
  return blob;
}

// The weights Caffe would write for kSharingNet: shared parameters left out.
NetParameter SharingNetWeights() {
  NetParameter weights;
  LayerParameter* fc1 = weights.add_layer();
  fc1->set_name("fc1");
  *fc1->add_blobs() = FilledBlob({3, 3}, 1.0f);
  *fc1->add_blobs() = FilledBlob({3}, 100.0f);
  LayerParameter* fc2 = weights.add_layer();
  fc2->set_name("fc2");
  fc2->add_blobs();  // absent: the weights are fc1's
  *fc2->add_blobs() = FilledBlob({3}, 200.0f);
  LayerParameter* fc3 = weights.add_layer();
  fc3->set_name("fc3");
  *fc3->add_blobs() = FilledBlob({3, 3}, 300.0f);  // no blob 1: the bias is fc1's
  return weights;
}

TEST_F(WeightsFileTest, SharedParametersMayBeMissingFromHdf5Files) {
  const std::string path = dir_ + "/shared.caffemodel.h5";
  NetParameter weights = SharingNetWeights();
  for (LayerParameter& layer : *weights.mutable_layer()) {
    for (BlobProto& blob : *layer.mutable_blobs()) {
      for (int i = 0; i < blob.data_size(); ++i) blob.add_diff(-blob.data(i));
    }
  }
  WriteHdf5Weights(path, weights, /*write_diff=*/true);
  // The gaps survive the round trip: fc2 has dataset "1" but no "0" (an empty dataset "0" would read
  // back as a blob with a shape), fc3 has "0" only; diffs follow the same layout.
  const NetParameter read = ReadHdf5Weights(path, /*read_diff=*/true);
  ASSERT_EQ(3, read.layer_size());
  for (const LayerParameter& layer : read.layer()) {
    if (layer.name() == "fc2") {
      ASSERT_EQ(2, layer.blobs_size());
      EXPECT_TRUE(IsAbsentBlob(layer.blobs(0)));
      EXPECT_FALSE(IsAbsentBlob(layer.blobs(1)));
      EXPECT_EQ(-200.0f, layer.blobs(1).diff(0));
    } else if (layer.name() == "fc3") {
      ASSERT_EQ(1, layer.blobs_size());
      EXPECT_FALSE(IsAbsentBlob(layer.blobs(0)));
    } else {
      EXPECT_EQ(2, layer.blobs_size());
    }
  }
  // Written again, the file keeps its gaps.
  WriteHdf5Weights(dir_ + "/again.caffemodel.h5", read, /*write_diff=*/true);
  EXPECT_TRUE(MessageDifferencer::Equals(
      read, ReadHdf5Weights(dir_ + "/again.caffemodel.h5", /*read_diff=*/true)));

  Net net(ParseNet(kSharingNet), "sharing.prototxt");
  net.CopyTrainedLayersFromFile(path);
  const auto& fc1 = net.layer_by_name("fc1")->blobs();
  const auto& fc2 = net.layer_by_name("fc2")->blobs();
  const auto& fc3 = net.layer_by_name("fc3")->blobs();
  EXPECT_EQ(1.0f, fc1[0]->data()[0]);
  EXPECT_EQ(1.0f, fc2[0]->data()[0]);  // shared with fc1
  EXPECT_EQ(200.0f, fc2[1]->data()[0]);
  EXPECT_EQ(300.0f, fc3[0]->data()[0]);
  EXPECT_EQ(100.0f, fc3[1]->data()[0]);  // shared with fc1
}

TEST_F(WeightsFileTest, AMissingParameterThatIsNotSharedIsAnError) {
  const std::string path = dir_ + "/shared.caffemodel.h5";
  WriteHdf5Weights(path, SharingNetWeights());
  // The same layers without any sharing: fc2's weights and fc3's bias come from nowhere.
  std::string unshared = kSharingNet;
  for (const std::string name : {"param { name: \"w\" }", "param { name: \"b\" }"}) {
    for (size_t at; (at = unshared.find(name)) != std::string::npos;) {
      unshared.replace(at, name.size(), "param { }");
    }
  }
  Net net(ParseNet(unshared));
  try {
    net.CopyTrainedLayersFromFile(path);
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(std::string::npos, message.find(path)) << message;
    EXPECT_TRUE(message.find("'fc2'") != std::string::npos ||
                message.find("'fc3'") != std::string::npos)
        << message;
  }
  // A gap for a parameter that is not shared, in fc2 alone.
  NetParameter weights = SharingNetWeights();
  weights.mutable_layer(2)->add_blobs()->CopyFrom(FilledBlob({3}, 400.0f));
  WriteHdf5Weights(path, weights);
  Net partly(ParseNet(unshared));
  try {
    partly.CopyTrainedLayersFromFile(path);
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(std::string::npos, message.find(path)) << message;
    EXPECT_NE(std::string::npos, message.find("layer 'fc2' parameter 0")) << message;
  }
}

TEST_F(WeightsFileTest, WriterRefusesUnwritableLayers) {
  NetParameter net = MixedPrecisionNet();
  net.mutable_layer(0)->set_name("inception/1x1");
  EXPECT_THROW(WriteHdf5Weights(dir_ + "/a.h5", net), Error);
  net = MixedPrecisionNet();
  net.mutable_layer(0)->mutable_blobs(0)->add_data(1.0f);  // one value too many for its shape
  EXPECT_THROW(WriteHdf5Weights(dir_ + "/b.h5", net), Error);
  net = MixedPrecisionNet();
  net.mutable_layer(1)->set_name("conv");  // duplicate layer name
  EXPECT_THROW(WriteHdf5Weights(dir_ + "/c.h5", net), Error);
  EXPECT_FALSE(FileExists(dir_ + "/a.h5"));
  EXPECT_FALSE(FileExists(dir_ + "/b.h5"));
  EXPECT_FALSE(FileExists(dir_ + "/c.h5"));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    ADD_FAILURE() << "left behind: " << entry.path();
  }
}

TEST_F(WeightsFileTest, RefusesFilesThatAreNotHdf5) {
  const std::string path = dir_ + "/fake.caffemodel.h5";
  WriteFileAtomically(path, "not an HDF5 file at all");
  try {
    ReadHdf5Weights(path);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
  EXPECT_THROW(ReadHdf5Weights(dir_ + "/absent.h5"), Error);
  EXPECT_THROW(ReadHdf5Weights(dir_), Error);
}

TEST_F(WeightsFileTest, TruncatedRealHdf5FileIsRefusedAtManyOffsets) {
  CONDENSE_REQUIRE_SHARED(source, "trafficsign_lmdb_h5/cifar10_quick_iter_5000.caffemodel.h5");
  const std::string bytes = ReadFileToString(source);
  const std::string path = dir_ + "/cut.caffemodel.h5";
  WriteFileAtomically(path, bytes);
  int refused = 0;
  for (size_t size = (bytes.size() - 1) / 4999 * 4999; size > 0; size -= 4999) {
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0);
    try {
      ReadHdf5Weights(path);
      ADD_FAILURE() << "a cut at byte " << size << " was accepted";
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 100);
}

TEST_F(WeightsFileTest, CorruptedBytesNeverCrash) {
  CONDENSE_REQUIRE_SHARED(source, "trafficsign_lmdb_h5/cifar10_quick_iter_5000.caffemodel.h5");
  const std::string original = ReadFileToString(source);
  // Flip single bytes across the file: each read either fails with an Error or returns a net; it must
  // never crash or hang.
  for (size_t offset = 0; offset < original.size(); offset += 7919) {
    std::string bytes = original;
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x5a);
    const std::string path = dir_ + "/flipped.h5";
    WriteFileAtomically(path, bytes);
    try {
      ReadHdf5Weights(path);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace condense
