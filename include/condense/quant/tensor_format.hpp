// TensorFormat: the number format one tensor is held in — float (untouched), dynamic fixed point,
// minifloat, power of two or integer affine — together with its rounding. It is the one thing the layer
// wrapper needs to know about a format: how to describe it and how to quantize an array into it. Affine
// formats either carry a fixed real range (activations, measured beforehand) or take the range from the
// tensor itself each time (weights, per tensor or per output channel).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "condense/quant/dynamic_fixed_point.hpp"
#include "condense/quant/integer_affine.hpp"
#include "condense/quant/minifloat.hpp"
#include "condense/quant/power_of_two.hpp"
#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/rounding.hpp"

namespace condense {

// An affine scheme whose scale and zero point follow the data's own range on every pass.
struct AffineFromData {
  AffineScheme scheme;
  bool per_channel = false;  // one range per slice of axis 0 (output channels)
};

class TensorFormat {
 public:
  using Format = std::variant<std::monostate, DynamicFixedPoint, Minifloat, PowerOfTwo,
                              AffineQuantizer, AffineFromData>;

  TensorFormat() = default;  // float
  TensorFormat(Format format, Rounding rounding) : format_(format), rounding_(rounding) {}

  bool is_float() const { return std::holds_alternative<std::monostate>(format_); }
  // Whether the range follows the whole tensor (affine weights), so that a slice cannot be quantized
  // on its own.
  bool takes_range_from_data() const { return std::holds_alternative<AffineFromData>(format_); }
  const Format& format() const { return format_; }
  Rounding rounding() const { return rounding_; }
  // A short description for tables: "fixed 8b fl 6 [-2, 1.98438]", "minifloat e4m3 (max 240)".
  std::string Describe() const;

  // Quantizes n values (in == out allowed); `channels` slices the array along axis 0 for per-channel
  // formats. Stochastic draws come from (seed, element index). Returns the number of saturated values.
  int64_t Apply(const float* in, float* out, int64_t n, int64_t channels, uint64_t seed,
                QuantizeStats* stats) const;
  // +1 when a quantized value sits at the top of the range, -1 at the bottom, 0 inside: where
  // saturated values end up, for the gradient rule of clipped values.
  int ClipSide(float quantized) const;

 private:
  Format format_;
  Rounding rounding_ = Rounding::kNearest;
};

}  // namespace condense
