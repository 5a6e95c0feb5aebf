// The integer multiply-accumulate of a Convolution or InnerProduct whose quantization_param sets
// accumulator_bits: what a DSP slice or an FPGA adder tree computes, so that a user sees overflow before
// building hardware. Inputs and weights are dynamic fixed point, so each value is an integer code times
// 2^-fl; the products of codes are exact integers at scale 2^-(fl_in + fl_w). A sum starts at the bias,
// moved to that scale (rounded to nearest, ties away from zero, when the bias has more fraction bits)
// and saturated, then adds the products in the order of the reduction index k = 0..K-1, saturating to
// [-2^(N-1), 2^(N-1) - 1] after every addition: a saturating running sum, so a sum that overflows and
// later comes back keeps the clipped amount (with N = 4: 7 + 7 -> 7, then 7 - 7 -> 0, not 7). The
// result is the final sum times 2^-(fl_in + fl_w), as float (exact for |sum| <= 2^24). The float path
// stays the default: this one runs only where a layer asks for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/quant/dynamic_fixed_point.hpp"
#include "condense/quant/quantize_stats.hpp"

namespace condense {

// The accumulator a layer simulates and the formats whose codes it sums.
struct AccumulatorSpec {
  int bits = 32;  // N, 2..64
  DynamicFixedPoint input;
  DynamicFixedPoint weights;
  DynamicFixedPoint bias;

  // fl of a sum: the sum of the integer codes is the value times 2^this.
  int SumFractionalBits() const { return input.fractional_bits + weights.fractional_bits; }
  int64_t MaxSum() const;  // 2^(N-1) - 1
  int64_t MinSum() const;  // -2^(N-1)
  std::string Describe() const;  // "acc 16b fl 11"
};

// Integer codes of values that lie on the grid of `format` (what the layer wrapper hands a layer):
// codes[i] = values[i] * 2^fl, rounded to nearest in case a value lies off the grid, clipped to the
// format's range (the float nearest to a 32-bit format's top code is one step above it). A NaN has no
// code: throws condense::Error, "<what> holds NaN, which has no integer code".
void ToIntegerCodes(const float* values, int64_t n, const DynamicFixedPoint& format, int32_t* codes,
                    const std::string& what);

// The integer codes of a layer's weights and biases (bias empty for a layer without one), as
// ToIntegerCodes gives them; errors name the tensor after `where` ("<layer>: accumulator_bits: ").
struct ParameterCodes {
  std::vector<int32_t> weights;
  std::vector<int32_t> bias;
};
ParameterCodes ToParameterCodes(const AccumulatorSpec& spec, const float* weights, int64_t weight_count,
                                const float* bias, int64_t bias_count, const std::string& where);

// Where a sum starts for a bias code of spec.bias: the code moved to the sums' scale, rounded to
// nearest (ties away from zero), clipped to the accumulator's range; *saturated says whether it was.
int64_t BiasToSum(int32_t bias_code, const AccumulatorSpec& spec, bool* saturated);

// One batch of dot products, all as integer codes: out(r, o) = bias(o) + sum over k of
// inputs(r, k) * weights(o, k), for rows r < rows and outputs o < outputs.
struct IntegerDotProducts {
  const int32_t* inputs = nullptr;   // rows x depth, row-major
  int64_t rows = 0;
  const int32_t* weights = nullptr;  // outputs x depth, row-major
  int64_t outputs = 0;
  int64_t depth = 0;                 // K
  const int32_t* bias = nullptr;     // `outputs` codes of spec.bias, or null for sums from zero
  float* out = nullptr;              // out[r * out_row_stride + o * out_output_stride]
  int64_t out_row_stride = 0;
  int64_t out_output_stride = 1;
};

// The weight side of a layer's dot products, laid out once per forward pass for the running sums:
// the weights interleaved across neighbouring outputs and each output's start (its bias moved to the
// sums' scale). A convolution reuses it for every image; building it per image cost about 1.5 % of
// the integer path. It keeps a pointer to the weight codes, which must outlive it.
class SaturatingDotProducts {
 public:
  SaturatingDotProducts(const AccumulatorSpec& spec, const int32_t* weights, int64_t outputs,
                        int64_t depth, const int32_t* bias);

  // Computes out(r, o) for every row of `products` (whose weight-side fields are ignored: this
  // object's are used) with the saturating running sum above and writes the results as floats.
  // Returns the number of sums that saturated at least once (the bias included). With `stats`, adds
  // one value per sum: count, saturations, and as signal and noise the exact sum (the bias moved to
  // scale but not clipped, plus the products, never saturated) and the saturated result's distance
  // from it, both times 2^-(fl_in + fl_w), so that the SQNR says how much overflow cost.
  int64_t Compute(const IntegerDotProducts& products, QuantizeStats* stats = nullptr) const;

 private:
  AccumulatorSpec spec_;
  const int32_t* weights_;
  int64_t outputs_;
  int64_t depth_;
  std::vector<int32_t> interleaved_;  // blocks of 8 outputs (one per vector lane), output-minor
  std::vector<double> aligned_bias_;  // the bias at the sums' scale, before clipping
  std::vector<int64_t> start_;        // where each sum starts: aligned_bias_ clipped
  std::vector<char> start_saturated_;
  uint64_t largest_start_ = 0;
  uint64_t largest_weight_ = 0;
};

// SaturatingDotProducts(spec, products' weights and bias).Compute(products, stats), for one batch.
int64_t AccumulateSaturating(const AccumulatorSpec& spec, const IntegerDotProducts& products,
                             QuantizeStats* stats = nullptr);

}  // namespace condense
