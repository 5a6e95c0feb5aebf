#include "condense/core/math.hpp"

#include <cblas.h>

#include <cmath>
#include <cstring>

namespace condense {

namespace {
CBLAS_TRANSPOSE ToCblas(Transpose t) { return t == Transpose::kYes ? CblasTrans : CblasNoTrans; }
}  // namespace

void Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c) {
  const int64_t lda = trans_a == Transpose::kNo ? k : m;
  const int64_t ldb = trans_b == Transpose::kNo ? n : k;
  cblas_sgemm(CblasRowMajor, ToCblas(trans_a), ToCblas(trans_b), m, n, k, alpha, a, lda, b, ldb,
              beta, c, n);
}

void Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ToCblas(trans_a), ToCblas(trans_b), m, n, k, alpha, a, lda, b, ldb,
              beta, c, ldc);
}

void Gemv(Transpose trans_a, int64_t m, int64_t n, float alpha, const float* a, const float* x,
          float beta, float* y) {
  cblas_sgemv(CblasRowMajor, ToCblas(trans_a), m, n, alpha, a, n, x, 1, beta, y, 1);
}

void Axpy(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void Axpby(int64_t n, float alpha, const float* x, float beta, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + beta * y[i];
}

void Copy(int64_t n, const float* x, float* y) {
  if (x != y && n > 0) std::memcpy(y, x, sizeof(float) * n);
}

void Set(int64_t n, float value, float* y) {
  if (value == 0.0f) {
    if (n > 0) std::memset(y, 0, sizeof(float) * n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

void Scale(int64_t n, float alpha, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] *= alpha;
}

void Scale(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

void AddScalar(int64_t n, float alpha, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] += alpha;
}

void Add(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void Sub(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i];
}

void Mul(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void Div(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i];
}

void Square(int64_t n, const float* a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * a[i];
}

void Sqrt(int64_t n, const float* a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(a[i]);
}

void Exp(int64_t n, const float* a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(a[i]);
}

void Log(int64_t n, const float* a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::log(a[i]);
}

void Abs(int64_t n, const float* a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fabs(a[i]);
}

void PowX(int64_t n, const float* a, float exponent, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::pow(a[i], exponent);
}

void Sign(int64_t n, const float* a, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>((0.0f < a[i]) - (a[i] < 0.0f));
}

float Dot(int64_t n, const float* x, const float* y) { return cblas_sdot(n, x, 1, y, 1); }

float Asum(int64_t n, const float* x) { return cblas_sasum(n, x, 1); }

float SumSq(int64_t n, const float* x) { return cblas_sdot(n, x, 1, x, 1); }

}  // namespace condense
