// The layers that move values without arithmetic: Concat, Slice, Split, Flatten, Reshape, Silence.
// Shapes (with the deprecated axis fields), values, gradients and the shared-memory pass-throughs.
#include <gtest/gtest.h>

#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "layer_test_helpers.hpp"
#include "support/gradient_checker.hpp"

namespace condense::testing {
namespace {

class ConcatTest : public ::testing::Test {
 protected:
  ConcatTest() : a_({2, 3, 2, 3}), b_({2, 5, 2, 3}), c_({2, 3, 2, 3}) {
    FillGaussianBlob(&a_, 1.0f, 1);
    FillGaussianBlob(&b_, 1.0f, 2);
    FillGaussianBlob(&c_, 1.0f, 3);
  }
  Blob a_, b_, c_, top_, a_copy_;
};

TEST_F(ConcatTest, ChannelsByDefault) {
  std::vector<Blob*> bottoms = {&a_, &b_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Concat'");
  layer->SetUp(bottoms, tops);
  ASSERT_EQ(top_.shape(), std::vector<int64_t>({2, 8, 2, 3}));
  layer->Forward(bottoms, tops);
  for (int n = 0; n < 2; ++n) {
    for (int c = 0; c < 8; ++c) {
      for (int h = 0; h < 2; ++h) {
        for (int w = 0; w < 3; ++w) {
          const float expected =
              c < 3 ? a_.data()[a_.offset(n, c, h, w)] : b_.data()[b_.offset(n, c - 3, h, w)];
          EXPECT_EQ(top_.data()[top_.offset(n, c, h, w)], expected);
        }
      }
    }
  }
}

TEST_F(ConcatTest, AxisZeroAndConcatDim) {
  std::vector<Blob*> bottoms = {&a_, &c_}, tops = {&top_};
  MakeLayer("type: 'Concat' concat_param { axis: 0 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top_.shape(), std::vector<int64_t>({4, 3, 2, 3}));
  MakeLayer("type: 'Concat' concat_param { concat_dim: 0 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top_.shape(), std::vector<int64_t>({4, 3, 2, 3}));
  MakeLayer("type: 'Concat' concat_param { axis: -1 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top_.shape(), std::vector<int64_t>({2, 3, 2, 6}));
}

TEST_F(ConcatTest, Errors) {
  std::vector<Blob*> bottoms = {&a_, &b_}, tops = {&top_};
  EXPECT_THROW(MakeLayer("type: 'Concat' concat_param { axis: 0 }")->SetUp(bottoms, tops), Error);
  EXPECT_THROW(
      MakeLayer("type: 'Concat' concat_param { axis: 1 concat_dim: 1 }")->SetUp(bottoms, tops),
      Error);
  EXPECT_THROW(MakeLayer("type: 'Concat' concat_param { concat_dim: 4 }")->SetUp(bottoms, tops),
               Error);
}

TEST_F(ConcatTest, SingleBottomSharesMemory) {
  std::vector<Blob*> bottoms = {&a_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Concat'");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  EXPECT_TRUE(top_.SharesDataWith(a_));
}

TEST_F(ConcatTest, Gradient) {
  std::vector<Blob*> bottoms = {&a_, &b_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Concat'");
  GradientChecker(1e-2f, 1e-2f).CheckGradient(layer.get(), bottoms, tops);
  std::vector<Blob*> three = {&a_, &c_, &a_copy_};
  a_copy_.CopyFrom(a_, false, true);
  auto along_width = MakeLayer("type: 'Concat' concat_param { axis: 3 }");
  GradientChecker(1e-2f, 1e-2f).CheckGradient(along_width.get(), three, tops);
}

class SliceTest : public ::testing::Test {
 protected:
  SliceTest() : bottom_({6, 12, 2, 3}) { FillGaussianBlob(&bottom_); }
  Blob bottom_, t0_, t1_, t2_, t0_copy_, t1_copy_;
};

TEST_F(SliceTest, EqualPartsAlongChannels) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&t0_, &t1_, &t2_};
  auto layer = MakeLayer("type: 'Slice'");
  layer->SetUp(bottoms, tops);
  for (Blob* top : tops) EXPECT_EQ(top->shape(), std::vector<int64_t>({6, 4, 2, 3}));
  layer->Forward(bottoms, tops);
  for (int n = 0; n < 6; ++n) {
    for (int c = 0; c < 12; ++c) {
      const Blob& top = *tops[c / 4];
      EXPECT_EQ(top.data()[top.offset(n, c % 4, 1, 2)], bottom_.data()[bottom_.offset(n, c, 1, 2)]);
    }
  }
}

TEST_F(SliceTest, SlicePointsAndSliceDim) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&t0_, &t1_, &t2_};
  MakeLayer("type: 'Slice' slice_param { axis: 0 slice_point: 1 slice_point: 4 }")
      ->SetUp(bottoms, tops);
  EXPECT_EQ(t0_.shape(0), 1);
  EXPECT_EQ(t1_.shape(0), 3);
  EXPECT_EQ(t2_.shape(0), 2);
  MakeLayer("type: 'Slice' slice_param { slice_dim: 0 slice_point: 2 slice_point: 3 }")
      ->SetUp(bottoms, tops);
  EXPECT_EQ(t0_.shape(0), 2);
  EXPECT_EQ(t1_.shape(0), 1);
  EXPECT_EQ(t2_.shape(0), 3);
}

TEST_F(SliceTest, Errors) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&t0_, &t1_, &t2_};
  std::vector<Blob*> five_tops = {&t0_, &t1_, &t2_, &t0_copy_, &t1_copy_};
  EXPECT_THROW(MakeLayer("type: 'Slice'")->SetUp(bottoms, five_tops), Error);
  EXPECT_THROW(MakeLayer("type: 'Slice' slice_param { slice_point: 3 }")->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'Slice' slice_param { slice_point: 5 slice_point: 3 }")
                   ->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'Slice' slice_param { slice_point: 3 slice_point: 12 }")
                   ->SetUp(bottoms, tops),
               Error);
}

TEST_F(SliceTest, Gradient) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&t0_, &t1_, &t2_};
  Blob small({2, 5, 2, 3});
  FillGaussianBlob(&small);
  bottoms = {&small};
  auto layer = MakeLayer("type: 'Slice' slice_param { slice_point: 1 slice_point: 3 }");
  GradientChecker(1e-2f, 1e-2f).CheckGradientExhaustive(layer.get(), bottoms, tops);
}

TEST(SplitTest, TopsShareValuesAndGradientsAdd) {
  Blob bottom({2, 3, 4}), a, b, c;
  FillGaussianBlob(&bottom);
  std::vector<Blob*> bottoms = {&bottom}, tops = {&a, &b, &c};
  auto layer = MakeLayer("type: 'Split'");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  for (Blob* top : tops) {
    EXPECT_EQ(top->shape(), bottom.shape());
    EXPECT_EQ(Values(*top), Values(bottom));
  }
  FillGaussianBlob(&a, 1.0f, 2);
  Copy(a.count(), a.data(), a.mutable_diff());
  b.SetDiff(1.0f);
  c.SetDiff(-0.5f);
  layer->Backward(tops, {true}, bottoms);
  for (int64_t i = 0; i < bottom.count(); ++i) {
    EXPECT_NEAR(bottom.diff()[i], a.diff()[i] + 0.5f, 1e-6f);
  }
}

TEST(SplitTest, Gradient) {
  Blob bottom({2, 3, 2}), a, b;
  FillGaussianBlob(&bottom);
  std::vector<Blob*> bottoms = {&bottom}, tops = {&a, &b};
  auto layer = MakeLayer("type: 'Split'");
  GradientChecker(1e-2f, 1e-2f).CheckGradient(layer.get(), bottoms, tops);
}

TEST(FlattenTest, ShapesAndSharing) {
  Blob bottom({2, 3, 6, 5}), top;
  FillGaussianBlob(&bottom);
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Flatten'");
  layer->SetUp(bottoms, tops);
  EXPECT_EQ(top.shape(), std::vector<int64_t>({2, 90}));
  layer->Forward(bottoms, tops);
  EXPECT_EQ(Values(top), Values(bottom));
  MakeLayer("type: 'Flatten' flatten_param { axis: 2 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top.shape(), std::vector<int64_t>({2, 3, 30}));
  MakeLayer("type: 'Flatten' flatten_param { axis: 0 end_axis: 1 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top.shape(), std::vector<int64_t>({6, 6, 5}));
  MakeLayer("type: 'Flatten' flatten_param { end_axis: -2 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top.shape(), std::vector<int64_t>({2, 18, 5}));
  EXPECT_THROW(MakeLayer("type: 'Flatten'")->SetUp(bottoms, bottoms), Error);
}

TEST(FlattenTest, Gradient) {
  Blob bottom({2, 3, 2, 2}), top;
  FillGaussianBlob(&bottom);
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  auto layer = MakeLayer("type: 'Flatten'");
  GradientChecker(1e-2f, 1e-2f).CheckGradientEltwise(layer.get(), bottoms, tops);
}

class ReshapeTest : public ::testing::Test {
 protected:
  ReshapeTest() : bottom_({2, 3, 6, 5}) { FillGaussianBlob(&bottom_); }
  std::vector<int64_t> Shape(const std::string& reshape_param) {
    std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
    MakeLayer("type: 'Reshape' reshape_param { " + reshape_param + " }")->SetUp(bottoms, tops);
    return top_.shape();
  }
  void ExpectRefused(const std::string& reshape_param) {
    std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
    EXPECT_THROW(
        MakeLayer("type: 'Reshape' reshape_param { " + reshape_param + " }")->SetUp(bottoms, tops),
        Error)
        << reshape_param;
  }
  Blob bottom_, top_;
};

TEST_F(ReshapeTest, ExplicitCopyAndInferredDims) {
  EXPECT_EQ(Shape("shape { dim: 6 dim: 2 dim: 15 }"), std::vector<int64_t>({6, 2, 15}));
  EXPECT_EQ(Shape("shape { dim: 0 dim: -1 }"), std::vector<int64_t>({2, 90}));
  EXPECT_EQ(Shape("shape { dim: 0 dim: 0 dim: -1 dim: 2 }"), std::vector<int64_t>({2, 3, 15, 2}));
  EXPECT_EQ(Shape("shape { dim: -1 }"), std::vector<int64_t>({180}));
}

TEST_F(ReshapeTest, AxisAndNumAxes) {
  EXPECT_EQ(Shape("axis: 1 num_axes: 1 shape { dim: 1 dim: 3 dim: 1 }"),
            std::vector<int64_t>({2, 1, 3, 1, 6, 5}));
  EXPECT_EQ(Shape("axis: 2 shape { dim: -1 }"), std::vector<int64_t>({2, 3, 30}));
  EXPECT_EQ(Shape("axis: -1 shape { dim: 1 }"), std::vector<int64_t>({2, 3, 6, 5, 1}));
  EXPECT_EQ(Shape("axis: 0 num_axes: 0 shape { dim: 1 }"), std::vector<int64_t>({1, 2, 3, 6, 5}));
  EXPECT_EQ(Shape("axis: 1 num_axes: 2 shape { dim: 0 dim: -1 }"),
            std::vector<int64_t>({2, 3, 6, 5}));
}

TEST_F(ReshapeTest, Errors) {
  ExpectRefused("shape { dim: -1 dim: -1 }");
  ExpectRefused("shape { dim: 7 dim: -1 }");
  ExpectRefused("shape { dim: 2 dim: 3 }");
  ExpectRefused("shape { dim: 0 dim: 0 dim: 0 dim: 0 dim: 0 }");
  ExpectRefused("shape { dim: -2 dim: -90 }");
  ExpectRefused("axis: 5 shape { dim: 1 }");
  ExpectRefused("axis: 3 num_axes: 2 shape { dim: 1 }");
}

TEST_F(ReshapeTest, SharesMemoryBothWays) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  auto layer = MakeLayer("type: 'Reshape' reshape_param { shape { dim: 0 dim: -1 } }");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  EXPECT_EQ(Values(top_), Values(bottom_));
  top_.SetDiff(2.0f);
  layer->Backward(tops, {true}, bottoms);
  EXPECT_EQ(bottom_.diff()[17], 2.0f);
}

TEST(SilenceTest, ZeroesGradients) {
  Blob a({3, 2}), b({4});
  a.SetDiff(5.0f);
  b.SetDiff(5.0f);
  std::vector<Blob*> bottoms = {&a, &b}, tops;
  auto layer = MakeLayer("type: 'Silence'");
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  layer->Backward(tops, {true, false}, bottoms);
  EXPECT_EQ(a.asum_diff(), 0.0f);
  EXPECT_EQ(b.diff()[0], 5.0f);
}

}  // namespace
}  // namespace condense::testing
