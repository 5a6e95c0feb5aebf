// Deconvolution (transposed convolution): the forward pass of a convolution's gradient w.r.t. its input.
// Set-up and arithmetic come from ConvolutionBase with the roles of bottom and top swapped.
#include "condense/layers/convolution.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

namespace {

class Deconvolution : public ConvolutionBase {
 public:
  using ConvolutionBase::ConvolutionBase;
  const char* type() const override { return "Deconvolution"; }

 protected:
  bool reverse_dimensions() const override { return true; }

  void ForwardImage(const float* bottom, float* top, float* columns) const override {
    BackwardDataImage(bottom, top, columns);
  }

  void BackwardImage(const float* top_diff, const float* bottom, float* bottom_diff,
                     float* weight_diff, float* columns) const override {
    // One im2col of the top gradient serves both products.
    const float* top_columns = InputColumns(top_diff, columns);
    if (weight_diff) AccumulateWeightGradient(bottom, top_columns, weight_diff);
    if (bottom_diff) WeightsTimesColumns(top_columns, bottom_diff);
  }
};

}  // namespace

CONDENSE_REGISTER_LAYER("Deconvolution", Deconvolution);

}  // namespace condense
