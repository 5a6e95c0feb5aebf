#include "condense/quant/integer_accumulator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/quant/kernel_path.hpp"
#include "target_attributes.hpp"

namespace condense {

namespace {

// Outputs summed side by side. A running sum is a chain (add, clip, add, ...) that no vector can
// shorten, so the vectors run across outputs instead: one lane per output, its weights interleaved.
constexpr int kLanes = 8;

// The running sums of one input row with kLanes outputs, weights[k * kLanes + lane]. Needs
// sum + product to stay inside int64, which holds for accumulators up to 62 bits (|sum| <= 2^61,
// |product| <= 2^62) and wherever AccumulateSaturating's bound says so; then clipping after each
// addition is the saturating add. `sums` and `clipped` (nonzero: saturated) come in holding the
// starts.
CONDENSE_ALWAYS_INLINE void LaneSums(const int32_t* input, const int32_t* weights, int64_t depth,
                                     int64_t low, int64_t high, int64_t* sums, int64_t* clipped) {
  int64_t sum[kLanes];
  int64_t clip[kLanes];
  for (int lane = 0; lane < kLanes; ++lane) {
    sum[lane] = sums[lane];
    clip[lane] = clipped[lane];
  }
  for (int64_t k = 0; k < depth; ++k) {
    const int64_t x = input[k];
    for (int lane = 0; lane < kLanes; ++lane) {
      const int64_t product = x * weights[k * kLanes + lane];
      const int64_t result = sum[lane] + product;
      const int64_t kept = std::min(std::max(result, low), high);
      clip[lane] |= kept ^ result;
      sum[lane] = kept;
    }
  }
  for (int lane = 0; lane < kLanes; ++lane) {
    sums[lane] = sum[lane];
    clipped[lane] = clip[lane];
  }
}

// The products' sum, never clipped, where no partial sum can leave int64.
CONDENSE_ALWAYS_INLINE int64_t Dot(const int32_t* input, const int32_t* weight, int64_t depth) {
  int64_t sum = 0;
  for (int64_t k = 0; k < depth; ++k) sum += int64_t{input[k]} * weight[k];
  return sum;
}

CONDENSE_TARGET_AVX512 void LaneSumsAvx512(const int32_t* input, const int32_t* weights, int64_t depth,
                                           int64_t low, int64_t high, int64_t* sums, int64_t* clipped) {
  LaneSums(input, weights, depth, low, high, sums, clipped);
}
CONDENSE_TARGET_AVX512 int64_t DotAvx512(const int32_t* input, const int32_t* weight, int64_t depth) {
  return Dot(input, weight, depth);
}
CONDENSE_TARGET_AVX2 void LaneSumsAvx2(const int32_t* input, const int32_t* weights, int64_t depth,
                                       int64_t low, int64_t high, int64_t* sums, int64_t* clipped) {
  LaneSums(input, weights, depth, low, high, sums, clipped);
}
CONDENSE_TARGET_AVX2 int64_t DotAvx2(const int32_t* input, const int32_t* weight, int64_t depth) {
  return Dot(input, weight, depth);
}
void LaneSumsPortable(const int32_t* input, const int32_t* weights, int64_t depth, int64_t low,
                      int64_t high, int64_t* sums, int64_t* clipped) {
  LaneSums(input, weights, depth, low, high, sums, clipped);
}
int64_t DotPortable(const int32_t* input, const int32_t* weight, int64_t depth) {
  return Dot(input, weight, depth);
}

struct Kernels {
  void (*lane_sums)(const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t*, int64_t*);
  int64_t (*dot)(const int32_t*, const int32_t*, int64_t);
};

Kernels ChooseKernels() {
  switch (ActiveKernelPath()) {
    case KernelPath::kAvx512: return {LaneSumsAvx512, DotAvx512};
    case KernelPath::kAvx2: return {LaneSumsAvx2, DotAvx2};
    default: return {LaneSumsPortable, DotPortable};
  }
}

// The running sum of a 63- or 64-bit accumulator whose additions may leave int64: each one tested.
int64_t CheckedRunningSum(const int32_t* input, const int32_t* weight, int64_t depth, int64_t sum,
                          int64_t low, int64_t high, bool* saturated) {
  for (int64_t k = 0; k < depth; ++k) {
    const int64_t product = int64_t{input[k]} * weight[k];
    int64_t result;
    if (__builtin_add_overflow(sum, product, &result)) {
      // The true sum lies beyond the bound on the side the product points to.
      *saturated = true;
      sum = product > 0 ? high : low;
      continue;
    }
    *saturated |= result > high || result < low;
    sum = std::min(std::max(result, low), high);
  }
  return sum;
}

// The products' sum, never clipped, in 128 bits (up to 2^62 each), where 64 might not hold it.
__int128 WideDot(const int32_t* input, const int32_t* weight, int64_t depth) {
  __int128 sum = 0;
  for (int64_t k = 0; k < depth; ++k) sum += int64_t{input[k]} * weight[k];
  return sum;
}

// The bias code at the sums' scale, rounded but not yet clipped. Exact in double: a 32-bit code
// shifted by at most a few hundred places.
double AlignedBias(int32_t bias_code, const AccumulatorSpec& spec) {
  return std::round(std::ldexp(static_cast<double>(bias_code),
                               spec.SumFractionalBits() - spec.bias.fractional_bits));
}

int64_t ClipToSum(double aligned, const AccumulatorSpec& spec, bool* saturated) {
  // Compared with the power of two, which double holds exactly at every width (2^63 - 1 it does not).
  const double bound = std::ldexp(1.0, spec.bits - 1);
  *saturated = aligned >= bound || aligned < -bound;
  if (aligned >= bound) return spec.MaxSum();
  if (aligned < -bound) return spec.MinSum();
  return static_cast<int64_t>(aligned);
}

uint64_t MaxMagnitude(const int32_t* codes, int64_t n) {
  uint64_t largest = 0;
  for (int64_t i = 0; i < n; ++i) {
    largest = std::max(largest, static_cast<uint64_t>(std::abs(static_cast<int64_t>(codes[i]))));
  }
  return largest;
}

// `error`: the result minus the exact sum, in steps. Kept apart from the sum itself because near 2^63
// a double cannot tell the two apart.
void AddToStats(double exact_sum, long double error_steps, bool saturated, int fractional_bits,
                QuantizeStats* stats) {
  const double exact = std::ldexp(exact_sum, -fractional_bits);
  const double error = std::ldexp(static_cast<double>(error_steps), -fractional_bits);
  stats->count += 1;
  stats->saturated += saturated ? 1 : 0;
  stats->signal_energy += exact * exact;
  stats->noise_energy += error * error;
}

}  // namespace

int64_t AccumulatorSpec::MaxSum() const {
  return bits >= 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (bits - 1)) - 1;
}

int64_t AccumulatorSpec::MinSum() const {
  return bits >= 64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (bits - 1));
}

std::string AccumulatorSpec::Describe() const {
  return StrCat("acc ", bits, "b fl ", SumFractionalBits());
}

void ToIntegerCodes(const float* values, int64_t n, const DynamicFixedPoint& format, int32_t* codes,
                    const std::string& what) {
  const double scale = std::ldexp(1.0, format.fractional_bits);
  const double top = std::ldexp(1.0, format.bit_width - 1) - 1.0;
  const double bottom = -std::ldexp(1.0, format.bit_width - 1);
  for (int64_t i = 0; i < n; ++i) {
    // Exact in double for every float and fl the formats allow; infinities clip like large values.
    const double steps = std::round(static_cast<double>(values[i]) * scale);
    CONDENSE_CHECK(!std::isnan(steps), what, " holds NaN, which has no integer code");
    codes[i] = static_cast<int32_t>(std::clamp(steps, bottom, top));
  }
}

ParameterCodes ToParameterCodes(const AccumulatorSpec& spec, const float* weights, int64_t weight_count,
                                const float* bias, int64_t bias_count, const std::string& where) {
  ParameterCodes codes;
  codes.weights.resize(weight_count);
  ToIntegerCodes(weights, weight_count, spec.weights, codes.weights.data(), where + "weights");
  if (bias) {
    codes.bias.resize(bias_count);
    ToIntegerCodes(bias, bias_count, spec.bias, codes.bias.data(), where + "bias");
  }
  return codes;
}

int64_t BiasToSum(int32_t bias_code, const AccumulatorSpec& spec, bool* saturated) {
  return ClipToSum(AlignedBias(bias_code, spec), spec, saturated);
}

SaturatingDotProducts::SaturatingDotProducts(const AccumulatorSpec& spec, const int32_t* weights,
                                             int64_t outputs, int64_t depth, const int32_t* bias)
    : spec_(spec), weights_(weights), outputs_(outputs), depth_(depth) {
  CONDENSE_CHECK(spec.bits >= 2 && spec.bits <= 64, "accumulator width ", spec.bits,
                 " is out of range (2..64)");
  // Outputs in blocks of kLanes; the last block is padded with zero weights and a zero start, whose
  // sums stay 0 and are not written.
  const int64_t padded = (outputs + kLanes - 1) / kLanes * kLanes;
  aligned_bias_.assign(padded, 0.0);
  start_.assign(padded, 0);
  start_saturated_.assign(padded, 0);
  for (int64_t o = 0; o < outputs && bias; ++o) {
    bool saturated = false;
    aligned_bias_[o] = AlignedBias(bias[o], spec);
    start_[o] = ClipToSum(aligned_bias_[o], spec, &saturated);
    start_saturated_[o] = saturated;
    // |start| <= 2^63 fits uint64 even for the most negative sum.
    largest_start_ = std::max(largest_start_, start_[o] < 0 ? 0 - static_cast<uint64_t>(start_[o])
                                                            : static_cast<uint64_t>(start_[o]));
  }
  interleaved_.assign(padded * depth, 0);
  for (int64_t o = 0; o < outputs; ++o) {
    int32_t* block = interleaved_.data() + (o / kLanes) * kLanes * depth + o % kLanes;
    for (int64_t k = 0; k < depth; ++k) block[k * kLanes] = weights[o * depth + k];
  }
  largest_weight_ = MaxMagnitude(weights, outputs * depth);
}

int64_t SaturatingDotProducts::Compute(const IntegerDotProducts& products, QuantizeStats* stats) const {
  const IntegerDotProducts& p = products;
  const int64_t low = spec_.MinSum();
  const int64_t high = spec_.MaxSum();
  const int fractional_bits = spec_.SumFractionalBits();
  const int64_t blocks = (outputs_ + kLanes - 1) / kLanes;

  // Whether a partial sum, clipped or exact, could leave int64: only with 32-bit codes over long
  // reductions, or a 63/64-bit accumulator started near its ends.
  using Wide = unsigned __int128;
  constexpr Wide kInt64Max = std::numeric_limits<int64_t>::max();
  const Wide largest_products =
      Wide{static_cast<uint64_t>(depth_)} * MaxMagnitude(p.inputs, p.rows * depth_) * largest_weight_;
  const bool lanes_fit = spec_.bits <= 62 || largest_products + largest_start_ <= kInt64Max;
  const bool exact_fits = largest_products <= kInt64Max;
  const Kernels kernels = ChooseKernels();

  int64_t saturated_sums = 0;
  for (int64_t r = 0; r < p.rows; ++r) {
    const int32_t* input = p.inputs + r * depth_;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * kLanes;
      const int lanes = static_cast<int>(std::min<int64_t>(kLanes, outputs_ - first));
      int64_t sums[kLanes];
      int64_t clipped[kLanes];
      for (int lane = 0; lane < kLanes; ++lane) {
        sums[lane] = start_[first + lane];
        clipped[lane] = start_saturated_[first + lane];
      }
      if (lanes_fit) {
        kernels.lane_sums(input, interleaved_.data() + first * depth_, depth_, low, high, sums,
                          clipped);
      } else {
        for (int lane = 0; lane < lanes; ++lane) {
          bool saturated = clipped[lane] != 0;
          sums[lane] = CheckedRunningSum(input, weights_ + (first + lane) * depth_, depth_, sums[lane],
                                         low, high, &saturated);
          clipped[lane] = saturated;
        }
      }
      for (int lane = 0; lane < lanes; ++lane) {
        const int64_t o = first + lane;
        const int64_t sum = sums[lane];
        const bool saturated = clipped[lane] != 0;
        p.out[r * p.out_row_stride + o * p.out_output_stride] =
            static_cast<float>(std::ldexp(static_cast<double>(sum), -fractional_bits));
        saturated_sums += saturated ? 1 : 0;
        if (!stats) continue;
        const int32_t* weight = weights_ + o * depth_;
        const __int128 exact_products =
            exact_fits ? kernels.dot(input, weight, depth_) : WideDot(input, weight, depth_);
        // What the clipped additions took away, plus what clipping the bias did.
        const __int128 taken = static_cast<__int128>(sum) - exact_products - start_[o];
        const long double error = static_cast<long double>(taken) +
                                  (static_cast<long double>(start_[o]) - aligned_bias_[o]);
        AddToStats(static_cast<double>(exact_products) + aligned_bias_[o], error, saturated,
                   fractional_bits, stats);
      }
    }
  }
  return saturated_sums;
}

int64_t AccumulateSaturating(const AccumulatorSpec& spec, const IntegerDotProducts& products,
                             QuantizeStats* stats) {
  return SaturatingDotProducts(spec, products.weights, products.outputs, products.depth, products.bias)
      .Compute(products, stats);
}

}  // namespace condense
