// Minifloat (Ristretto's MINIFLOAT): a float with `exponent_bits` exponent bits and `mantissa_bits`
// stored mantissa bits, laid out as IEEE 754 does: bias 2^(e-1) - 1, subnormals below the smallest
// normal, the top exponent code reserved (for infinity/NaN in IEEE), so the largest value is
// (2 - 2^-m) * 2^bias. That makes {8, 23} exactly float32 (the proto's defaults leave a layer
// unchanged), {5, 10} binary16 and {8, 7} bfloat16, except for the two choices below.
//  - No infinity is produced: values beyond the largest finite one (and +-infinity) saturate to it.
//    NaN stays NaN. A zero result keeps the input's sign.
//  - Nearest rounding sends ties away from zero (IEEE conversion sends them to even), like the other
//    formats here and like Ristretto's CPU code; stochastic rounding rounds the magnitude up with
//    probability equal to its distance from the lower neighbour (unbiased).
// Implemented with integer operations on the float32 bit pattern, exact for every input.
//
// Ristretto's minifloat differs (its results can differ from ours on the same prototxt): its CPU loop
// returned from the whole function at the first zero or too-small input, leaving the rest of the array
// unquantized; it had no subnormals (inputs below 2^-bias became 0, truncated rather than rounded); it
// used the top exponent code for finite values (twice our range); NaN and infinity became the largest
// value; and a mantissa that rounded up at the top exponent went past its own maximum unclipped.
#pragma once

#include <cstdint>
#include <string>

#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/rounding.hpp"

namespace condense {

struct Minifloat {
  int exponent_bits = 8;   // e, 2..8 (simulated in float32, whose exponent has 8 bits)
  int mantissa_bits = 23;  // m, 0..23

  // Throws condense::Error naming `where` and the field (e.g. "exp_bits" / "mant_bits").
  void Validate(const std::string& where, const char* exponent_bits_field = "exponent_bits",
                const char* mantissa_bits_field = "mantissa_bits") const;

  int ExponentBias() const;     // 2^(e-1) - 1
  float MaxValue() const;       // (2 - 2^-m) * 2^bias
  float MinNormal() const;      // 2^(1 - bias)
  float MinSubnormal() const;   // 2^(1 - bias - m), also the step between subnormals
  std::string Describe() const;

  // Scalar reference (double arithmetic). See DynamicFixedPoint for the conventions.
  float Quantize(float x, bool* saturated = nullptr) const;
  float QuantizeStochastic(float x, float u, bool* saturated = nullptr) const;

  // Fast kernel; same contract as DynamicFixedPoint::QuantizeArray.
  int64_t QuantizeArray(const float* in, float* out, int64_t n,
                        Rounding rounding = Rounding::kNearest, uint64_t seed = 0,
                        uint64_t first_index = 0, QuantizeStats* stats = nullptr) const;
};

}  // namespace condense
