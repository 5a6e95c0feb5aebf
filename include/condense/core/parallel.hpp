// How many threads condense computes with, and the one loop helper layers use to spread work over them.
// All parallelism is condense's own (layers split their batch or their outputs with ParallelFor);
// OpenBLAS always runs on the calling thread, because its thread pool and ours fighting over the same
// cores stalled layers for milliseconds. Work is split statically, so results depend only on the thread
// count, never on timing.
#pragma once

#include <cstdint>
#include <functional>

namespace condense {

void SetThreadCount(int threads);  // 0 or less: all cores
int ThreadCount();

// Runs body(begin, end, thread_index) over [0, n) split into at most ThreadCount() contiguous chunks,
// one per thread. Runs inline when n is small or one thread is set.
void ParallelFor(int64_t n, const std::function<void(int64_t begin, int64_t end, int thread)>& body);
// The same, but runs inline when `work` (about how many values the whole loop touches) is below
// kMinParallelWork, where waking the threads costs more than the loop (a LeNet softmax, a test blob).
constexpr int64_t kMinParallelWork = int64_t{1} << 15;
void ParallelFor(int64_t n, int64_t work,
                 const std::function<void(int64_t begin, int64_t end, int thread)>& body);


}  // namespace condense
