// Input and DummyData: shapes given once or per top, legacy 4-d fields, constant and random fillers
// (constant tops filled once, the others on every Forward), and the count checks.
#include <gtest/gtest.h>

#include <vector>

#include "condense/core/error.hpp"
#include "layer_test_helpers.hpp"

namespace condense::testing {
namespace {

TEST(InputTest, OneShapeForAllTops) {
  Blob a, b;
  std::vector<Blob*> bottoms, tops = {&a, &b};
  auto layer = MakeLayer("type: 'Input' input_param { shape { dim: 2 dim: 3 } }");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(a.shape(), std::vector<int64_t>({2, 3}));
  EXPECT_EQ(b.shape(), std::vector<int64_t>({2, 3}));
}

TEST(InputTest, ShapePerTopAndCallerReshapes) {
  Blob a, b;
  std::vector<Blob*> bottoms, tops = {&a, &b};
  auto layer = MakeLayer(
      "type: 'Input' input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } shape { dim: 1 } }");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(a.shape(), std::vector<int64_t>({1, 3, 227, 227}));
  EXPECT_EQ(b.shape(), std::vector<int64_t>({1}));
  a.Reshape({4, 3, 10, 10});
  layer->Reshape(bottoms, tops);
  layer->Forward(bottoms, tops);
  EXPECT_EQ(a.shape(), std::vector<int64_t>({4, 3, 10, 10}));
}

TEST(InputTest, WrongShapeCountIsRefused) {
  Blob a, b, c;
  std::vector<Blob*> bottoms, tops = {&a, &b, &c};
  EXPECT_THROW(MakeLayer("type: 'Input' input_param { shape { dim: 1 } shape { dim: 2 } }")
                   ->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(
      MakeLayer("type: 'Input' input_param { shape { dim: 1 dim: -3 } }")->SetUp(bottoms, tops),
      Error);
}

TEST(DummyDataTest, ConstantZeroByDefault) {
  Blob a;
  std::vector<Blob*> bottoms, tops = {&a};
  auto layer = MakeLayer("type: 'DummyData' dummy_data_param { shape { dim: 2 dim: 3 dim: 4 } }");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(a.shape(), std::vector<int64_t>({2, 3, 4}));
  layer->Forward(bottoms, tops);
  EXPECT_EQ(a.asum_data(), 0.0f);
}

TEST(DummyDataTest, LegacyDimsAndFillerPerTop) {
  Blob a, b;
  std::vector<Blob*> bottoms, tops = {&a, &b};
  auto layer = MakeLayer(
      "type: 'DummyData' dummy_data_param { num: 5 channels: 3 channels: 1 height: 2 width: 4 "
      "data_filler { type: 'constant' value: 7 } data_filler { type: 'gaussian' std: 1 } }");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(a.shape(), std::vector<int64_t>({5, 3, 2, 4}));
  EXPECT_EQ(b.shape(), std::vector<int64_t>({5, 1, 2, 4}));
  for (int64_t i = 0; i < a.count(); ++i) EXPECT_EQ(a.data()[i], 7.0f);

  // The constant top is left alone by Forward; the random one is drawn again.
  a.mutable_data()[0] = -1.0f;
  layer->Forward(bottoms, tops);
  const auto first = Values(b);
  layer->Forward(bottoms, tops);
  EXPECT_NE(Values(b), first);
  EXPECT_EQ(a.data()[0], -1.0f);
}

TEST(DummyDataTest, OneRandomFillerForAllTops) {
  Blob a, b;
  std::vector<Blob*> bottoms, tops = {&a, &b};
  auto layer = MakeLayer(
      "type: 'DummyData' dummy_data_param { shape { dim: 3 } shape { dim: 4 } "
      "data_filler { type: 'uniform' min: 1 max: 2 } }");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  for (Blob* blob : tops) {
    for (int64_t i = 0; i < blob->count(); ++i) {
      EXPECT_GE(blob->data()[i], 1.0f);
      EXPECT_LE(blob->data()[i], 2.0f);
    }
  }
}

TEST(DummyDataTest, Errors) {
  Blob a, b, c;
  std::vector<Blob*> bottoms, tops = {&a, &b, &c};
  EXPECT_THROW(MakeLayer("type: 'DummyData' dummy_data_param { shape { dim: 1 } shape { dim: 2 } }")
                   ->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'DummyData' dummy_data_param { shape { dim: 1 } "
                         "data_filler { } data_filler { } }")
                   ->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'DummyData' dummy_data_param { shape { dim: 1 } num: 1 channels: 1 "
                         "height: 1 width: 1 }")
                   ->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'DummyData' dummy_data_param { num: 1 num: 2 channels: 1 height: 1 "
                         "width: 1 }")
                   ->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'DummyData'")->SetUp(bottoms, tops), Error);
}

}  // namespace
}  // namespace condense::testing
