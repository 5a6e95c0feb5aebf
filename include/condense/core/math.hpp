// Dense math on float arrays: OpenBLAS for matrix products, and the small element-wise kernels layers
// share. Matrices are row-major, as in Caffe. These functions do not spawn threads of their own beyond
// what OpenBLAS is allowed (see parallel.hpp); layers parallelise over the batch where it pays.
#pragma once

#include <cstdint>

namespace condense {

enum class Transpose { kNo, kYes };

// C = alpha * op(A) * op(B) + beta * C, with op(A) M x K, op(B) K x N, C M x N.
void Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c);
// The same on sub-matrices of larger row-major arrays: lda, ldb and ldc are the row strides of A, B
// and C as stored (before op), so that a thread can take a slice of columns.
void Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc);
// y = alpha * op(A) * x + beta * y, A is M x N.
void Gemv(Transpose trans_a, int64_t m, int64_t n, float alpha, const float* a, const float* x,
          float beta, float* y);

void Axpy(int64_t n, float alpha, const float* x, float* y);          // y += alpha * x
void Axpby(int64_t n, float alpha, const float* x, float beta, float* y);  // y = alpha*x + beta*y
void Copy(int64_t n, const float* x, float* y);
void Set(int64_t n, float value, float* y);
void Scale(int64_t n, float alpha, float* x);                         // x *= alpha
void Scale(int64_t n, float alpha, const float* x, float* y);         // y = alpha * x
void AddScalar(int64_t n, float alpha, float* x);                     // x += alpha
void Add(int64_t n, const float* a, const float* b, float* y);        // y = a + b
void Sub(int64_t n, const float* a, const float* b, float* y);        // y = a - b
void Mul(int64_t n, const float* a, const float* b, float* y);        // y = a * b
void Div(int64_t n, const float* a, const float* b, float* y);        // y = a / b
void Square(int64_t n, const float* a, float* y);
void Sqrt(int64_t n, const float* a, float* y);
void Exp(int64_t n, const float* a, float* y);
void Log(int64_t n, const float* a, float* y);
void Abs(int64_t n, const float* a, float* y);
void PowX(int64_t n, const float* a, float exponent, float* y);
void Sign(int64_t n, const float* a, float* y);
float Dot(int64_t n, const float* x, const float* y);
float Asum(int64_t n, const float* x);
float SumSq(int64_t n, const float* x);

}  // namespace condense
