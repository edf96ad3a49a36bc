#pragma once
// Matrix: float32, row-major, contiguous. Every operation checks shapes and
// throws ShapeError naming both shapes; nothing relies on assert.
#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "rng.hpp"

namespace lmn {

// Raised for incompatible or invalid shapes; maps to Python's ValueError.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// An allocator that leaves new floats uninitialised (std::allocator would
// zero them), for Matrix(rows, cols, kUninitialized).
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class Matrix {
 public:
  // For results written in full before anything reads them: skips zeroing,
  // which cost ~5% of a training step (and ran on one thread).
  enum Uninitialized { kUninitialized };

  Matrix() = default;
  Matrix(int rows, int cols, float fill = 0.0f);
  Matrix(int rows, int cols, Uninitialized);
  Matrix(int rows, int cols, const std::vector<float>& values);  // checks the count
  Matrix(int rows, int cols, const float* values);                // copies rows * cols floats

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::string shape_str() const;
  bool same_shape(const Matrix& other) const { return rows_ == other.rows_ && cols_ == other.cols_; }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float* row(int r) { return data_.data() + static_cast<std::size_t>(r) * cols_; }
  const float* row(int r) const { return data_.data() + static_cast<std::size_t>(r) * cols_; }
  float& operator()(int r, int c) { return data_[static_cast<std::size_t>(r) * cols_ + c]; }
  float operator()(int r, int c) const { return data_[static_cast<std::size_t>(r) * cols_ + c]; }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }

  void fill(float value);
  // Changes the shape, keeping capacity; contents become zeros.
  void reset(int rows, int cols);

 private:
  int rows_ = 0;
  int cols_ = 0;
  std::vector<float, DefaultInitAllocator<float>> data_;
};

// Throws ShapeError "op: shapes (a) and (b) differ" unless shapes match.
void require_same_shape(const Matrix& a, const Matrix& b, const char* op);
// Throws ShapeError if rows or cols are negative.
void require_valid_dims(int rows, int cols, const char* what);

// Elementwise arithmetic (shapes must match).
Matrix add(const Matrix& a, const Matrix& b);
Matrix subtract(const Matrix& a, const Matrix& b);
Matrix hadamard(const Matrix& a, const Matrix& b);
Matrix scale(const Matrix& a, float s);
// a += s * b, in place.
void axpy(Matrix& a, float s, const Matrix& b);

// Row-vector broadcasting: x (N, C) + bias (1, C).
Matrix add_row_vector(const Matrix& x, const Matrix& bias);
// Column sums: (N, C) -> (1, C); the gradient of a broadcast bias.
Matrix sum_rows(const Matrix& x);

Matrix transpose(const Matrix& a);

// Activations, and derivatives written in terms of what is actually saved:
// sigmoid and tanh take their *output* y, relu takes its *input* x.
Matrix sigmoid(const Matrix& x);
Matrix tanh(const Matrix& x);
Matrix relu(const Matrix& x);
Matrix sigmoid_grad_from_output(const Matrix& y, const Matrix& dy);  // dy * y * (1 - y)
Matrix tanh_grad_from_output(const Matrix& y, const Matrix& dy);     // dy * (1 - y^2)
Matrix relu_grad_from_input(const Matrix& x, const Matrix& dy);      // dy * [x > 0]
float sigmoid(float x);

// Row-wise softmax and log-softmax, stable for large logits (rows split over
// threads for large inputs). softmax_rows can also hand back each row's max
// and log(sum of exp(z - max)), so callers can form a log-probability
// (z - max) - log_sum without a second pass of exps.
// Row passes over matrices of at least this many values use threads.
constexpr std::size_t kParallelRowValues = 1 << 14;
struct SoftmaxNorm {
  float max;
  float log_sum;
};
Matrix softmax_rows(const Matrix& x, std::vector<SoftmaxNorm>* norms = nullptr);
Matrix log_softmax_rows(const Matrix& x);

// Reductions.
float sum(const Matrix& a);
float mean(const Matrix& a);
float max_abs(const Matrix& a);
bool all_finite(const Matrix& a);

// Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
Matrix xavier_uniform(int rows, int cols, Rng& rng);
// U(-bound, bound), as torch.nn initialises recurrent layers.
Matrix uniform_matrix(int rows, int cols, float bound, Rng& rng);

}  // namespace lmn
