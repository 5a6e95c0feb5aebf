// The fast kernels against the scalar references: every format, both roundings, every instruction-set
// path this processor has, on tensors full of ties, bounds, zeros, subnormals, infinities and NaN, at
// lengths that are not multiples of the vector width, in place, split into pieces, and on 1 or 2
// threads. Equality is bit for bit (NaN only needs to stay NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "condense/quant/dynamic_fixed_point.hpp"
#include "condense/quant/integer_affine.hpp"
#include "condense/quant/kernel_path.hpp"
#include "condense/quant/minifloat.hpp"
#include "condense/quant/power_of_two.hpp"
#include "quant_test_helpers.hpp"

namespace condense {
namespace {

using testing::SameFloat;

// Puts the thread count back when a test that changes it ends.
class ScopedThreadCount {
 public:
  explicit ScopedThreadCount(int threads) : saved_(ThreadCount()) { SetThreadCount(threads); }
  ~ScopedThreadCount() { SetThreadCount(saved_); }
  ScopedThreadCount(const ScopedThreadCount&) = delete;
  ScopedThreadCount& operator=(const ScopedThreadCount&) = delete;

 private:
  int saved_;
};

// One format under test, type-erased: its array kernel, its reference, and its scale for stress data.
struct FormatUnderTest {
  std::string name;
  std::function<int64_t(const float*, float*, int64_t, Rounding, uint64_t, uint64_t, QuantizeStats*)> kernel;
  std::function<float(float, bool, float, bool*)> reference;  // (x, stochastic, u, saturated)
  float step;
  float max;
};

template <class Format>
FormatUnderTest Describe(const std::string& name, const Format& format, float step, float max) {
  return {name,
          [format](const float* in, float* out, int64_t n, Rounding rounding, uint64_t seed, uint64_t first,
                   QuantizeStats* stats) { return format.QuantizeArray(in, out, n, rounding, seed, first, stats); },
          [format](float x, bool stochastic, float u, bool* saturated) {
            return stochastic ? format.QuantizeStochastic(x, u, saturated) : format.Quantize(x, saturated);
          },
          step, max};
}

std::vector<FormatUnderTest> FormatsUnderTest() {
  std::vector<FormatUnderTest> formats;
  for (const DynamicFixedPoint& f : {DynamicFixedPoint{8, 1}, DynamicFixedPoint{4, -2}, DynamicFixedPoint{8, 12},
                                     DynamicFixedPoint{1, 0}, DynamicFixedPoint{16, 8}, DynamicFixedPoint{32, 16},
                                     DynamicFixedPoint{26, 0}, DynamicFixedPoint{2, 126}, DynamicFixedPoint{32, -96}}) {
    formats.push_back(Describe("dfp bw " + std::to_string(f.bit_width) + " fl " + std::to_string(f.fractional_bits),
                               f, f.Step(), f.MaxValue()));
  }
  for (const Minifloat& f : {Minifloat{4, 3}, Minifloat{5, 2}, Minifloat{5, 10}, Minifloat{8, 7}, Minifloat{8, 23},
                             Minifloat{8, 0}, Minifloat{2, 0}, Minifloat{2, 5}, Minifloat{3, 23}, Minifloat{7, 1}}) {
    formats.push_back(Describe("minifloat e" + std::to_string(f.exponent_bits) + " m" +
                                   std::to_string(f.mantissa_bits),
                               f, f.MinSubnormal(), f.MaxValue()));
  }
  for (const PowerOfTwo& f : {PowerOfTwo{-8, -1}, PowerOfTwo{0, 3}, PowerOfTwo{-125, 127}, PowerOfTwo{5, 5},
                              PowerOfTwo{-20, 10}}) {
    formats.push_back(Describe("pow2 " + std::to_string(f.min_exponent) + ".." + std::to_string(f.max_exponent),
                               f, f.MinPositive(), f.MaxValue()));
  }
  for (const AffineQuantizer& q :
       {ChooseAffineQuantizer({8, true, false}, -1.0f, 1.0f), ChooseAffineQuantizer({8, false, false}, -10.0f, 30.0f),
        ChooseAffineQuantizer({4, true, true}, -0.3f, 0.2f), ChooseAffineQuantizer({24, false, false}, 0.0f, 1e6f),
        ChooseAffineQuantizer({16, true, true}, -3.0f, 3.0f), ChooseAffineQuantizer({1, false, false}, 0.0f, 1.0f)}) {
    formats.push_back(Describe("affine scale " + std::to_string(q.scale) + " zero " + std::to_string(q.zero_point),
                               q, q.scale, q.MaxValue()));
  }
  return formats;
}

// Runs the reference element by element, as the kernel must behave.
std::vector<float> ReferenceOutput(const FormatUnderTest& format, const std::vector<float>& in, Rounding rounding,
                                   uint64_t seed, uint64_t first, int64_t* saturated) {
  std::vector<float> out(in.size());
  *saturated = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    bool clipped = false;
    const bool stochastic = rounding == Rounding::kStochastic;
    out[i] = format.reference(in[i], stochastic, stochastic ? UniformDraw(seed, first + i) : 0.0f, &clipped);
    *saturated += clipped;
  }
  return out;
}

void ExpectSameArrays(const std::vector<float>& expected, const std::vector<float>& actual, const std::vector<float>& in,
                      const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size());
  int reported = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!SameFloat(expected[i], actual[i]) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " x = " << in[i] << " (0x" << std::hex << testing::BitsOf(in[i])
                    << std::dec << ") reference " << expected[i] << " kernel " << actual[i];
    }
  }
}

TEST(KernelPathsTest, EveryPathMatchesTheReferenceBitForBit) {
  ScopedThreadCount one_thread(1);
  const std::vector<int64_t> lengths = {1, 7, 15, 16, 17, 33, 1000, 4099};
  for (KernelPath path : testing::SupportedKernelPaths()) {
    testing::ScopedKernelPath scoped(path);
    for (const FormatUnderTest& format : FormatsUnderTest()) {
      for (Rounding rounding : {Rounding::kNearest, Rounding::kStochastic}) {
        for (int64_t n : lengths) {
          const std::string what = std::string(KernelPathName(path)) + " " + format.name + " " +
                                   RoundingName(rounding) + " n=" + std::to_string(n);
          const std::vector<float> in = testing::StressTensor(n, format.step, format.max, static_cast<uint32_t>(n));
          const uint64_t seed = 1234, first = 77;
          int64_t expected_saturated = 0;
          const std::vector<float> expected = ReferenceOutput(format, in, rounding, seed, first, &expected_saturated);
          std::vector<float> out(in.size(), 12345.0f);
          EXPECT_EQ(expected_saturated, format.kernel(in.data(), out.data(), n, rounding, seed, first, nullptr)) << what;
          ExpectSameArrays(expected, out, in, what);
          // In place, with statistics.
          std::vector<float> in_place = in;
          QuantizeStats stats;
          EXPECT_EQ(expected_saturated,
                    format.kernel(in_place.data(), in_place.data(), n, rounding, seed, first, &stats)) << what;
          ExpectSameArrays(expected, in_place, in, what + " in place");
          EXPECT_EQ(n, stats.count) << what;
          EXPECT_EQ(expected_saturated, stats.saturated) << what;
        }
      }
    }
  }
}

// Outputs of 4M floats and more are written with streaming stores from the first 64-byte boundary on:
// the same bits, wherever the output starts and on one thread or two.
TEST(KernelPathsTest, LargeOutputsStreamedMatchTheReference) {
  const int64_t n = (int64_t{4} << 20) + 21;
  ScopedThreadCount restore(ThreadCount());
  const std::vector<FormatUnderTest> all = FormatsUnderTest();
  // One format of each kind: dynamic fixed point, minifloat, power of two, affine.
  for (const FormatUnderTest* format : {&all[0], &all[9], &all[19], &all[24]}) {
    const std::vector<float> in = testing::StressTensor(n, format->step, format->max, 11);
    for (Rounding rounding : {Rounding::kNearest, Rounding::kStochastic}) {
      int64_t expected_saturated = 0;
      const std::vector<float> expected = ReferenceOutput(*format, in, rounding, 5, 3, &expected_saturated);
      for (KernelPath path : testing::SupportedKernelPaths()) {
        testing::ScopedKernelPath scoped(path);
        for (int threads : {1, 2}) {
          SetThreadCount(threads);
          // Two starts 12 bytes apart: at most one is on a 64-byte boundary, so a head is written too.
          std::vector<float> buffer(n + 3);
          for (float* out : {buffer.data() + 3, buffer.data()}) {
            const std::string what = std::string(KernelPathName(path)) + " " + format->name + " " +
                                     RoundingName(rounding) + " threads " + std::to_string(threads) +
                                     " offset " + std::to_string(out - buffer.data());
            EXPECT_EQ(expected_saturated, format->kernel(in.data(), out, n, rounding, 5, 3, nullptr)) << what;
            ExpectSameArrays(expected, std::vector<float>(out, out + n), in, what);
          }
        }
      }
    }
  }
}

TEST(KernelPathsTest, OutputDoesNotDependOnSplitOrThreads) {
  const int64_t n = 300001;  // large enough to be split over threads
  ScopedThreadCount restore(ThreadCount());
  for (const FormatUnderTest& format : FormatsUnderTest()) {
    const std::vector<float> in = testing::StressTensor(n, format.step, format.max, 5);
    for (Rounding rounding : {Rounding::kNearest, Rounding::kStochastic}) {
      const std::string what = format.name + " " + RoundingName(rounding);
      SetThreadCount(1);
      std::vector<float> whole(in.size());
      const int64_t saturated = format.kernel(in.data(), whole.data(), n, rounding, 9, 0, nullptr);
      // In three pieces, each told where it starts.
      std::vector<float> pieces(in.size());
      const int64_t cut1 = 12345, cut2 = 200003;
      int64_t pieces_saturated = format.kernel(in.data(), pieces.data(), cut1, rounding, 9, 0, nullptr);
      pieces_saturated += format.kernel(in.data() + cut1, pieces.data() + cut1, cut2 - cut1, rounding, 9, cut1, nullptr);
      pieces_saturated += format.kernel(in.data() + cut2, pieces.data() + cut2, n - cut2, rounding, 9, cut2, nullptr);
      EXPECT_EQ(saturated, pieces_saturated) << what;
      ExpectSameArrays(whole, pieces, in, what + " in pieces");
      // On two threads.
      SetThreadCount(2);
      std::vector<float> threaded(in.size());
      QuantizeStats stats;
      EXPECT_EQ(saturated, format.kernel(in.data(), threaded.data(), n, rounding, 9, 0, &stats)) << what;
      EXPECT_EQ(saturated, stats.saturated) << what;
      ExpectSameArrays(whole, threaded, in, what + " on two threads");
      SetThreadCount(1);
    }
  }
}

TEST(KernelPathsTest, StatisticsSumSignalAndNoiseOverFiniteValues) {
  ScopedThreadCount one_thread(1);
  const DynamicFixedPoint format{8, 1};
  const std::vector<float> in = {0.25f, 1.0f, -3.3f, 100.0f, testing::kInf, testing::kNaN, -0.1f};
  double signal = 0, noise = 0;
  int64_t saturated = 0;
  for (float x : in) {
    bool clipped = false;
    const float q = format.Quantize(x, &clipped);
    saturated += clipped;
    if (!std::isfinite(x)) continue;
    signal += static_cast<double>(x) * x;
    noise += (static_cast<double>(x) - q) * (static_cast<double>(x) - q);
  }
  for (KernelPath path : testing::SupportedKernelPaths()) {
    testing::ScopedKernelPath scoped(path);
    QuantizeStats stats;
    std::vector<float> out(in.size());
    format.QuantizeArray(in.data(), out.data(), static_cast<int64_t>(in.size()), Rounding::kNearest, 0, 0, &stats);
    format.QuantizeArray(in.data(), out.data(), static_cast<int64_t>(in.size()), Rounding::kNearest, 0, 0, &stats);
    EXPECT_EQ(14, stats.count) << KernelPathName(path);
    EXPECT_EQ(2 * saturated, stats.saturated) << KernelPathName(path);
    EXPECT_DOUBLE_EQ(2 * signal, stats.signal_energy) << KernelPathName(path);
    EXPECT_DOUBLE_EQ(2 * noise, stats.noise_energy) << KernelPathName(path);
    EXPECT_NEAR(10 * std::log10(signal / noise), stats.SqnrDb(), 1e-9);
    EXPECT_NEAR(4.0 / 14, stats.SaturatedShare(), 1e-12);  // 100 and +inf, twice
  }
}

TEST(KernelPathsTest, ForcingAPathTheProcessorLacksThrows) {
  for (KernelPath path : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
    if (KernelPathSupported(path)) {
      testing::ScopedKernelPath scoped(path);
      EXPECT_EQ(path, ActiveKernelPath());
    } else {
      EXPECT_THROW(SetKernelPath(path), Error);
    }
  }
  EXPECT_TRUE(KernelPathSupported(KernelPath::kPortable));
}

}  // namespace
}  // namespace condense
