#include "condense/core/blob.hpp"

#include <gtest/gtest.h>

#include "condense/core/error.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {
namespace {

TEST(BlobTest, ShapeAndCounts) {
  Blob blob({2, 3, 4, 5});
  EXPECT_EQ(4, blob.num_axes());
  EXPECT_EQ(120, blob.count());
  EXPECT_EQ(60, blob.count(1));
  EXPECT_EQ(12, blob.count(1, 3));
  EXPECT_EQ(5, blob.shape(-1));
  EXPECT_EQ(3, blob.channels());
  EXPECT_EQ(blob.offset(1, 2, 3, 4), 119);
  EXPECT_EQ("(2,3,4,5)", blob.shape_string());
}

TEST(BlobTest, DataStartsAtZeroAndSurvivesShrinkingReshape) {
  Blob blob({4, 4});
  for (int64_t i = 0; i < blob.count(); ++i) EXPECT_EQ(0.0f, blob.data()[i]);
  blob.mutable_data()[3] = 7.0f;
  const float* before = blob.data();
  blob.Reshape({2, 2});
  EXPECT_EQ(before, blob.data()) << "shrinking must keep the memory";
  EXPECT_EQ(7.0f, blob.data()[3]);
}

TEST(BlobTest, MemoryIsAlignedForAvx512) {
  Blob blob({3, 7});
  EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(blob.data()) % 64);
  EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(blob.diff()) % 64);
}

TEST(BlobTest, RefusesAbsurdShapesBeforeAllocating) {
  Blob blob;
  EXPECT_THROW(blob.Reshape({1000000, 1000000}), Error);
  EXPECT_THROW(blob.Reshape({-1, 3}), Error);
  EXPECT_THROW(blob.Reshape(std::vector<int64_t>(40, 1)), Error);
  EXPECT_THROW(blob.Reshape({int64_t{1} << 40, int64_t{1} << 40}), Error) << "overflowing product";
}

TEST(BlobTest, CanonicalAxisIndexChecksRange) {
  Blob blob({2, 3});
  EXPECT_EQ(1, blob.CanonicalAxisIndex(-1));
  EXPECT_THROW(blob.CanonicalAxisIndex(2), Error);
  EXPECT_THROW(blob.CanonicalAxisIndex(-3), Error);
}

TEST(BlobTest, ShareDataAndUpdate) {
  Blob a({3});
  Blob b({3});
  a.mutable_data()[0] = 1.0f;
  b.ShareData(a);
  EXPECT_EQ(1.0f, b.data()[0]);
  a.mutable_diff()[0] = 0.25f;
  a.Update();
  EXPECT_FLOAT_EQ(0.75f, b.data()[0]);
  Blob c({4});
  EXPECT_THROW(c.ShareData(a), Error);
}

TEST(BlobTest, ProtoRoundTrip) {
  Blob blob({2, 3});
  for (int64_t i = 0; i < blob.count(); ++i) blob.mutable_data()[i] = static_cast<float>(i) * 0.5f;
  BlobProto proto;
  blob.ToProto(&proto);
  Blob copy;
  copy.FromProto(proto);
  EXPECT_EQ(blob.shape(), copy.shape());
  for (int64_t i = 0; i < blob.count(); ++i) EXPECT_EQ(blob.data()[i], copy.data()[i]);
}

TEST(BlobTest, LegacyFourDimensionalShapeFitsFewerAxes) {
  // V1 caffemodels store a fully connected weight (N, K) as num=1, channels=1, height=N, width=K.
  BlobProto proto;
  proto.set_num(1);
  proto.set_channels(1);
  proto.set_height(2);
  proto.set_width(3);
  for (int i = 0; i < 6; ++i) proto.add_data(static_cast<float>(i));
  Blob weight({2, 3});
  EXPECT_TRUE(weight.ShapeEquals(proto));
  weight.FromProto(proto, false);
  EXPECT_EQ(5.0f, weight.data()[5]);
  Blob wrong({3, 2});
  EXPECT_FALSE(wrong.ShapeEquals(proto));
  EXPECT_THROW(wrong.FromProto(proto, false), Error);
}

TEST(BlobTest, DoubleDataIsRead) {
  BlobProto proto;
  proto.mutable_shape()->add_dim(2);
  proto.add_double_data(1.5);
  proto.add_double_data(-2.0);
  Blob blob;
  blob.FromProto(proto);
  EXPECT_EQ(1.5f, blob.data()[0]);
  EXPECT_EQ(-2.0f, blob.data()[1]);
}

TEST(BlobTest, ValueCountMustMatchShape) {
  BlobProto proto;
  proto.mutable_shape()->add_dim(4);
  proto.add_data(1.0f);
  Blob blob;
  EXPECT_THROW(blob.FromProto(proto), Error);
}

}  // namespace
}  // namespace condense
