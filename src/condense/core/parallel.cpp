#include "condense/core/parallel.hpp"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <thread>

extern "C" {
void openblas_set_num_threads(int threads);
}

namespace condense {

namespace {
int g_thread_count = 0;  // 0: not set yet, use all cores
}  // namespace

void SetThreadCount(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_thread_count = threads;
  omp_set_num_threads(threads);
  openblas_set_num_threads(1);
}

int ThreadCount() {
  if (g_thread_count == 0) SetThreadCount(0);
  return g_thread_count;
}

void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& body) {
  if (n <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(ThreadCount(), n));
  if (threads <= 1) {
    body(0, n, 0);
    return;
  }
  // An exception must not leave an OpenMP region; the first one is carried out and rethrown.
  std::exception_ptr failure;
#pragma omp parallel num_threads(threads)
  {
    // Split by the team OpenMP actually gave: inside another parallel region (a layer's loop over
    // images calling a quantize kernel) nesting is off and the team has one thread, which must then
    // do all of the work, not the first of `threads` shares.
    const int team = omp_get_num_threads();
    const int thread = omp_get_thread_num();
    const int64_t begin = n * thread / team;
    const int64_t end = n * (thread + 1) / team;
    try {
      if (begin < end) body(begin, end, thread);
    } catch (...) {
#pragma omp critical(condense_parallel_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

void ParallelFor(int64_t n, int64_t work, const std::function<void(int64_t, int64_t, int)>& body) {
  if (n <= 0) return;
  if (work < kMinParallelWork) {
    body(0, n, 0);
    return;
  }
  ParallelFor(n, body);
}

}  // namespace condense
