#include "tensor/matrix_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/fast_math.hpp"
#include "base/parallel.hpp"

namespace lmn {

namespace {

template <typename F>
Matrix map(const Matrix& a, F f) {
  Matrix out(a.rows(), a.cols());
  const float* src = a.data();
  float* dst = out.data();
  for (std::size_t i = 0; i < a.size(); ++i) dst[i] = f(src[i]);
  return out;
}

template <typename F>
Matrix zip(const Matrix& a, const Matrix& b, const char* op, F f) {
  require_same_shape(a, b, op);
  Matrix out(a.rows(), a.cols());
  const float* x = a.data();
  const float* y = b.data();
  float* dst = out.data();
  for (std::size_t i = 0; i < a.size(); ++i) dst[i] = f(x[i], y[i]);
  return out;
}

}  // namespace

Matrix add(const Matrix& a, const Matrix& b) {
  return zip(a, b, "add", [](float x, float y) { return x + y; });
}
Matrix subtract(const Matrix& a, const Matrix& b) {
  return zip(a, b, "subtract", [](float x, float y) { return x - y; });
}
Matrix hadamard(const Matrix& a, const Matrix& b) {
  return zip(a, b, "hadamard", [](float x, float y) { return x * y; });
}
Matrix scale(const Matrix& a, float s) {
  return map(a, [s](float x) { return x * s; });
}

void axpy(Matrix& a, float s, const Matrix& b) {
  require_same_shape(a, b, "axpy");
  float* dst = a.data();
  const float* src = b.data();
  for (std::size_t i = 0; i < a.size(); ++i) dst[i] += s * src[i];
}

Matrix add_row_vector(const Matrix& x, const Matrix& bias) {
  if (bias.rows() != 1 || bias.cols() != x.cols()) {
    throw ShapeError("add_row_vector: bias shape " + bias.shape_str() + " does not broadcast over " + x.shape_str() +
                     " (expected (1, " + std::to_string(x.cols()) + "))");
  }
  Matrix out(x.rows(), x.cols(), Matrix::kUninitialized);  // every entry written below
  for (int r = 0; r < x.rows(); ++r) {
    const float* src = x.row(r);
    float* dst = out.row(r);
    for (int c = 0; c < x.cols(); ++c) dst[c] = src[c] + bias[c];
  }
  return out;
}

Matrix sum_rows(const Matrix& x) {
  Matrix out(1, x.cols());
  // Each thread sums all rows of one contiguous column range, in row order:
  // the result does not depend on the thread count.
  for_column_ranges(x.cols(), x.size() >= kParallelColumnSums, [&](int c0, int c1) {
    for (int r = 0; r < x.rows(); ++r) {
      const float* src = x.row(r);
      for (int c = c0; c < c1; ++c) out[c] += src[c];
    }
  });
  return out;
}

Matrix transpose(const Matrix& a) {
  Matrix out(a.cols(), a.rows());
  for (int r = 0; r < a.rows(); ++r)
    for (int c = 0; c < a.cols(); ++c) out(c, r) = a(r, c);
  return out;
}

float sigmoid(float x) {
  // Split by sign so exp never overflows.
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

Matrix sigmoid(const Matrix& x) {
  return map(x, [](float v) { return sigmoid(v); });
}
Matrix tanh(const Matrix& x) {
  return map(x, [](float v) { return std::tanh(v); });
}
Matrix relu(const Matrix& x) {
  return map(x, [](float v) { return v > 0.0f ? v : 0.0f; });
}
Matrix sigmoid_grad_from_output(const Matrix& y, const Matrix& dy) {
  return zip(y, dy, "sigmoid_grad_from_output", [](float s, float g) { return g * s * (1.0f - s); });
}
Matrix tanh_grad_from_output(const Matrix& y, const Matrix& dy) {
  return zip(y, dy, "tanh_grad_from_output", [](float t, float g) { return g * (1.0f - t * t); });
}
Matrix relu_grad_from_input(const Matrix& x, const Matrix& dy) {
  return zip(x, dy, "relu_grad_from_input", [](float v, float g) { return v > 0.0f ? g : 0.0f; });
}

Matrix softmax_rows(const Matrix& x, std::vector<SoftmaxNorm>* norms) {
  Matrix out(x.rows(), x.cols(), Matrix::kUninitialized);
  if (norms) norms->resize(x.rows());
  const int C = x.cols();
#pragma omp parallel for schedule(static) if (x.size() >= kParallelRowValues) num_threads(active_threads())
  for (int r = 0; r < x.rows(); ++r) {
    const float* z = x.row(r);
    float* p = out.row(r);
    float m = -std::numeric_limits<float>::infinity();
    for (int c = 0; c < C; ++c) m = std::max(m, z[c]);
    // The exps in a SIMD loop (fast::exp, within 1e-7 of libm's), summed in
    // order in double after: libm's scalar expf was 4% of a melody LSTM
    // training step (4096 rows of 38 logits).
#pragma omp simd
    for (int c = 0; c < C; ++c) p[c] = fast::exp(z[c] - m);
    double total = 0.0;
    for (int c = 0; c < C; ++c) total += p[c];
    const float inverse = static_cast<float>(1.0 / total);
    for (int c = 0; c < C; ++c) p[c] *= inverse;
    if (norms) (*norms)[r] = {m, static_cast<float>(std::log(total))};
  }
  return out;
}

Matrix log_softmax_rows(const Matrix& x) {
  std::vector<SoftmaxNorm> norms;
  Matrix out = softmax_rows(x, &norms);
  for (int r = 0; r < x.rows(); ++r) {
    // Subtract the max first: m + log_sum would round away small logs.
    for (int c = 0; c < x.cols(); ++c) out(r, c) = (x(r, c) - norms[r].max) - norms[r].log_sum;
  }
  return out;
}

float sum(const Matrix& a) {
  double total = 0.0;  // double accumulation keeps large sums accurate
  for (std::size_t i = 0; i < a.size(); ++i) total += a[i];
  return static_cast<float>(total);
}

float mean(const Matrix& a) {
  if (a.size() == 0) throw ShapeError("mean: empty matrix " + a.shape_str());
  return sum(a) / static_cast<float>(a.size());
}

float max_abs(const Matrix& a) {
  float m = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i]));
  return m;
}

bool all_finite(const Matrix& a) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!std::isfinite(a[i])) return false;
  return true;
}

}  // namespace lmn
