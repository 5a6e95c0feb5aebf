// ConvolutionBase: what Convolution and Deconvolution share, as in Caffe's BaseConvolutionLayer. It reads
// convolution_param (kernel, pad, stride, dilation, group, bias, axis, fillers), creates the weight blob
// (conv_out, conv_in / group, kernel...) and the bias blob (num_output), shapes the tops, and offers the
// per-image arithmetic of one forward convolution: im2col, the grouped matrix products, col2im and the
// bias. Both layers are described in the terms of that forward convolution: its input is the bottom of
// a Convolution and the top of a Deconvolution, its output the other one. The batch is spread over the
// threads of parallel.hpp, each thread with its own column buffer; gradients with respect to the
// parameters are summed per thread and added up in thread order, so results depend only on the thread
// count. Where the CPU has AVX-512 the matrix products run in the layer's own 512-bit kernel rather
// than OpenBLAS, which is held to its AVX2 code here. A Convolution whose quantization_param sets
// accumulator_bits computes its forward on integer codes instead (integer_accumulator.hpp), with the
// reduction in im2col order: input channel, kernel row, kernel column.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/im2col.hpp"
#include "condense/net/layer.hpp"
#include "condense/quant/tensor_format.hpp"

namespace condense {

struct AccumulatorSpec;

class ConvolutionBase : public Layer {
 public:
  using Layer::Layer;

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;
  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;

  int MinBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }
  bool EqualNumBottomTopBlobs() const override { return true; }
  // Deconvolution's weights are (input channels, outputs / group, kernel...), as Caffe stores them.
  int WeightOutputAxis() const override { return reverse_dimensions() ? 1 : 0; }

 protected:
  // True for Deconvolution: the top is the input of the underlying convolution.
  virtual bool reverse_dimensions() const = 0;
  // One image's top (without the bias) from its bottom.
  virtual void ForwardImage(const float* bottom, float* top, float* columns) const = 0;
  // One image's gradients: weight_diff += dL/dW, bottom_diff = dL/dbottom; either may be null (not
  // wanted).
  virtual void BackwardImage(const float* top_diff, const float* bottom, float* bottom_diff,
                             float* weight_diff, float* columns) const = 0;

  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) final;
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) final;

  // im2col of one conv-input image into `columns`, or the image itself for a 1x1 convolution.
  const float* InputColumns(const float* input, float* columns) const;
  // output = W * columns, group by group.
  void WeightsTimesColumns(const float* columns, float* output) const;
  // input = col2im(W^T * output): the gradient of a convolution w.r.t. its input, or a deconvolution.
  void BackwardDataImage(const float* output, float* input, float* columns) const;
  // weight_diff += output * columns^T, group by group.
  void AccumulateWeightGradient(const float* output, const float* columns, float* weight_diff) const;

 private:
  struct ThreadScratch {
    std::unique_ptr<AlignedBuffer> columns;
    std::unique_ptr<AlignedBuffer> weight_diff;
    std::unique_ptr<AlignedBuffer> bias_diff;
    bool used = false;
  };

  void ReadGeometry(const std::vector<Blob*>& bottom);
  // The forward on integer codes with a saturating accumulator (a forward convolution only).
  void ForwardInteger(const AccumulatorSpec& spec, const std::vector<Blob*>& bottom,
                      const std::vector<Blob*>& top);
  // Adds the bias to one image's outputs and, where the quantization wrapper lets the layer do it
  // (output_format not null), quantizes them in the same pass; returns the values that saturated.
  int64_t FinishOutputImage(float* top_image, const TensorFormat* output_format) const;
  void AccumulateBiasGradient(const float* top_diff_image, float* bias_diff) const;
  // Runs body(image, columns) for every image of the batch, spread over the threads.
  void ForEachImage(const std::function<void(int64_t image, float* columns)>& body);
  // The same for a backward pass: body adds parameter gradients into the weight_diff and bias_diff
  // it is given (null where not wanted); per-thread sums are added to the blobs in thread order.
  void ForEachImageAccumulating(
      bool weight_gradient, bool bias_gradient,
      const std::function<void(int64_t image, float* columns, float* weight_diff, float* bias_diff)>&
          body);
  float* ThreadColumns(int thread);
  void Im2ColImage(const float* input, float* columns) const;
  void Col2ImImage(const float* columns, float* input) const;

  int64_t num_ = 0;         // images: the product of the axes before the channel axis
  int64_t bottom_dim_ = 0;  // floats per image in a bottom
  int64_t top_dim_ = 0;     // floats per image in a top
  int64_t num_output_ = 0;
  bool bias_term_ = true;
  int channel_axis_ = 1;
  int num_spatial_axes_ = 0;
  std::vector<int64_t> kernel_;
  std::vector<int64_t> stride_;
  std::vector<int64_t> pad_;
  std::vector<int64_t> dilation_;
  bool is_1x1_ = false;
  bool force_nd_im2col_ = false;
  int64_t channels_ = 0;
  int64_t group_ = 1;
  int64_t conv_in_channels_ = 0;
  int64_t conv_out_channels_ = 0;

  // Per-image sizes of the underlying forward convolution.
  int64_t kernel_dim_ = 0;            // rows of the column matrix per group
  int64_t conv_output_spatial_ = 0;   // columns of the column matrix
  int64_t top_spatial_ = 0;           // spatial size of the top (the biased blob)
  int64_t weight_group_offset_ = 0;
  int64_t column_group_offset_ = 0;
  int64_t output_group_offset_ = 0;
  ConvGeometry2d geometry_;
  ConvGeometryNd geometry_nd_;
  std::vector<float> bias_multiplier_;  // ones, to sum a top's rows with one Gemv as Caffe does

  std::vector<ThreadScratch> scratch_;
};

}  // namespace condense
