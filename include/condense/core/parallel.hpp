// How many threads condense computes with, and the one loop helper layers use to spread work over them.
// OpenBLAS and condense's own kernels share the budget set by SetThreadCount (the CLI's --threads): a
// kernel that runs its own threads asks BLAS for one thread inside them, so the two never multiply.
// Work is split statically, so results depend only on the thread count, never on timing.
#pragma once

#include <cstdint>
#include <functional>

namespace condense {

void SetThreadCount(int threads);  // 0 or less: all cores
int ThreadCount();

// Runs body(begin, end, thread_index) over [0, n) split into at most ThreadCount() contiguous chunks,
// one per thread, each with BLAS held to one thread. Runs inline when n is small or one thread is set.
void ParallelFor(int64_t n, const std::function<void(int64_t begin, int64_t end, int thread)>& body);
// The same, but runs inline when `work` (about how many values the whole loop touches) is below
// kMinParallelWork, where waking the threads costs more than the loop (a LeNet softmax, a test blob).
constexpr int64_t kMinParallelWork = int64_t{1} << 15;
void ParallelFor(int64_t n, int64_t work,
                 const std::function<void(int64_t begin, int64_t end, int thread)>& body);

// Caps BLAS to one thread for the lifetime of the object (used inside parallel regions).
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_;
};

}  // namespace condense
