// im2col / col2im: a hand-computed case, the 2-d row kernels against the plain N-d loops on many
// geometries (bit for bit), and col2im as the adjoint of im2col.
#include "condense/core/im2col.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "condense/core/random.hpp"

namespace condense {
namespace {

ConvGeometryNd AsNd(const ConvGeometry2d& g) {
  ConvGeometryNd nd;
  nd.channels = g.channels;
  nd.input_shape = {g.height, g.width};
  nd.kernel = {g.kernel_h, g.kernel_w};
  nd.pad = {g.pad_h, g.pad_w};
  nd.stride = {g.stride_h, g.stride_w};
  nd.dilation = {g.dilation_h, g.dilation_w};
  return nd;
}

std::vector<float> RandomValues(int64_t n) {
  std::vector<float> values(n);
  FillUniform(n, -1.0f, 1.0f, values.data());
  return values;
}

TEST(Im2ColTest, HandComputedThreeByThreeWithPadding) {
  // One 3x3 channel, 2x2 kernel, pad 1, stride 2: a 2x2 output whose windows start at -1 and 1.
  const std::vector<float> image = {1, 2, 3,
                                    4, 5, 6,
                                    7, 8, 9};
  ConvGeometry2d g;
  g.channels = 1;
  g.height = g.width = 3;
  g.kernel_h = g.kernel_w = 2;
  g.pad_h = g.pad_w = 1;
  g.stride_h = g.stride_w = 2;
  ASSERT_EQ(2, g.output_height());
  ASSERT_EQ(2, g.output_width());
  std::vector<float> columns(g.column_rows() * g.column_cols(), -7.0f);
  Im2Col(image.data(), g, columns.data());
  // Rows are kernel positions (0,0) (0,1) (1,0) (1,1); columns the outputs in row-major order.
  const std::vector<float> expected = {0, 0, 0, 5,
                                       0, 0, 4, 6,
                                       0, 2, 0, 8,
                                       1, 3, 7, 9};
  EXPECT_EQ(expected, columns);

  std::vector<float> back(9, -7.0f);
  Col2Im(columns.data(), g, back.data());
  // Every pixel lies in exactly one window here, so col2im gives the image back.
  EXPECT_EQ(image, back);
}

using Im2ColFunction = void (*)(const float*, const ConvGeometry2d&, float*);
using Col2ImFunction = void (*)(const float*, const ConvGeometry2d&, float*);

// Checks one 2-d pair of kernels against the N-d loops, bit for bit, over pads, strides, dilations
// and widths that need one or several 16-float chunks per row.
void ExpectMatchesNd(Im2ColFunction im2col, Col2ImFunction col2im, const char* name) {
  SeedRandom(7);
  int checked = 0;
  for (int64_t width : {6, 37}) {
    for (int64_t kernel : {1, 2, 3, 5}) {
      for (int64_t pad : {0, 1, 2}) {
        for (int64_t stride : {1, 2, 3}) {
          for (int64_t dilation : {1, 2}) {
            ConvGeometry2d g;
            g.channels = 2;
            g.height = 7;
            g.width = width;
            g.kernel_h = kernel;
            g.kernel_w = kernel == 1 ? 2 : kernel - 1;
            g.pad_h = pad;
            g.pad_w = pad == 0 ? 1 : pad - 1;
            g.stride_h = stride;
            g.stride_w = stride == 1 ? 2 : 1;
            g.dilation_h = dilation;
            g.dilation_w = 3 - dilation;
            if (g.output_height() <= 0 || g.output_width() <= 0) continue;
            const std::vector<float> image = RandomValues(g.channels * g.height * g.width);
            const int64_t count = g.column_rows() * g.column_cols();
            std::vector<float> fast(count, 99.0f);
            std::vector<float> reference(count, -99.0f);
            im2col(image.data(), g, fast.data());
            Im2ColNd(image.data(), AsNd(g), reference.data());
            ASSERT_EQ(0, std::memcmp(fast.data(), reference.data(), sizeof(float) * count))
                << name << " im2col width " << width << " kernel " << kernel << " pad " << pad
                << " stride " << stride << " dilation " << dilation;

            const std::vector<float> columns = RandomValues(count);
            std::vector<float> fast_image(image.size(), 99.0f);
            std::vector<float> reference_image(image.size(), -99.0f);
            col2im(columns.data(), g, fast_image.data());
            Col2ImNd(columns.data(), AsNd(g), reference_image.data());
            ASSERT_EQ(0, std::memcmp(fast_image.data(), reference_image.data(),
                                     sizeof(float) * image.size()))
                << name << " col2im width " << width << " kernel " << kernel << " pad " << pad
                << " stride " << stride << " dilation " << dilation;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(Im2ColTest, TwoDimensionalMatchesNdOnManyGeometries) {
  ExpectMatchesNd(Im2Col, Col2Im, "dispatched");
  ExpectMatchesNd(Im2ColPortable, Col2ImPortable, "portable");
}

TEST(Im2ColTest, KernelWiderThanImageReadsOnlyPadding) {
  ConvGeometry2d g;
  g.channels = 1;
  g.height = 2;
  g.width = 2;
  g.kernel_h = g.kernel_w = 5;
  g.pad_h = g.pad_w = 2;
  const std::vector<float> image = {1, 2, 3, 4};
  std::vector<float> fast(g.column_rows() * g.column_cols());
  std::vector<float> reference(fast.size());
  Im2Col(image.data(), g, fast.data());
  Im2ColNd(image.data(), AsNd(g), reference.data());
  EXPECT_EQ(reference, fast);
}

TEST(Im2ColTest, Col2ImIsTheAdjointOfIm2ColIn3d) {
  SeedRandom(11);
  ConvGeometryNd g;
  g.channels = 2;
  g.input_shape = {4, 5, 3};
  g.kernel = {2, 3, 2};
  g.pad = {1, 0, 1};
  g.stride = {1, 2, 1};
  g.dilation = {2, 1, 1};
  const std::vector<float> image = RandomValues(2 * 4 * 5 * 3);
  const std::vector<float> other = RandomValues(g.column_rows() * g.column_cols());
  std::vector<float> columns(other.size());
  std::vector<float> back(image.size());
  Im2ColNd(image.data(), g, columns.data());
  Col2ImNd(other.data(), g, back.data());
  double lhs = 0.0;
  double rhs = 0.0;
  for (size_t i = 0; i < columns.size(); ++i) lhs += double{columns[i]} * other[i];
  for (size_t i = 0; i < image.size(); ++i) rhs += double{image[i]} * back[i];
  EXPECT_NEAR(lhs, rhs, 1e-4);
}

TEST(Im2ColTest, OutputSizeFollowsCaffe) {
  EXPECT_EQ(24, ConvOutputSize(28, 5, 0, 1, 1));
  EXPECT_EQ(32, ConvOutputSize(32, 5, 2, 1, 1));
  EXPECT_EQ(2, ConvOutputSize(6, 3, 0, 2, 1));
  EXPECT_EQ(3, ConvOutputSize(7, 3, 0, 1, 2));  // dilated extent 5
  EXPECT_EQ(55, ConvOutputSize(227, 11, 0, 4, 1));
}

}  // namespace
}  // namespace condense
