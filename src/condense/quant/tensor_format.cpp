#include "condense/quant/tensor_format.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/overloaded.hpp"

namespace condense {

std::string TensorFormat::Describe() const {
  const std::string base = std::visit(
      Overloaded{[](const std::monostate&) { return std::string("float"); },
                 [](const DynamicFixedPoint& f) {
                   return StrCat("fixed ", f.bit_width, "b fl ", f.fractional_bits, " [", f.MinValue(),
                                 ", ", f.MaxValue(), "]");
                 },
                 [](const Minifloat& f) {
                   return StrCat("minifloat e", f.exponent_bits, "m", f.mantissa_bits, " (max ",
                                 f.MaxValue(), ")");
                 },
                 [](const PowerOfTwo& f) {
                   return StrCat("0 and +-2^", f.min_exponent, "..2^", f.max_exponent);
                 },
                 [](const AffineQuantizer& f) {
                   return StrCat("affine<scale ", f.scale, ", zero ", f.zero_point, ", [", f.q_min,
                                 ",", f.q_max, "]>");
                 },
                 [](const AffineFromData& f) {
                   return f.scheme.Describe() + (f.per_channel ? " per channel" : " per tensor");
                 }},
      format_);
  return rounding_ == Rounding::kStochastic && !is_float() ? base + " stochastic" : base;
}

int64_t TensorFormat::Apply(const float* in, float* out, int64_t n, int64_t channels, uint64_t seed,
                            QuantizeStats* stats) const {
  return std::visit(
      Overloaded{
          [&](const std::monostate&) -> int64_t {
            if (in != out) std::copy(in, in + n, out);
            return 0;
          },
          [&](const auto& f) -> int64_t { return f.QuantizeArray(in, out, n, rounding_, seed, 0, stats); },
          [&](const AffineFromData& f) -> int64_t {
            if (!f.per_channel || channels <= 1) {
              float low = 0.0f;
              float high = 0.0f;
              // As per channel: infinities and NaN stay out of the range (they saturate or stay
              // NaN), so that one overflowing value does not take every other value's resolution.
              for (int64_t i = 0; i < n; ++i) {
                if (!std::isfinite(in[i])) continue;
                low = std::min(low, in[i]);
                high = std::max(high, in[i]);
              }
              return ChooseAffineQuantizer(f.scheme, low, high)
                  .QuantizeArray(in, out, n, rounding_, seed, 0, stats);
            }
            const std::vector<AffineQuantizer> quantizers =
                ChoosePerChannelQuantizers(f.scheme, in, channels, n / channels);
            return QuantizePerChannel(quantizers, in, out, n / channels, rounding_, seed, 0, stats);
          }},
      format_);
}

int TensorFormat::ClipSide(float quantized) const {
  const auto side = [quantized](float low, float high) {
    return quantized >= high ? 1 : (quantized <= low ? -1 : 0);
  };
  return std::visit(Overloaded{[](const std::monostate&) { return 0; },
                               [](const AffineFromData&) { return 0; },  // its range covers the data
                               [&](const PowerOfTwo& f) { return side(-f.MaxValue(), f.MaxValue()); },
                               [&](const Minifloat& f) { return side(-f.MaxValue(), f.MaxValue()); },
                               [&](const auto& f) { return side(f.MinValue(), f.MaxValue()); }},
                    format_);
}

}  // namespace condense
