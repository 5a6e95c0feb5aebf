// The per-plane kernels of the Pooling layer, exposed so that the tests can hold each fast path against
// its plain reference. Windows follow Caffe exactly: output (ph, pw) covers rows
// [ph * stride_h - pad_h, + kernel_h) clipped to the image, and an average divides by the window
// clipped to the padded image, not to the image. A maximum takes the first largest value in row-major
// order and records its flat index (h * width + w), or -1 when no value exceeds -FLT_MAX. The fast
// kernels cover the common windows without padding (2x2 and 3x3 with stride 2): hand-written AVX-512
// where the processor has it (chosen at run time), else compiler-vectorised loops (the Portable
// functions, also what other processors run); all give results bit-identical to the references.
#pragma once

#include <cstdint>

namespace condense {

struct PoolingGeometry {
  int64_t height = 0;
  int64_t width = 0;
  int64_t pooled_height = 0;
  int64_t pooled_width = 0;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  int64_t pad_h = 0;
  int64_t pad_w = 0;
};

void MaxPoolPlaneReference(const float* input, const PoolingGeometry& geometry, float* output,
                           int32_t* argmax);
void MaxPoolPlanePortable(const float* input, const PoolingGeometry& geometry, float* output,
                          int32_t* argmax);
void MaxPoolPlane(const float* input, const PoolingGeometry& geometry, float* output, int32_t* argmax);

void AvePoolPlaneReference(const float* input, const PoolingGeometry& geometry, float* output);
void AvePoolPlanePortable(const float* input, const PoolingGeometry& geometry, float* output);
void AvePoolPlane(const float* input, const PoolingGeometry& geometry, float* output);

// input_diff (zeroed here) receives each output gradient at its argmax.
void MaxPoolBackwardPlane(const float* output_diff, const int32_t* argmax,
                          const PoolingGeometry& geometry, float* input_diff);
// input_diff (zeroed here) receives each output gradient spread evenly over its window.
void AvePoolBackwardPlane(const float* output_diff, const PoolingGeometry& geometry, float* input_diff);

}  // namespace condense
