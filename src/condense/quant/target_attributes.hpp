// The function attributes under which the quant part's fast kernels are compiled (private to
// src/condense/quant): each kernel is built for its instruction set function by function, and chosen at
// run time (kernel_path.hpp), so the library still runs on a plain x86-64 processor.
#pragma once

#define CONDENSE_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,popcnt")))
#define CONDENSE_TARGET_AVX2 __attribute__((target("avx2,popcnt")))
#define CONDENSE_ALWAYS_INLINE inline __attribute__((always_inline))
