#include "condense/quant/kernel_path.hpp"

#include <atomic>

#include "condense/core/error.hpp"

namespace condense {

namespace {
// -1: no override, use BestKernelPath().
std::atomic<int> g_forced_path{-1};
}  // namespace

const char* KernelPathName(KernelPath path) {
  switch (path) {
    case KernelPath::kAvx512:
      return "avx512";
    case KernelPath::kAvx2:
      return "avx2";
    case KernelPath::kPortable:
      break;
  }
  return "portable";
}

bool KernelPathSupported(KernelPath path) {
  // __builtin_cpu_supports also checks that the operating system saves the vector registers.
  switch (path) {
    case KernelPath::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("popcnt");
    case KernelPath::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case KernelPath::kPortable:
      break;
  }
  return true;
}

KernelPath BestKernelPath() {
  static const KernelPath best = KernelPathSupported(KernelPath::kAvx512) ? KernelPath::kAvx512
                                 : KernelPathSupported(KernelPath::kAvx2) ? KernelPath::kAvx2
                                                                          : KernelPath::kPortable;
  return best;
}

KernelPath ActiveKernelPath() {
  const int forced = g_forced_path.load(std::memory_order_relaxed);
  return forced < 0 ? BestKernelPath() : static_cast<KernelPath>(forced);
}

void SetKernelPath(KernelPath path) {
  CONDENSE_CHECK(KernelPathSupported(path), "quantize kernels: this processor does not support the ",
                 KernelPathName(path), " path");
  g_forced_path.store(static_cast<int>(path), std::memory_order_relaxed);
}

}  // namespace condense
