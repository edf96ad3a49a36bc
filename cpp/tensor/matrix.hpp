#pragma once
// Matrix: float32, row-major, contiguous; the container only (the maths on
// it is in matrix_math.hpp). Shape problems throw ShapeError naming the
// shapes; nothing relies on assert.
#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "base/block_cache.hpp"

namespace lmn {

// Raised for incompatible or invalid shapes; maps to Python's ValueError.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// An allocator that leaves new floats uninitialised (std::allocator would
// zero them), for Matrix(rows, cols, kUninitialized), and takes its memory
// through the block cache (reused while training: base/block_cache.hpp).
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  T* allocate(std::size_t n) {
    if (n > std::allocator_traits<std::allocator<T>>::max_size(*this)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_block(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) { free_block(p, n * sizeof(T)); }
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
  Matrix(int rows, int cols, const float* values);               // copies rows * cols floats

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

}  // namespace lmn
