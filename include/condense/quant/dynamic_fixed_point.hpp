// Dynamic fixed point (Ristretto's DYNAMIC_FIXED_POINT): a two's-complement integer k of `bit_width`
// bits scaled by 2^-fractional_bits, so the representable values are k * 2^-fl with
// k in [-2^(bw-1), 2^(bw-1) - 1]. "Dynamic" because each layer's inputs, outputs and parameters get
// their own fractional length. fl may be negative (steps of 2, 4, ...) or exceed the width (all values
// below 1 in magnitude).
//
// Arithmetic, exactly: y = x * 2^fl; k = round(y) (nearest: ties away from zero, as C's round() in
// Ristretto's CPU code — its GPU code used rint(), ties to even) or k = floor(y + u) (stochastic); k is
// clipped to the integer range (counted as saturated when clipping changed it); the result is the float
// nearest to k * 2^-fl (exact for bw <= 25; for wider words only the clip bound 2^(bw-1) - 1 itself may
// round). A zero result keeps the input's sign. NaN stays NaN; +-infinity saturate. Ristretto clipped
// before rounding; clipping after gives the same values and lets the kernel count saturations.
#pragma once

#include <cstdint>
#include <string>

#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/rounding.hpp"

namespace condense {

struct DynamicFixedPoint {
  int bit_width = 32;        // bw, 1..32
  int fractional_bits = 16;  // fl, -126..126 and >= bw - 128 (so that every value is a finite float)

  // Throws condense::Error naming `where` (e.g. "net.prototxt: layer 'conv1': ") and the field
  // (the proto's names, e.g. "bw_params" / "fl_params") when the format cannot be simulated.
  void Validate(const std::string& where, const char* bit_width_field = "bit_width",
                const char* fractional_bits_field = "fractional_bits") const;

  float Step() const;      // 2^-fl, the distance between neighbours
  float MaxValue() const;  // (2^(bw-1) - 1) * 2^-fl
  float MinValue() const;  // -2^(bw-1) * 2^-fl
  std::string Describe() const;

  // The scalar reference (double arithmetic, written for clarity); `saturated` is set when the value
  // was clipped. The stochastic form takes the draw u in [0, 1) explicitly.
  float Quantize(float x, bool* saturated = nullptr) const;
  float QuantizeStochastic(float x, float u, bool* saturated = nullptr) const;

  // The fast kernel: out[i] = the quantized in[i] for i < n; in == out is allowed. Stochastic rounding
  // uses u = UniformDraw(seed, first_index + i) for element i, so a caller that splits an array passes
  // each piece's offset and gets the same bits as one call. Returns the number of saturated values and
  // adds count, saturations and signal/noise energies into *stats when given. Splits large arrays over
  // ThreadCount() threads.
  int64_t QuantizeArray(const float* in, float* out, int64_t n,
                        Rounding rounding = Rounding::kNearest, uint64_t seed = 0,
                        uint64_t first_index = 0, QuantizeStats* stats = nullptr) const;
};

}  // namespace condense
