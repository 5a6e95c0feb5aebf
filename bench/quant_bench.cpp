// Throughput of the quantize kernels, in elements per second on one thread, for every number format,
// both roundings and every instruction-set path this processor has, on 16M floats (far beyond the
// caches: memory bound, compare with the memcpy line) and on 64K floats (in cache: compute bound).
//   build-*/bench/quant_bench --benchmark_filter=Dfp
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "condense/core/parallel.hpp"
#include "condense/quant/dynamic_fixed_point.hpp"
#include "condense/quant/integer_affine.hpp"
#include "condense/quant/kernel_path.hpp"
#include "condense/quant/minifloat.hpp"
#include "condense/quant/power_of_two.hpp"

namespace condense {
namespace {

constexpr int64_t kLarge = int64_t{1} << 24;
constexpr int64_t kSmall = int64_t{1} << 16;

const std::vector<float>& Input(int64_t n) {
  static std::vector<float> large, small;
  std::vector<float>& values = n == kLarge ? large : small;
  if (values.empty()) {
    std::mt19937 random(1);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    values.resize(static_cast<size_t>(n));
    for (float& x : values) x = normal(random);
  }
  return values;
}

// Arguments: element count, kernel path, rounding (0 nearest, 1 stochastic), in place (0/1).
template <class Format>
void QuantizeBenchmark(benchmark::State& state, const Format& format) {
  const int64_t n = state.range(0);
  const auto path = static_cast<KernelPath>(state.range(1));
  const Rounding rounding = state.range(2) ? Rounding::kStochastic : Rounding::kNearest;
  const bool in_place = state.range(3) != 0;
  if (!KernelPathSupported(path)) {
    state.SkipWithError("this processor lacks the path");
    return;
  }
  SetThreadCount(1);
  SetKernelPath(path);
  const std::vector<float>& in = Input(n);
  std::vector<float> out(in.begin(), in.end());
  uint64_t seed = 0;
  for (auto _ : state) {
    // In place re-quantizes already quantized values, which costs the same as fresh ones.
    const int64_t saturated =
        format.QuantizeArray(in_place ? out.data() : in.data(), out.data(), n, rounding, seed++);
    benchmark::DoNotOptimize(saturated);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(2 * sizeof(float)));
  state.SetLabel(std::string(KernelPathName(path)) + (rounding == Rounding::kStochastic ? " stochastic" : " nearest") +
                 (in_place ? " in place" : ""));
}

void Arguments(benchmark::internal::Benchmark* benchmark) {
  for (int64_t n : {kLarge, kSmall}) {
    for (int path : {2, 1, 0}) {
      for (int rounding : {0, 1}) benchmark->Args({n, path, rounding, 0});
    }
    benchmark->Args({n, 2, 0, 1});
  }
  benchmark->Unit(benchmark::kMillisecond)->UseRealTime();
}

void Dfp8(benchmark::State& state) { QuantizeBenchmark(state, DynamicFixedPoint{8, 4}); }
void Minifloat8(benchmark::State& state) { QuantizeBenchmark(state, Minifloat{4, 3}); }
void PowerOfTwoWeights(benchmark::State& state) { QuantizeBenchmark(state, PowerOfTwo{-8, -1}); }
void AffineInt8(benchmark::State& state) {
  QuantizeBenchmark(state, ChooseAffineQuantizer({8, true, false}, -6.0f, 6.0f));
}
BENCHMARK(Dfp8)->Apply(Arguments);
BENCHMARK(Minifloat8)->Apply(Arguments);
BENCHMARK(PowerOfTwoWeights)->Apply(Arguments);
BENCHMARK(AffineInt8)->Apply(Arguments);

// The memory-bandwidth ceiling: copying the same array.
void Memcpy(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float>& in = Input(n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), static_cast<size_t>(n) * sizeof(float));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(2 * sizeof(float)));
}
BENCHMARK(Memcpy)->Arg(kLarge)->Arg(kSmall)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace condense

BENCHMARK_MAIN();
