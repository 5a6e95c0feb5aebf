// Text and binary protobuf files: exact error messages for malformed text, refusal of unknown fields
// and of truncated binaries (at many offsets, never a crash), and write -> read round trips.
#include "condense/core/proto_io.hpp"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/proto/condense.pb.h"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using google::protobuf::util::MessageDifferencer;

class ProtoIoTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("proto_io_test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& contents) {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << contents;
    return path;
  }

  // The message of the Error that reading `text` as a NetParameter throws ("" if none is thrown).
  std::string TextError(const std::string& text) {
    const std::string path = WriteFile("net.prototxt", text);
    NetParameter param;
    try {
      ReadTextProtoFile(path, &param);
    } catch (const Error& error) {
      return std::string(error.what()).substr(dir_.size() + 1);
    }
    return "";
  }

  std::string dir_;
};

NetParameter SmallNet() {
  NetParameter param;
  param.set_name("tiny");
  LayerParameter* input = param.add_layer();
  input->set_name("data");
  input->set_type("Input");
  input->add_top("data");
  BlobShape* shape = input->mutable_input_param()->add_shape();
  for (int dim : {2, 3, 4, 4}) shape->add_dim(dim);
  LayerParameter* conv = param.add_layer();
  conv->set_name("conv1");
  conv->set_type("Convolution");
  conv->add_bottom("data");
  conv->add_top("conv1");
  conv->mutable_convolution_param()->set_num_output(2);
  conv->mutable_convolution_param()->add_kernel_size(3);
  conv->mutable_quantization_param()->set_fl_layer_out(-3);
  BlobProto* weights = conv->add_blobs();
  for (int dim : {2, 3, 3, 3}) weights->mutable_shape()->add_dim(dim);
  for (int i = 0; i < 54; ++i) weights->add_data(0.25f * static_cast<float>(i) - 3.0f);
  BlobProto* bias = conv->add_blobs();
  bias->mutable_shape()->add_dim(2);
  bias->add_double_data(1e-300);
  bias->add_double_data(-2.5);
  return param;
}

TEST_F(ProtoIoTest, UnknownFieldIsAnErrorNamingFileLineColumnFieldAndMessage) {
  EXPECT_EQ(TextError("name: \"n\"\nlayer {\n  name: \"a\"\n  foo: 3\n}\n"),
            "net.prototxt:4:3: unknown field 'foo' in LayerParameter");
}

TEST_F(ProtoIoTest, UnknownNestedFieldNamesItsMessage) {
  EXPECT_EQ(TextError("layer {\n  convolution_param {\n    kernel: 3\n  }\n}\n"),
            "net.prototxt:3:5: unknown field 'kernel' in ConvolutionParameter");
}

TEST_F(ProtoIoTest, MalformedTextGivesFileAndLine) {
  const std::string message = TextError("name: \"n\"\nlayer {\n  name \"a\"\n}\n");
  EXPECT_EQ(message.rfind("net.prototxt:3:", 0), 0u) << message;
}

TEST_F(ProtoIoTest, UnclosedBraceIsAnError) {
  const std::string message = TextError("layer {\n  name: \"a\"\n");
  EXPECT_EQ(message.rfind("net.prototxt:", 0), 0u) << message;
}

TEST_F(ProtoIoTest, UnknownEnumValueNamesTheValue) {
  // The 2016 Ristretto spelling is not accepted (see proto/condense.proto).
  const std::string message =
      TextError("layer {\n  quantization_param {\n    precision: FIXED_POINT\n  }\n}\n");
  EXPECT_EQ(message, "net.prototxt:3:16: unknown value 'FIXED_POINT' for field 'precision'");
}

TEST_F(ProtoIoTest, MissingRequiredFieldIsAnError) {
  const std::string message = TextError("layer {\n  clip_param {\n    max: 1\n  }\n}\n");
  EXPECT_NE(message.find("missing required"), std::string::npos) << message;
  EXPECT_NE(message.find("clip_param.min"), std::string::npos) << message;
}

TEST_F(ProtoIoTest, TypeMismatchIsAnError) {
  EXPECT_NE(TextError("layer {\n  convolution_param {\n    num_output: -4\n  }\n}\n"), "");
  EXPECT_NE(TextError("layer {\n  name: 7\n}\n"), "");
}

TEST_F(ProtoIoTest, ParseTextProtoUsesTheSourceName) {
  NetParameter param;
  try {
    ParseTextProto("bogus: 1", "inline net", &param);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), "inline net:1:1: unknown field 'bogus' in NetParameter");
  }
}

TEST_F(ProtoIoTest, MissingFileNamesThePath) {
  NetParameter param;
  const std::string path = dir_ + "/absent.prototxt";
  try {
    ReadTextProtoFile(path, &param);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
  EXPECT_THROW(ReadBinaryProtoFile(path, &param), Error);
  EXPECT_THROW(ReadBinaryProtoFile(dir_, &param), Error);
}

TEST_F(ProtoIoTest, TextRoundTrip) {
  const NetParameter original = SmallNet();
  const std::string path = dir_ + "/net.prototxt";
  WriteTextProtoFile(path, original);
  NetParameter read;
  ReadTextProtoFile(path, &read);
  EXPECT_TRUE(MessageDifferencer::Equals(original, read)) << read.DebugString();
}

TEST_F(ProtoIoTest, BinaryRoundTrip) {
  const NetParameter original = SmallNet();
  const std::string path = dir_ + "/net.caffemodel";
  WriteBinaryProtoFile(path, original);
  NetParameter read;
  ReadBinaryProtoFile(path, &read);
  EXPECT_TRUE(MessageDifferencer::Equals(original, read));
  // Overwriting replaces the file whole.
  NetParameter smaller;
  smaller.set_name("x");
  WriteBinaryProtoFile(path, smaller);
  ReadBinaryProtoFile(path, &read);
  EXPECT_TRUE(MessageDifferencer::Equals(smaller, read));
}

TEST_F(ProtoIoTest, BinaryWriterRefusesMessagesMissingRequiredFields) {
  NetParameter param;
  param.add_layer()->mutable_clip_param()->set_max(1.0f);
  EXPECT_THROW(WriteBinaryProtoFile(dir_ + "/bad.caffemodel", param), Error);
  EXPECT_FALSE(FileExists(dir_ + "/bad.caffemodel"));
}

TEST_F(ProtoIoTest, BinaryRefusesEveryTruncationOfASmallNet) {
  std::string bytes;
  ASSERT_TRUE(SmallNet().SerializeToString(&bytes));
  // A cut exactly between two top-level fields leaves a valid, smaller message that no reader can
  // tell from a real one (the empty message, the name alone, the name and the first layer). Every
  // other cut must be refused.
  NetParameter name_and_first_layer = SmallNet();
  name_and_first_layer.mutable_layer()->RemoveLast();
  const std::set<size_t> field_boundaries = {0, 2 + SmallNet().name().size(),
                                             name_and_first_layer.ByteSizeLong()};
  for (size_t size = 0; size < bytes.size(); ++size) {
    if (field_boundaries.count(size) > 0) continue;
    const std::string path = WriteFile("cut.caffemodel", bytes.substr(0, size));
    NetParameter param;
    try {
      ReadBinaryProtoFile(path, &param);
      ADD_FAILURE() << "a cut at byte " << size << " of " << bytes.size() << " was accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("truncated or not a NetParameter binary proto"),
                std::string::npos)
          << error.what();
    }
  }
}

TEST_F(ProtoIoTest, BinaryRefusesTrailingGarbageAndText) {
  std::string bytes;
  ASSERT_TRUE(SmallNet().SerializeToString(&bytes));
  NetParameter param;
  EXPECT_THROW(ReadBinaryProtoFile(WriteFile("a.caffemodel", bytes + "\xff\xff\xff"), &param), Error);
  EXPECT_THROW(ReadBinaryProtoFile(WriteFile("b.caffemodel", bytes + std::string(3, '\0')), &param),
               Error);
  EXPECT_THROW(ReadBinaryProtoFile(WriteFile("c.caffemodel", "layer { name: \"x\" }\n"), &param),
               Error);
}

// Cuts a real caffemodel at every `step`-th byte, from the end down, and expects each cut to be
// refused with an Error. Truncating in place avoids rewriting the file for every offset.
void ExpectEveryCutRefused(const std::string& source, const std::string& dir, size_t step) {
  const std::string bytes = ReadFileToString(source);
  const std::string path = dir + "/cut.caffemodel";
  WriteFileAtomically(path, bytes);
  int refused = 0;
  for (size_t size = (bytes.size() - 1) / step * step; size > 0; size -= step) {
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0);
    NetParameter param;
    try {
      ReadBinaryProtoFile(path, &param);
      ADD_FAILURE() << source << " cut at byte " << size << " was accepted";
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 10);
}

TEST_F(ProtoIoTest, RealCifar10CaffemodelTruncatedAtEvery997thByteIsRefused) {
  CONDENSE_REQUIRE_SHARED(path, "cifar10/cifar10_quick_iter_5000.caffemodel");
  ExpectEveryCutRefused(path, dir_, 997);
}

TEST_F(ProtoIoTest, RealLenetCaffemodelTruncatedAtManyOffsetsIsRefused) {
  CONDENSE_REQUIRE_SHARED(path, "lenet_caffe/lenet_iter_10000.caffemodel");
  ExpectEveryCutRefused(path, dir_, 4999);
}

TEST_F(ProtoIoTest, RealMeanBinaryprotoReads) {
  CONDENSE_REQUIRE_SHARED(path, "trafficsign_lmdb_h5/cifar10_mean.binaryproto");
  BlobProto mean;
  ReadBinaryProtoFile(path, &mean);
  EXPECT_EQ(mean.num(), 1);
  EXPECT_EQ(mean.channels(), 3);
  EXPECT_EQ(mean.height(), 32);
  EXPECT_EQ(mean.width(), 32);
  EXPECT_EQ(mean.data_size(), 3 * 32 * 32);
}

}  // namespace
}  // namespace condense
