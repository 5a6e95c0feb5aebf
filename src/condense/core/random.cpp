#include "condense/core/random.hpp"

#include <algorithm>

namespace condense {

namespace {
// Caffe's default seed would be time-based; condense starts from a fixed one so that runs without a
// random_seed are reproducible too.
constexpr uint64_t kDefaultSeed = 1701;
}  // namespace

RandomEngine& GlobalRandom() {
  static RandomEngine engine(kDefaultSeed);
  return engine;
}

void SeedRandom(uint64_t seed) { GlobalRandom().seed(seed); }

RandomEngine ForkRandom() {
  std::seed_seq seeds{GlobalRandom()(), GlobalRandom()()};
  return RandomEngine(seeds);
}

// A counter-based stream (splitmix64 of seed + index) keyed by one draw of the global generator: the
// same seed still gives the same values, and filling is a loop the compiler vectorises instead of one
// generator call per value (DummyData refills its blobs on every forward).
void FillUniform(int64_t n, float low, float high, float* out) {
  const uint64_t key = GlobalRandom()();
  const float span = high - low;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = key + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // 24 bits: [0, 1)
    out[i] = std::min(low + span * unit, high);
  }
}

void FillGaussian(int64_t n, float mean, float stddev, float* out) {
  std::normal_distribution<float> distribution(mean, stddev);
  for (int64_t i = 0; i < n; ++i) out[i] = distribution(GlobalRandom());
}

void FillBernoulli(int64_t n, float p, uint32_t* out) {
  std::bernoulli_distribution distribution(p);
  for (int64_t i = 0; i < n; ++i) out[i] = distribution(GlobalRandom()) ? 1u : 0u;
}

uint64_t RandomIndex(uint64_t n) {
  std::uniform_int_distribution<uint64_t> distribution(0, n - 1);
  return distribution(GlobalRandom());
}

}  // namespace condense
