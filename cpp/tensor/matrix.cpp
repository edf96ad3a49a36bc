#include "tensor/matrix.hpp"

#include <algorithm>

namespace lmn {

namespace {

std::size_t checked_count(int rows, int cols) {
  require_valid_dims(rows, cols, "Matrix");
  return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
}

}  // namespace

Matrix::Matrix(int rows, int cols, float fill) : rows_(rows), cols_(cols), data_(checked_count(rows, cols), fill) {}

Matrix::Matrix(int rows, int cols, Uninitialized) : rows_(rows), cols_(cols), data_(checked_count(rows, cols)) {}

Matrix::Matrix(int rows, int cols, const std::vector<float>& values) : rows_(rows), cols_(cols) {
  if (values.size() != checked_count(rows, cols)) {
    throw ShapeError("Matrix: " + std::to_string(values.size()) + " values cannot fill shape (" + std::to_string(rows) +
                     ", " + std::to_string(cols) + ")");
  }
  data_.assign(values.begin(), values.end());
}

Matrix::Matrix(int rows, int cols, const float* values)
    : rows_(rows), cols_(cols), data_(values, values + checked_count(rows, cols)) {}

std::string Matrix::shape_str() const {
  // Appended piece by piece: GCC 12's -Wrestrict misfires on "(" + std::string at -O3.
  std::string out = "(";
  out += std::to_string(rows_);
  out += ", ";
  out += std::to_string(cols_);
  out += ")";
  return out;
}

void Matrix::fill(float value) { std::fill(data_.begin(), data_.end(), value); }

void Matrix::reset(int rows, int cols) {
  const std::size_t n = checked_count(rows, cols);
  rows_ = rows;
  cols_ = cols;
  data_.assign(n, 0.0f);
}

void require_same_shape(const Matrix& a, const Matrix& b, const char* op) {
  if (!a.same_shape(b)) {
    throw ShapeError(std::string(op) + ": shapes " + a.shape_str() + " and " + b.shape_str() + " differ");
  }
}

void require_valid_dims(int rows, int cols, const char* what) {
  if (rows < 0 || cols < 0) {
    throw ShapeError(std::string(what) + ": negative dimension in shape (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + ")");
  }
}

}  // namespace lmn
