// Integer affine quantization, as gemmlowp and TensorFlow Lite define it: real = scale * (q - zero_point)
// with q an integer of `bits` bits. The scale and zero point come from a real range [min, max], first
// widened to contain 0, with the zero point nudged to an integer so that 0 is exact (TFLite's
// ChooseQuantizationParams: the zero point is solved from whichever end adds the smaller terms, then
// rounded and kept inside the integer range). Symmetric schemes fix the zero point at the middle of
// the integer range (0 for signed, 2^(bits-1) for unsigned) and use a range narrowed by one code so it
// is symmetric about it (int8: [-127, 127], as TFLite's per-channel weights) with
// scale = max(|min|, |max|) / (2^(bits-1) - 1). Per-channel quantizers (one per output channel, the
// blob's axis 0) are chosen from each channel's own range.
//
// The simulated value of x: y = x / scale in float; k = round(y) (ties away from zero, TfLiteRound) or
// floor(y + u); q = k + zero_point clipped to [q_min, q_max] (saturated when clipping changed it);
// result = float((q - zero_point) * scale). Zero results are +0. NaN stays NaN; +-infinity saturate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/quant/quantize_stats.hpp"
#include "condense/quant/rounding.hpp"

namespace condense {

struct AffineScheme {
  int bits = 8;             // 1..24 (2..24 when symmetric): q and q - zero_point stay exact in float
  bool is_signed = true;    // int8-style [-128, 127] rather than uint8-style [0, 255]
  bool symmetric = false;

  // Throws condense::Error naming `where` and the field.
  void Validate(const std::string& where, const char* bits_field = "bits") const;
  int32_t QMin() const;  // the integer range, narrowed by one code at the bottom when symmetric
  int32_t QMax() const;
  std::string Describe() const;
};

// One tensor's (or one channel's) scale and zero point, with its integer range.
struct AffineQuantizer {
  float scale = 1.0f;
  int32_t zero_point = 0;
  int32_t q_min = -128;
  int32_t q_max = 127;

  // Throws condense::Error naming `where` when scale is not a positive normal float or the zero point
  // lies outside [q_min, q_max].
  void Validate(const std::string& where) const;
  float MinValue() const;  // (q_min - zero_point) * scale
  float MaxValue() const;  // (q_max - zero_point) * scale
  float Step() const { return scale; }

  // Scalar reference. See DynamicFixedPoint for the conventions.
  float Quantize(float x, bool* saturated = nullptr) const;
  float QuantizeStochastic(float x, float u, bool* saturated = nullptr) const;

  // Fast kernel; same contract as DynamicFixedPoint::QuantizeArray.
  int64_t QuantizeArray(const float* in, float* out, int64_t n,
                        Rounding rounding = Rounding::kNearest, uint64_t seed = 0,
                        uint64_t first_index = 0, QuantizeStats* stats = nullptr) const;
};

// The quantizer for the real range [min, max] (widened to contain 0). Throws condense::Error naming
// `where` when min > max or either is not finite. A range that is the single point 0 gets scale 1.
// Scales below the smallest normal float are raised to it.
AffineQuantizer ChooseAffineQuantizer(const AffineScheme& scheme, float min, float max,
                                      const std::string& where = "");

// One quantizer per channel of `data`, laid out as `channels` consecutive runs of `channel_size`
// values (a weight blob's output channels), each chosen from the run's own min and max (NaN ignored).
std::vector<AffineQuantizer> ChoosePerChannelQuantizers(const AffineScheme& scheme, const float* data,
                                                        int64_t channels, int64_t channel_size,
                                                        const std::string& where = "");

// Quantizes channels.size() runs of channel_size values, run c with quantizers[c]. Element i of the
// whole array draws UniformDraw(seed, first_index + i), as one call of QuantizeArray would.
int64_t QuantizePerChannel(const std::vector<AffineQuantizer>& quantizers, const float* in, float* out,
                           int64_t channel_size, Rounding rounding = Rounding::kNearest,
                           uint64_t seed = 0, uint64_t first_index = 0,
                           QuantizeStats* stats = nullptr);

}  // namespace condense
