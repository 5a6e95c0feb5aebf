#include "condense/core/random.hpp"

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

void FillUniform(int64_t n, float low, float high, float* out) {
  std::uniform_real_distribution<float> distribution(low, high);
  for (int64_t i = 0; i < n; ++i) out[i] = distribution(GlobalRandom());
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
