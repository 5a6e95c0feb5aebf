// What a quantize kernel reports about one pass, so that the layer wrapper and the analysis can say
// how much of a tensor saturated and how much noise the word width added (signal-to-quantization-
// noise ratio). Kernels add into it, so one object can gather a whole layer or a whole run.
#pragma once

#include <cstdint>

namespace condense {

struct QuantizeStats {
  int64_t count = 0;        // values seen, NaN and infinities included
  int64_t saturated = 0;    // values whose rounded result fell outside the format and was clipped
  double signal_energy = 0; // sum of x^2 over finite inputs
  double noise_energy = 0;  // sum of (x - q(x))^2 over finite inputs

  void Merge(const QuantizeStats& other);
  // saturated / count, 0 for an empty pass.
  double SaturatedShare() const;
  // 10 log10(signal / noise) in dB; +infinity when there was no noise (e.g. all values representable),
  // 0 when there was no signal either.
  double SqnrDb() const;
};

}  // namespace condense
