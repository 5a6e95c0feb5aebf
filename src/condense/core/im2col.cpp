#include "condense/core/im2col.hpp"

#include <algorithm>
#include <cstring>

#include <immintrin.h>

namespace condense {

namespace {

int64_t CeilDiv(int64_t numerator, int64_t denominator) {
  return (numerator + denominator - 1) / denominator;
}

// The output columns [begin, end) whose input column ow * stride + offset lies inside [0, size).
struct ValidRange {
  int64_t begin;
  int64_t end;
};

ValidRange ValidOutputRange(int64_t offset, int64_t stride, int64_t size, int64_t outputs) {
  int64_t begin = offset >= 0 ? 0 : CeilDiv(-offset, stride);
  int64_t end = size - offset <= 0 ? 0 : CeilDiv(size - offset, stride);
  begin = std::min(begin, outputs);
  end = std::clamp(end, begin, outputs);
  return {begin, end};
}

}  // namespace

int64_t ConvGeometry2d::output_height() const {
  return ConvOutputSize(height, kernel_h, pad_h, stride_h, dilation_h);
}

int64_t ConvGeometry2d::output_width() const {
  return ConvOutputSize(width, kernel_w, pad_w, stride_w, dilation_w);
}

namespace {

// A block of the column matrix: the rows of one (channel, kh, kw) whose input rows lie inside the
// image, `count` rows of out_w floats. With stride_w 1 row i reads input + i * input_stride +
// w_offset + ow for ow in `cols` and holds zeros elsewhere.
struct RowBlock {
  int64_t count;
  int64_t out_w;
  int64_t input_stride;
  int64_t w_offset;
  ValidRange cols;
};

// rows[i][ow] = input[i * input_stride + w_offset + ow] on `cols`, else 0.
using FillBlockFunction = void (*)(const RowBlock& block, const float* input, float* rows);

void FillBlockPortable(const RowBlock& b, const float* input, float* rows) {
  for (int64_t i = 0; i < b.count; ++i, rows += b.out_w, input += b.input_stride) {
    std::fill(rows, rows + b.cols.begin, 0.0f);
    std::memcpy(rows + b.cols.begin, input + b.cols.begin + b.w_offset,
                sizeof(float) * (b.cols.end - b.cols.begin));
    std::fill(rows + b.cols.end, rows + b.out_w, 0.0f);
  }
}

void AddBlockPortable(const RowBlock& b, const float* rows, float* image) {
  const int64_t length = b.cols.end - b.cols.begin;
  for (int64_t i = 0; i < b.count; ++i, rows += b.out_w, image += b.input_stride) {
    float* target = image + b.cols.begin + b.w_offset;
    const float* source = rows + b.cols.begin;
    for (int64_t j = 0; j < length; ++j) target[j] += source[j];
  }
}

// Small nets have rows of 8 to 32 floats, where the calls to memcpy and fill cost more than the copy:
// with AVX-512 such a row is one masked load and one masked store per 16 floats, the masks set up once
// per block.
#define CONDENSE_AVX512 __attribute__((target("avx512f")))

CONDENSE_AVX512 inline __mmask16 FirstLanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
                     : static_cast<__mmask16>((1u << std::max<int64_t>(count, 0)) - 1u);
}

CONDENSE_AVX512 void FillBlockAvx512(const RowBlock& b, const float* input, float* rows) {
  constexpr int64_t kMaxChunks = 4;  // rows up to 64 floats; wider ones are cheap enough for memcpy
  const int64_t chunks = (b.out_w + 15) / 16;
  if (chunks > kMaxChunks) {
    FillBlockPortable(b, input, rows);
    return;
  }
  __mmask16 inside[kMaxChunks];
  __mmask16 stored[kMaxChunks];
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t first = chunk * 16;
    inside[chunk] = FirstLanes(b.cols.end - first) & ~FirstLanes(b.cols.begin - first);
    stored[chunk] = FirstLanes(b.out_w - first);
  }
  for (int64_t i = 0; i < b.count; ++i, rows += b.out_w, input += b.input_stride) {
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      // Masked-off lanes are not read, so the address may lie before the input row.
      const __m512 values = _mm512_maskz_loadu_ps(inside[chunk], input + chunk * 16 + b.w_offset);
      _mm512_mask_storeu_ps(rows + chunk * 16, stored[chunk], values);
    }
  }
}

// col2im with stride_w 1 by image rows: each row of an image channel gathers the kernel_w shifted
// column rows that land on it in registers and is stored once per kernel row, instead of once per
// kernel column (those stores would feed the next column's loads of the same floats, which stalls).
// The sums run in the order of the plain version: kernel row, then kernel column. Handles rows of up
// to 64 floats and kernels up to 16 wide (false otherwise, leaving `image` alone).
CONDENSE_AVX512 bool Col2ImStride1Avx512(const float* columns, const ConvGeometry2d& g,
                                         float* image) {
  constexpr int64_t kMaxChunks = 4;
  constexpr int64_t kMaxKernelWidth = 16;
  const int64_t chunks = (g.width + 15) / 16;
  if (g.stride_w != 1 || chunks > kMaxChunks || g.kernel_w > kMaxKernelWidth) return false;
  const int64_t out_h = g.output_height();
  const int64_t out_w = g.output_width();
  // Image column x + i of chunk x takes column entry x + i - w_offset where that lies in cols.
  __mmask16 inside[kMaxKernelWidth][kMaxChunks];
  int64_t w_offsets[kMaxKernelWidth];
  for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
    w_offsets[kw] = kw * g.dilation_w - g.pad_w;
    const ValidRange cols = ValidOutputRange(w_offsets[kw], 1, g.width, out_w);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t first = chunk * 16 - w_offsets[kw];
      inside[kw][chunk] = FirstLanes(cols.end - first) & ~FirstLanes(cols.begin - first);
    }
  }
  const __m512 negative_zero = _mm512_set1_ps(-0.0f);  // x + -0.0f == x for every x
  const int64_t block = out_h * out_w;                  // floats per (channel, kh, kw)
  std::memset(image, 0, sizeof(float) * g.channels * g.height * g.width);
  for (int64_t c = 0; c < g.channels; ++c) {
    float* channel = image + c * g.height * g.width;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h_offset = kh * g.dilation_h - g.pad_h;
      const ValidRange rows = ValidOutputRange(h_offset, g.stride_h, g.height, out_h);
      const float* kernel_row = columns + (c * g.kernel_h + kh) * g.kernel_w * block;
      for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
        float* image_row = channel + (oh * g.stride_h + h_offset) * g.width;
        const float* column_row = kernel_row + oh * out_w;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) {
          const int64_t x = chunk * 16;
          const __mmask16 row_lanes = FirstLanes(g.width - x);
          __m512 sum = _mm512_maskz_loadu_ps(row_lanes, image_row + x);
          for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const float* source = column_row + kw * block + x - w_offsets[kw];
            sum = _mm512_add_ps(sum, _mm512_mask_loadu_ps(negative_zero, inside[kw][chunk], source));
          }
          _mm512_mask_storeu_ps(image_row + x, row_lanes, sum);
        }
      }
    }
  }
  return true;
}

#undef CONDENSE_AVX512

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") != 0;
  return has;
}

// Visits the column matrix block by block: visit(block, rows of the block that read the image,
// first of those rows' input row within the channel, channel index, rows above and below that lie in
// the padding).
template <typename Visit>
void ForEachBlock(const ConvGeometry2d& g, Visit visit) {
  const int64_t out_h = g.output_height();
  const int64_t out_w = g.output_width();
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h_offset = kh * g.dilation_h - g.pad_h;
      const ValidRange rows = ValidOutputRange(h_offset, g.stride_h, g.height, out_h);
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        RowBlock block;
        block.count = rows.end - rows.begin;
        block.out_w = out_w;
        block.input_stride = g.stride_h * g.width;
        block.w_offset = kw * g.dilation_w - g.pad_w;
        block.cols = ValidOutputRange(block.w_offset, g.stride_w, g.width, out_w);
        const int64_t block_index = (c * g.kernel_h + kh) * g.kernel_w + kw;
        const int64_t first_input = c * g.height * g.width +
                                    (rows.begin * g.stride_h + h_offset) * g.width;
        visit(block, block_index * out_h * out_w, rows, first_input);
      }
    }
  }
}

void Im2ColWith(FillBlockFunction fill_block, const float* image, const ConvGeometry2d& g,
                float* columns) {
  const int64_t out_h = g.output_height();
  const int64_t out_w = g.output_width();
  ForEachBlock(g, [&](const RowBlock& b, int64_t offset, ValidRange rows, int64_t first_input) {
    float* block = columns + offset;
    std::memset(block, 0, sizeof(float) * rows.begin * out_w);
    std::memset(block + rows.end * out_w, 0, sizeof(float) * (out_h - rows.end) * out_w);
    float* first_row = block + rows.begin * out_w;
    if (b.count == 0) return;
    if (g.stride_w == 1) {
      fill_block(b, image + first_input, first_row);
      return;
    }
    const float* input = image + first_input;
    for (int64_t i = 0; i < b.count; ++i, first_row += out_w, input += b.input_stride) {
      std::fill(first_row, first_row + b.cols.begin, 0.0f);
      for (int64_t ow = b.cols.begin; ow < b.cols.end; ++ow) {
        first_row[ow] = input[ow * g.stride_w + b.w_offset];
      }
      std::fill(first_row + b.cols.end, first_row + out_w, 0.0f);
    }
  });
}

void Col2ImPortableBlocks(const float* columns, const ConvGeometry2d& g, float* image) {
  const int64_t out_w = g.output_width();
  std::memset(image, 0, sizeof(float) * g.channels * g.height * g.width);
  ForEachBlock(g, [&](const RowBlock& b, int64_t offset, ValidRange rows, int64_t first_input) {
    if (b.count == 0) return;
    const float* first_row = columns + offset + rows.begin * out_w;
    if (g.stride_w == 1) {
      AddBlockPortable(b, first_row, image + first_input);
      return;
    }
    float* target = image + first_input;
    for (int64_t i = 0; i < b.count; ++i, first_row += out_w, target += b.input_stride) {
      for (int64_t ow = b.cols.begin; ow < b.cols.end; ++ow) {
        target[ow * g.stride_w + b.w_offset] += first_row[ow];
      }
    }
  });
}

}  // namespace

void Im2Col(const float* image, const ConvGeometry2d& geometry, float* columns) {
  Im2ColWith(HasAvx512() ? FillBlockAvx512 : FillBlockPortable, image, geometry, columns);
}

void Im2ColPortable(const float* image, const ConvGeometry2d& geometry, float* columns) {
  Im2ColWith(FillBlockPortable, image, geometry, columns);
}

void Col2Im(const float* columns, const ConvGeometry2d& geometry, float* image) {
  if (HasAvx512() && Col2ImStride1Avx512(columns, geometry, image)) return;
  Col2ImPortableBlocks(columns, geometry, image);
}

void Col2ImPortable(const float* columns, const ConvGeometry2d& geometry, float* image) {
  Col2ImPortableBlocks(columns, geometry, image);
}

std::vector<int64_t> ConvGeometryNd::output_shape() const {
  std::vector<int64_t> shape(input_shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    shape[i] = ConvOutputSize(input_shape[i], kernel[i], pad[i], stride[i], dilation[i]);
  }
  return shape;
}

int64_t ConvGeometryNd::column_rows() const {
  int64_t rows = channels;
  for (int64_t k : kernel) rows *= k;
  return rows;
}

int64_t ConvGeometryNd::column_cols() const {
  int64_t cols = 1;
  for (int64_t size : output_shape()) cols *= size;
  return cols;
}

namespace {

// Advances a multi-index over `extent` (last axis fastest); false after the last position.
bool NextIndex(const std::vector<int64_t>& extent, std::vector<int64_t>* index) {
  for (size_t axis = extent.size(); axis-- > 0;) {
    if (++(*index)[axis] < extent[axis]) return true;
    (*index)[axis] = 0;
  }
  return false;
}

// Visits every (column entry, image pixel) pair of an N-d im2col in column order; the pixel offset is
// -1 where the window lies over the padding.
template <typename Visit>
void ForEachColumnEntry(const ConvGeometryNd& g, Visit visit) {
  const size_t axes = g.input_shape.size();
  const std::vector<int64_t> output = g.output_shape();
  int64_t plane = 1;
  for (int64_t size : g.input_shape) plane *= size;
  int64_t entry = 0;
  for (int64_t c = 0; c < g.channels; ++c) {
    std::vector<int64_t> kernel_index(axes, 0);
    do {
      std::vector<int64_t> output_index(axes, 0);
      do {
        int64_t pixel = 0;
        bool inside = true;
        for (size_t axis = 0; axis < axes; ++axis) {
          const int64_t position = output_index[axis] * g.stride[axis] - g.pad[axis] +
                                   kernel_index[axis] * g.dilation[axis];
          inside = inside && position >= 0 && position < g.input_shape[axis];
          pixel = pixel * g.input_shape[axis] + position;
        }
        visit(entry++, inside ? c * plane + pixel : -1);
      } while (NextIndex(output, &output_index));
    } while (NextIndex(g.kernel, &kernel_index));
  }
}

}  // namespace

void Im2ColNd(const float* image, const ConvGeometryNd& geometry, float* columns) {
  ForEachColumnEntry(geometry, [&](int64_t entry, int64_t pixel) {
    columns[entry] = pixel >= 0 ? image[pixel] : 0.0f;
  });
}

void Col2ImNd(const float* columns, const ConvGeometryNd& geometry, float* image) {
  int64_t image_count = geometry.channels;
  for (int64_t size : geometry.input_shape) image_count *= size;
  std::memset(image, 0, sizeof(float) * image_count);
  ForEachColumnEntry(geometry, [&](int64_t entry, int64_t pixel) {
    if (pixel >= 0) image[pixel] += columns[entry];
  });
}

}  // namespace condense
