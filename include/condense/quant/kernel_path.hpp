// Which instruction set the quantize kernels run on. The build carries no -march flag: the AVX-512 and
// AVX2 kernels are compiled for their targets function by function and chosen at run time from what
// the processor reports; the portable kernel runs anywhere. Every path gives the same bits as the
// scalar reference (tests check this on each path the machine has), so the choice only changes speed.
// Tests and benchmarks may force a path.
#pragma once

namespace condense {

enum class KernelPath { kPortable, kAvx2, kAvx512 };

const char* KernelPathName(KernelPath path);
bool KernelPathSupported(KernelPath path);
// The fastest path this processor supports.
KernelPath BestKernelPath();
// The path the kernels use now: BestKernelPath() unless SetKernelPath chose another.
KernelPath ActiveKernelPath();
// Throws condense::Error when the processor lacks the path.
void SetKernelPath(KernelPath path);

}  // namespace condense
