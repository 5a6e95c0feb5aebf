// im2col and col2im: the rearrangement that turns a convolution into one matrix product. Im2Col copies
// every receptive field of one image into a column of a (channels * kernel positions) x (output
// positions) matrix, reading zeros where the field hangs over the padding; Col2Im is its adjoint and sums
// each column entry back onto the pixel it came from. The 2-d versions work a whole output row at a time
// (one bounds computation per row) and are the ones convolutions use: with AVX-512 (chosen at run time)
// a row of stride 1 is one masked load and store per 16 floats, elsewhere the Portable versions copy
// it. The N-d versions are plain loops that serve other spatial ranks and are the reference the 2-d
// ones are tested against; all give bit-identical results.
#pragma once

#include <cstdint>
#include <vector>

namespace condense {

// A 2-d convolution window over one image of `channels` planes of height x width.
struct ConvGeometry2d {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t pad_h = 0;
  int64_t pad_w = 0;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  int64_t dilation_h = 1;
  int64_t dilation_w = 1;

  // Output size as Caffe computes it: (in + 2p - (d(k-1)+1)) / s + 1, rounded down.
  int64_t output_height() const;
  int64_t output_width() const;
  int64_t column_rows() const { return channels * kernel_h * kernel_w; }
  int64_t column_cols() const { return output_height() * output_width(); }
};

// columns: column_rows() x column_cols(), row-major; row (c, kh, kw), column (oh, ow).
void Im2Col(const float* image, const ConvGeometry2d& geometry, float* columns);
// Overwrites `image` with the sum of the column entries that each pixel contributed to.
void Col2Im(const float* columns, const ConvGeometry2d& geometry, float* image);
// The same without AVX-512: what other processors run.
void Im2ColPortable(const float* image, const ConvGeometry2d& geometry, float* columns);
void Col2ImPortable(const float* columns, const ConvGeometry2d& geometry, float* image);

// The same window over any number of spatial axes.
struct ConvGeometryNd {
  int64_t channels = 0;
  std::vector<int64_t> input_shape;  // spatial axes only
  std::vector<int64_t> kernel;
  std::vector<int64_t> pad;
  std::vector<int64_t> stride;
  std::vector<int64_t> dilation;

  std::vector<int64_t> output_shape() const;
  int64_t column_rows() const;
  int64_t column_cols() const;
};

void Im2ColNd(const float* image, const ConvGeometryNd& geometry, float* columns);
void Col2ImNd(const float* columns, const ConvGeometryNd& geometry, float* image);

// Caffe's convolution output size along one axis.
inline int64_t ConvOutputSize(int64_t input, int64_t kernel, int64_t pad, int64_t stride,
                              int64_t dilation) {
  return (input + 2 * pad - (dilation * (kernel - 1) + 1)) / stride + 1;
}

}  // namespace condense
