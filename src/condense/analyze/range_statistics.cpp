#include "condense/analyze/range_statistics.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "condense/core/error.hpp"

namespace condense {

namespace {

constexpr int kMinBins = 16;
constexpr int kMaxBins = 1 << 22;
// Values are binned in chunks this long: the chunk's extremes decide whether the histogram widens
// before its values are binned, while the chunk is still in the L1 cache.
constexpr int64_t kChunk = 2048;
// Smallest bin exponent: keeps bin widths normal floats.
constexpr int kMinBinExponent = -126;

struct ChunkSummary {
  float lowest = std::numeric_limits<float>::infinity();
  float highest = -std::numeric_limits<float>::infinity();
  int32_t nonfinite = 0;
  int32_t zeros = 0;
};

// The finite extremes and the NaN/infinity and zero counts of one chunk. Written as kLanes independent
// running selects so that the compiler turns them into vector min/max (a single float min reduction
// would need -ffast-math).
ChunkSummary Summarize(const float* values, int64_t n) {
  constexpr int kLanes = 8;
  constexpr float kInfinity = std::numeric_limits<float>::infinity();
  float lowest[kLanes], highest[kLanes];
  int32_t nonfinite[kLanes], zeros[kLanes];
  for (int lane = 0; lane < kLanes; ++lane) {
    lowest[lane] = kInfinity, highest[lane] = -kInfinity, nonfinite[lane] = 0, zeros[lane] = 0;
  }
  const auto take = [&](int lane, float value) {
    const bool finite = std::fabs(value) <= FLT_MAX;  // false for NaN and infinities
    const float low_candidate = finite ? value : kInfinity;
    const float high_candidate = finite ? value : -kInfinity;
    lowest[lane] = low_candidate < lowest[lane] ? low_candidate : lowest[lane];
    highest[lane] = high_candidate > highest[lane] ? high_candidate : highest[lane];
    nonfinite[lane] += finite ? 0 : 1;
    zeros[lane] += value == 0.0f ? 1 : 0;
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) take(lane, values[i + lane]);
  }
  for (int lane = 0; i < n; ++i, ++lane) take(lane, values[i]);
  ChunkSummary summary;
  for (int lane = 0; lane < kLanes; ++lane) {
    summary.lowest = std::min(summary.lowest, lowest[lane]);
    summary.highest = std::max(summary.highest, highest[lane]);
    summary.nonfinite += nonfinite[lane];
    summary.zeros += zeros[lane];
  }
  return summary;
}

// The smallest exponent e with bins * 2^e >= magnitude (magnitude > 0).
int ExponentReaching(double magnitude, int bins) {
  int exponent = 0;
  const double mantissa = std::frexp(magnitude / bins, &exponent);  // in [0.5, 1)
  if (mantissa == 0.5) --exponent;
  return std::max(exponent, kMinBinExponent);
}

// ---- The histogram as a density over magnitudes --------------------------------------------------

// The histogram read as a density: a point mass at 0 (the exact zeros) plus, in each bin, its other
// values spread uniformly over the bin — the last used bin ending at max-abs rather than at its edge.
struct MagnitudeDensity {
  std::vector<double> counts;  // per used bin, zeros excluded
  double width = 0;
  double top = 0;  // max-abs: where the last used bin ends
  double zeros = 0;

  int used() const { return static_cast<int>(counts.size()); }
  double lower(int bin) const { return bin * width; }
  double upper(int bin) const { return bin + 1 == used() ? top : (bin + 1) * width; }
};

MagnitudeDensity ReadDensity(const RangeStatistics& stats) {
  MagnitudeDensity density;
  density.width = stats.bin_width();
  density.top = stats.max_abs();
  density.zeros = static_cast<double>(stats.zero_count());
  const std::vector<int64_t>& histogram = stats.histogram();
  int used = static_cast<int>(histogram.size());
  while (used > 0 && histogram[used - 1] == 0) --used;
  density.counts.assign(histogram.begin(), histogram.begin() + used);
  if (used > 0) density.counts[0] -= density.zeros;
  return density;
}

// ∫_0^x (t - round(t / step) * step)^2 dt for x >= 0: whole rounding cells contribute step^3 / 12
// each, the partial cell the rest.
double RoundingErrorIntegral(double x, double step) {
  const double cells = x / step + 0.5;
  const double whole = std::floor(cells);
  const double offset = cells - whole - 0.5;  // where x lies in its cell, in steps, in [-0.5, 0.5)
  const double cube = step * step * step;
  return whole * cube / 12.0 + cube * (offset * offset * offset + 0.125) / 3.0 - cube / 24.0;
}

// ∫_a^b (t - Q(t))^2 dt for 0 <= a <= b, where Q rounds to the nearest multiple of `step` and clips
// at `clip` (a multiple of step): rounding error below clip, clipping error above.
double SquaredErrorIntegral(double a, double b, double step, double clip) {
  double total = 0;
  if (a < clip) total += RoundingErrorIntegral(std::min(b, clip), step) - RoundingErrorIntegral(a, step);
  if (b > clip) {
    const double from = std::max(a, clip) - clip, to = b - clip;
    total += (to * to * to - from * from * from) / 3.0;
  }
  return total;
}

// The expected squared error (summed over the values) of a signed grid with this step whose largest
// magnitude is `clip`.
double ExpectedSquaredError(const MagnitudeDensity& density, double step, double clip) {
  double total = 0;
  for (int bin = 0; bin < density.used(); ++bin) {
    if (density.counts[bin] <= 0) continue;
    const double a = density.lower(bin), b = density.upper(bin);
    if (b <= a) continue;
    total += density.counts[bin] * SquaredErrorIntegral(a, b, step, clip) / (b - a);
  }
  return total;
}

// Buffers the KL searches reuse from one candidate to the next.
struct KlScratch {
  std::vector<int> cell_of_bin;
  std::vector<double> cell_counts;
  std::vector<int> cell_bins;
};

// KL(P || Q) over the first `kept` bins, TensorRT's way: P is the histogram with every value beyond
// the kept bins folded into the last kept one (the clipping); Q merges the kept bins (without the
// folded values) into the grid's cells, spreads each cell's count evenly over the cell's non-empty
// bins, and so says what a grid with one level per cell can tell apart. `level_of_bin` names the grid
// level a kept bin rounds to and must not decrease with the bin. An empty bin of P is ignored; a
// non-empty bin of P where Q is empty makes the divergence infinite.
template <typename LevelOfBin>
double ClippedKlDivergence(const MagnitudeDensity& density, int kept, LevelOfBin level_of_bin,
                           KlScratch* scratch) {
  // Cells are numbered densely in bin order: a fine grid has many more levels than the histogram has
  // bins, but never more cells that hold a bin.
  scratch->cell_of_bin.resize(kept);
  scratch->cell_counts.clear();
  scratch->cell_bins.clear();
  double previous_level = -1;
  for (int bin = 0; bin < kept; ++bin) {
    const double level = level_of_bin(bin);
    if (bin == 0 || level != previous_level) {
      scratch->cell_counts.push_back(0.0);
      scratch->cell_bins.push_back(0);
      previous_level = level;
    }
    const int cell = static_cast<int>(scratch->cell_counts.size()) - 1;
    scratch->cell_of_bin[bin] = cell;
    if (density.counts[bin] > 0) {
      scratch->cell_counts[cell] += density.counts[bin];
      scratch->cell_bins[cell] += 1;
    }
  }
  double reference_total = density.zeros, kept_total = density.zeros;
  for (int bin = 0; bin < density.used(); ++bin) reference_total += std::max(density.counts[bin], 0.0);
  for (int bin = 0; bin < kept; ++bin) kept_total += std::max(density.counts[bin], 0.0);
  if (reference_total <= 0 || kept_total <= 0) return 0.0;
  const double outliers = reference_total - kept_total;
  double divergence = 0;
  // The zeros are a grid level of their own in every format: exact in P and Q alike.
  if (density.zeros > 0) {
    const double p = density.zeros / reference_total, q = density.zeros / kept_total;
    divergence += p * std::log(p / q);
  }
  for (int bin = 0; bin < kept; ++bin) {
    double p = std::max(density.counts[bin], 0.0);
    if (bin == kept - 1) p += outliers;
    if (p <= 0) continue;
    double q = 0;
    if (density.counts[bin] > 0) {
      const int cell = scratch->cell_of_bin[bin];
      q = scratch->cell_counts[cell] / scratch->cell_bins[cell];
    }
    if (q <= 0) return std::numeric_limits<double>::infinity();
    p /= reference_total;
    q /= kept_total;
    divergence += p * std::log(p / q);
  }
  return divergence;
}

// Candidate indices first..last visited with a stride that keeps their number near `budget`, then
// every index around the coarse winner: the objectives are smooth enough in the threshold for that.
template <typename Objective>
int SearchCoarseToFine(int first, int last, int budget, Objective objective) {
  const int stride = std::max(1, (last - first + 1) / budget);
  int best = last;
  double best_value = objective(last);
  for (int index = first; index < last; index += stride) {
    const double value = objective(index);
    if (value < best_value) best_value = value, best = index;
  }
  if (stride > 1) {
    for (int index = std::max(first, best - stride + 1); index <= std::min(last, best + stride - 1);
         ++index) {
      const double value = objective(index);
      if (value < best_value) best_value = value, best = index;
    }
  }
  return best;
}

void CheckBits(int bits, const char* function) {
  CONDENSE_CHECK(bits >= 1 && bits <= 32, function, ": bit width ", bits,
                 " is outside the simulated range 1..32");
}

// Levels of a signed bits-bit grid on the positive side (excluding 0), at least one.
double PositiveLevels(int bits) { return std::max(1.0, std::ldexp(1.0, bits - 1) - 1.0); }

float KlClipRange(const RangeStatistics& stats, int bits) {
  const MagnitudeDensity density = ReadDensity(stats);
  const double levels = std::ldexp(1.0, bits - 1);
  if (density.used() <= levels) return stats.max_abs();  // the grid is finer than the histogram
  const int64_t cells = static_cast<int64_t>(levels);
  KlScratch scratch;
  // Candidate `kept` clips after that many bins and splits them evenly into the grid's levels.
  const int best = SearchCoarseToFine(static_cast<int>(cells), density.used(), 512, [&](int kept) {
    const auto level_of_bin = [&](int bin) { return static_cast<double>(bin * cells / kept); };
    return ClippedKlDivergence(density, kept, level_of_bin, &scratch);
  });
  return static_cast<float>(std::min(best * density.width, density.top));
}

float MseClipRange(const RangeStatistics& stats, int bits) {
  const MagnitudeDensity density = ReadDensity(stats);
  if (density.used() == 0) return stats.max_abs();
  const double levels = PositiveLevels(bits);
  // Candidate k is the threshold k bin widths; the last one is max-abs itself.
  const auto threshold = [&](int k) {
    return k == density.used() ? density.top : std::min(k * density.width, density.top);
  };
  const int best = SearchCoarseToFine(1, density.used(), 256, [&](int k) {
    const double clip = threshold(k);
    return ExpectedSquaredError(density, clip / levels, clip);
  });
  return static_cast<float>(threshold(best));
}

// Ristretto's rule with the sign bit: the smallest integer length il with 2^(il-1) > range.
int MaxRuleFractionLength(double range, int bits) {
  if (!(range > 0)) range = 1;
  int exponent = 0;
  std::frexp(range, &exponent);  // range in [2^(exponent-1), 2^exponent)
  const int integer_length = exponent + 1;
  return bits - integer_length;
}

int ClampFractionLength(int fraction_length, int bits) {
  return std::clamp(fraction_length, std::max(-126, bits - 128), 126);
}

// The dynamic fixed point formats fl_max .. fl_max + 4 scored by `objective(step, clip)`; the first
// (widest) of equally good ones wins.
template <typename Objective>
int BestFractionLength(int fl_max, int bits, Objective objective) {
  int best = fl_max;
  double best_value = std::numeric_limits<double>::infinity();
  for (int fl = fl_max; fl <= fl_max + 4; ++fl) {
    const int clamped = ClampFractionLength(fl, bits);
    if (clamped != fl) break;
    const double step = std::ldexp(1.0, -fl);
    const double clip = (std::ldexp(1.0, bits - 1) - 1.0) * step;
    const double value = objective(step, clip);
    if (value < best_value) best_value = value, best = fl;
  }
  return best;
}

double KlOnFixedPointGrid(const MagnitudeDensity& density, double step, double clip,
                          KlScratch* scratch) {
  if (density.used() == 0) return 0;
  // Keep the bins that start below the clip; what lies beyond folds into the last kept bin.
  const int kept = std::clamp(static_cast<int>(std::ceil(clip / density.width)), 1, density.used());
  const double top_level = std::floor(clip / step + 0.5);
  // A bin belongs to the level its centre rounds to: exact where steps are at least two bins wide
  // (both are powers of two, so cell edges fall on bin edges), an approximation otherwise.
  const auto level_of_bin = [&](int bin) {
    const double center = 0.5 * (density.lower(bin) + density.upper(bin));
    return std::min(std::floor(center / step + 0.5), top_level);
  };
  return ClippedKlDivergence(density, kept, level_of_bin, scratch);
}

}  // namespace

// ---- RangeStatistics -------------------------------------------------------------------------------

RangeStatistics::RangeStatistics(int bins) {
  CONDENSE_CHECK(bins >= kMinBins && bins <= kMaxBins, "RangeStatistics: ", bins,
                 " histogram bins requested; the accepted range is ", kMinBins, "..", kMaxBins);
  histogram_.assign(bins, 0);
}

float RangeStatistics::max_abs() const { return std::max(std::fabs(min_), std::fabs(max_)); }

void RangeStatistics::SetBinExponent(int exponent) {
  if (bin_width_ > 0) {
    const int shift = exponent - bin_exponent_;
    if (shift <= 0) return;
    // Bin i moves to i >> shift; every target lies at or below its source, so in place works.
    for (size_t bin = 1; bin < histogram_.size(); ++bin) {
      const int64_t moved = histogram_[bin];
      histogram_[bin] = 0;
      histogram_[shift >= 31 ? 0 : bin >> shift] += moved;
    }
  }
  bin_exponent_ = exponent;
  bin_width_ = std::ldexp(1.0f, exponent);
}

void RangeStatistics::Reach(float magnitude) {
  if (bin_width_ > 0 && magnitude <= histogram_.size() * static_cast<double>(bin_width_)) return;
  SetBinExponent(ExponentReaching(magnitude, static_cast<int>(histogram_.size())));
}

void RangeStatistics::Add(const float* values, int64_t n) {
  CONDENSE_CHECK(n >= 0, "RangeStatistics::Add: negative count ", n);
  const int64_t bins = static_cast<int64_t>(histogram_.size());
  // Large tensors count into kLanes interleaved 32-bit copies of the histogram, folded in at the end
  // (and before a widening): runs of values in one bin (a narrow distribution) then increment
  // different memory words, which keeps the increments from waiting on each other.
  constexpr int kLanes = 4;
  const bool laned = n >= 16 * bins;
  std::vector<uint32_t> lanes(laned ? kLanes * bins : 0);
  int64_t in_lanes = 0;
  const auto fold_lanes = [&] {
    for (int lane = 0; lane < kLanes && in_lanes > 0; ++lane) {
      for (int64_t bin = 0; bin < bins; ++bin) histogram_[bin] += lanes[lane * bins + bin];
    }
    std::fill(lanes.begin(), lanes.end(), 0u);
    in_lanes = 0;
  };
  int32_t bin_of[kChunk];
  const float last_bin = static_cast<float>(bins - 1);
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t length = std::min(kChunk, n - start);
    const float* chunk = values + start;
    const ChunkSummary summary = Summarize(chunk, length);
    const int64_t finite = length - summary.nonfinite;
    count_ += length;
    zero_count_ += summary.zeros;
    if (finite == 0) continue;
    if (finite_count_ == 0) {
      min_ = summary.lowest, max_ = summary.highest;
    } else {
      min_ = std::min(min_, summary.lowest), max_ = std::max(max_, summary.highest);
    }
    finite_count_ += finite;
    const float reach = std::max(std::fabs(summary.lowest), std::fabs(summary.highest));
    if (reach > 0 && !(bin_width_ > 0 && reach <= bins * static_cast<double>(bin_width_))) {
      fold_lanes();
      Reach(reach);
    }
    if (bin_width_ == 0) {  // only zeros so far
      histogram_[0] += finite;
      continue;
    }
    // Scaling by a power of two is exact. NaN and infinities fail the comparison, land in the last bin
    // and are taken out of it again: no branch in the loop.
    const float inverse_width = std::ldexp(1.0f, -bin_exponent_);
    for (int64_t i = 0; i < length; ++i) {
      const float scaled = std::fabs(chunk[i]) * inverse_width;
      bin_of[i] = static_cast<int32_t>(scaled < last_bin ? scaled : last_bin);
    }
    histogram_.back() -= summary.nonfinite;
    if (!laned) {
      int64_t* histogram = histogram_.data();
      for (int64_t i = 0; i < length; ++i) ++histogram[bin_of[i]];
      continue;
    }
    uint32_t* lane_counts = lanes.data();
    int64_t i = 0;
    for (; i + kLanes <= length; i += kLanes) {
      for (int lane = 0; lane < kLanes; ++lane) ++lane_counts[lane * bins + bin_of[i + lane]];
    }
    for (; i < length; ++i) ++lane_counts[bin_of[i]];
    in_lanes += length;
    if (in_lanes >= (int64_t{1} << 31)) fold_lanes();  // before a 32-bit count could overflow
  }
  fold_lanes();
}

void RangeStatistics::Merge(const RangeStatistics& other) {
  CONDENSE_CHECK(other.histogram_.size() == histogram_.size(),
                 "RangeStatistics::Merge: histograms of ", histogram_.size(), " and ",
                 other.histogram_.size(), " bins cannot be merged");
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  if (other.finite_count_ == 0) return;
  if (finite_count_ == 0) {
    min_ = other.min_, max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_), max_ = std::max(max_, other.max_);
  }
  finite_count_ += other.finite_count_;
  if (other.bin_width_ == 0) {  // other holds zeros only
    histogram_[0] += other.histogram_[0];
    return;
  }
  if (bin_width_ == 0 || bin_exponent_ < other.bin_exponent_) SetBinExponent(other.bin_exponent_);
  const int shift = bin_exponent_ - other.bin_exponent_;
  for (size_t bin = 0; bin < histogram_.size(); ++bin) {
    histogram_[shift >= 31 ? 0 : bin >> shift] += other.histogram_[bin];
  }
}

float RangeStatistics::Percentile(double fraction) const {
  CONDENSE_CHECK(fraction >= 0 && fraction <= 1, "RangeStatistics::Percentile: fraction ", fraction,
                 " is outside [0, 1]");
  if (finite_count_ == 0 || bin_width_ == 0) return 0;
  const double target = fraction * static_cast<double>(finite_count_);
  if (target <= static_cast<double>(zero_count_)) return 0;
  double below = static_cast<double>(zero_count_);
  for (size_t bin = 0; bin < histogram_.size(); ++bin) {
    // Bin 0's zeros are the point mass counted above; its other values spread over the bin.
    const double in_bin = static_cast<double>(histogram_[bin]) - (bin == 0 ? zero_count_ : 0);
    if (in_bin > 0 && below + in_bin >= target) {
      const double position = bin + (target - below) / in_bin;
      return static_cast<float>(std::min<double>(position * bin_width_, max_abs()));
    }
    below += in_bin;
  }
  return max_abs();
}

// ---- Range methods ---------------------------------------------------------------------------------

RangeMethod ParseRangeMethod(const std::string& name) {
  if (name == "max") return RangeMethod::kMax;
  if (name == "percentile") return RangeMethod::kPercentile;
  if (name == "kl") return RangeMethod::kKl;
  if (name == "mse") return RangeMethod::kMse;
  Fail("range method '", name, "' is unknown; use max, percentile, kl or mse");
}

std::string RangeMethodName(RangeMethod method) {
  switch (method) {
    case RangeMethod::kMax: return "max";
    case RangeMethod::kPercentile: return "percentile";
    case RangeMethod::kKl: return "kl";
    case RangeMethod::kMse: return "mse";
  }
  Fail("range method ", static_cast<int>(method), " is not one of max, percentile, kl, mse");
}

float ChooseClipRange(const RangeStatistics& stats, RangeMethod method, int bits) {
  CheckBits(bits, "ChooseClipRange");
  if (!(stats.max_abs() > 0)) return 1.0f;
  switch (method) {
    case RangeMethod::kMax: return stats.max_abs();
    case RangeMethod::kPercentile: {
      const float percentile = stats.Percentile(0.9999);
      return percentile > 0 ? percentile : stats.max_abs();
    }
    case RangeMethod::kKl: return KlClipRange(stats, bits);
    case RangeMethod::kMse: return MseClipRange(stats, bits);
  }
  Fail("ChooseClipRange: unknown range method ", static_cast<int>(method));
}

int ChooseFractionLength(const RangeStatistics& stats, RangeMethod method, int bits) {
  CheckBits(bits, "ChooseFractionLength");
  const int fl_max = ClampFractionLength(MaxRuleFractionLength(stats.max_abs(), bits), bits);
  if (!(stats.max_abs() > 0)) return fl_max;
  switch (method) {
    case RangeMethod::kMax: return fl_max;
    case RangeMethod::kPercentile:
      return ClampFractionLength(
          MaxRuleFractionLength(ChooseClipRange(stats, RangeMethod::kPercentile, bits), bits), bits);
    case RangeMethod::kKl: {
      const MagnitudeDensity density = ReadDensity(stats);
      KlScratch scratch;
      return BestFractionLength(fl_max, bits, [&](double step, double clip) {
        return KlOnFixedPointGrid(density, step, clip, &scratch);
      });
    }
    case RangeMethod::kMse: {
      const MagnitudeDensity density = ReadDensity(stats);
      return BestFractionLength(fl_max, bits, [&](double step, double clip) {
        return ExpectedSquaredError(density, step, clip);
      });
    }
  }
  Fail("ChooseFractionLength: unknown range method ", static_cast<int>(method));
}

}  // namespace condense
