// The seedable random number source. One generator per process, reseeded by the solver's random_seed
// (or the CLI), so that the same seed gives the same run: fillers, dropout masks, data shuffling and
// random crops all draw from it in program order. Threads that need randomness take their own
// generator derived from this one up front, never the shared one.
#pragma once

#include <cstdint>
#include <random>

namespace condense {

using RandomEngine = std::mt19937_64;

void SeedRandom(uint64_t seed);
RandomEngine& GlobalRandom();
// A fresh engine seeded from the global one, for a worker thread or a data source.
RandomEngine ForkRandom();

void FillUniform(int64_t n, float low, float high, float* out);
void FillGaussian(int64_t n, float mean, float stddev, float* out);
void FillBernoulli(int64_t n, float p, uint32_t* out);
// Uniform integer in [0, n).
uint64_t RandomIndex(uint64_t n);

}  // namespace condense
