#include "condense/quant/quantize_stats.hpp"

#include <cmath>
#include <limits>

namespace condense {

void QuantizeStats::Merge(const QuantizeStats& other) {
  count += other.count;
  saturated += other.saturated;
  signal_energy += other.signal_energy;
  noise_energy += other.noise_energy;
}

double QuantizeStats::SaturatedShare() const {
  return count > 0 ? static_cast<double>(saturated) / static_cast<double>(count) : 0.0;
}

double QuantizeStats::SqnrDb() const {
  if (noise_energy <= 0) {
    return signal_energy > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  }
  return 10.0 * std::log10(signal_energy / noise_energy);
}

}  // namespace condense
