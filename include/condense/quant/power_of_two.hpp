// Power-of-two weights (Ristretto's INTEGER_POWER_OF_2_WEIGHTS): values sign * 2^e with e in
// [min_exponent, max_exponent], plus an exact zero, so a multiplication becomes a shift.
//
// Nearest rounding rounds log2|x| to the nearest integer, as Ristretto did (so its prototxts score as
// they did there): |x| goes up to 2^(e+1) when |x| >= 2^e * sqrt(2), the geometric midpoint, which is
// decided exactly on the float's mantissa rather than through log2f(). Exponents below the range
// become min_exponent and above it max_exponent (counted as saturated; +-infinity too). Unlike
// Ristretto, which had no zero (it turned 0 into +2^min_exponent), |x| < 2^(min_exponent - 1), half the
// smallest magnitude, becomes 0 with the input's sign. NaN stays NaN.
//
// Stochastic rounding is unbiased in value: between 2^e and 2^(e+1) (or between 0 and 2^min_exponent)
// the magnitude rounds up with probability equal to its linear distance from the lower neighbour.
// Ristretto instead computed floor(log2|x| + u), which is biased in value.
#pragma once

#include <cstdint>
#include <string>

#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/rounding.hpp"

namespace condense {

struct PowerOfTwo {
  int min_exponent = -8;  // -125..max_exponent
  int max_exponent = -1;  // min_exponent..127

  // Throws condense::Error naming `where` and the field (e.g. "exp_min" / "exp_max").
  void Validate(const std::string& where, const char* min_exponent_field = "min_exponent",
                const char* max_exponent_field = "max_exponent") const;

  float MaxValue() const;       // 2^max_exponent
  float MinPositive() const;    // 2^min_exponent
  float ZeroThreshold() const;  // 2^(min_exponent - 1): magnitudes below it round to zero
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
