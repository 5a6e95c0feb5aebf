// RangeStatistics: what the analyzer knows about the values one tensor takes over many batches — count,
// min, max, max-abs and a histogram of magnitudes — and the range methods that turn it into a clipping
// range and a dynamic fixed point fraction length: `max` (Ristretto's rule, sign bit included),
// `percentile`, `kl` (TensorRT-style entropy calibration) and `mse` (the clipping that minimises the
// expected squared error of rounding plus clipping).
//
// The histogram's bin width is always a power of two, chosen from the first non-zero values so that the
// largest magnitude seen lands in its upper half; when a later batch reaches further the width doubles
// (pairs of bins merge) as often as needed. Power-of-two widths make widening and Merge exact, and line
// the bins up with dynamic fixed point grids, whose steps are powers of two too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace condense {

class RangeStatistics {
 public:
  // `bins` in [16, 2^22]; anything else is an Error.
  explicit RangeStatistics(int bins = 2048);

  // Adds n values; NaN and infinities are counted but kept out of the ranges and the histogram. When a
  // later batch exceeds the histogram's reach, the histogram widens (bins merge) without losing counts.
  // One pass over the values, in chunks that stay in the L1 cache.
  void Add(const float* values, int64_t n);
  // Adds another tensor's statistics, as if its values had been added here; both need the same number
  // of bins (an Error otherwise).
  void Merge(const RangeStatistics& other);

  int64_t count() const { return count_; }  // every value added, NaN and infinities included
  int64_t finite_count() const { return finite_count_; }
  int64_t zero_count() const { return zero_count_; }  // exact zeros (ReLU outputs), part of bin 0
  // min and max of the finite values; 0 when there are none.
  float min() const { return min_; }
  float max() const { return max_; }
  float max_abs() const;
  // The magnitude below which `fraction` of the finite values' magnitudes lie (0.9999 for the 99.99th
  // percentile), interpolated within the histogram bin and never above max_abs; 0 without values.
  // `fraction` outside [0, 1] is an Error.
  float Percentile(double fraction) const;
  const std::vector<int64_t>& histogram() const { return histogram_; }
  // 0 until a non-zero finite value arrived (all counts are then in bin 0, as zeros).
  float bin_width() const { return bin_width_; }

 private:
  // Makes the histogram reach (bins * bin_width) at least `magnitude`.
  void Reach(float magnitude);
  // Sets the width to 2^exponent, merging bins when it grows.
  void SetBinExponent(int exponent);

  int64_t count_ = 0;
  int64_t finite_count_ = 0;
  int64_t zero_count_ = 0;
  float min_ = 0, max_ = 0;
  std::vector<int64_t> histogram_;  // of |x|, bin i covers [i, i+1) * bin_width_
  float bin_width_ = 0;
  int bin_exponent_ = 0;  // bin_width_ == 2^bin_exponent_ once bin_width_ > 0
};

enum class RangeMethod { kMax, kPercentile, kKl, kMse };

// "max", "percentile", "kl", "mse"; anything else is an Error naming the accepted values.
RangeMethod ParseRangeMethod(const std::string& name);
std::string RangeMethodName(RangeMethod method);

// The clipping magnitude `method` chooses for a signed `bits`-bit grid (bits in [1, 32]) over these
// values: kMax max-abs; kPercentile the 99.99th percentile of the magnitudes; kKl the threshold whose
// clipped distribution, quantized to 2^(bits-1) levels, keeps the least KL divergence from the clipped
// reference (TensorRT's entropy calibration); kMse the threshold with the least expected squared error,
// rounding (integrated exactly over each bin) plus clipping. Never above max-abs; an empty or all-zero
// tensor gets 1.
float ChooseClipRange(const RangeStatistics& stats, RangeMethod method, int bits);

// The fraction length of a signed (two's complement) `bits`-bit dynamic fixed point format for these
// values. kMax: the smallest integer length, sign bit included, whose range holds max-abs
// (Ristretto's ceil(log2(max)) plus the sign bit Ristretto forgot for activations); the other methods
// pick, among the max rule's fl and up to four more fraction bits, the one their objective prefers.
// An all-zero tensor gets the max rule's answer for a range of 1.
//
// Exactly: il = floor(log2(r)) + 2, the smallest il with 2^(il-1) > r, and fl = bits - il. That is
// Ristretto's ceil(log2(r)) + 1 except at exact powers of two, which get one bit more so that they are
// not clipped; a value within one step below 2^(il-1) saturates by less than a step, which is accepted
// (so 0.9 and 0.999 at 8 bits give fl 7, 1.0 gives fl 6, 3.5 at 4 bits gives fl 1). kPercentile applies
// the same rule to the 99.99th percentile; kKl and kMse evaluate their objective on the format's own
// grid (step 2^-fl, clipped at its ends) from the histogram. The result is clamped to what
// DynamicFixedPoint can simulate: [max(-126, bits - 128), 126].
int ChooseFractionLength(const RangeStatistics& stats, RangeMethod method, int bits);

}  // namespace condense
