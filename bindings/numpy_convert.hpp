#pragma once
// Conversions between numpy arrays and core types, with messages that name
// the argument and the shape that was wrong.
#include <limits>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "tensor/matrix.hpp"

namespace lmn::py_convert {

namespace py = pybind11;

// Any real array of rank 0..2 -> Matrix (a vector becomes one row).
inline Matrix to_matrix(const py::handle& obj, const char* what) {
  // Only numbers: numpy would turn None into NaN and "1.5" into 1.5.
  const py::array raw = py::array::ensure(obj);
  const char kind = raw ? raw.dtype().kind() : 'O';
  if (obj.is_none() || (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f')) {
    throw py::type_error(std::string(what) + ": expected a real numeric array, got " +
                         std::string(py::str(py::type::of(obj))) +
                         (raw ? " of dtype " + std::string(py::str(raw.dtype())) : std::string()));
  }
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr)
    throw py::type_error(std::string(what) + ": expected a numeric array, got " +
                         std::string(py::str(py::type::of(obj))));
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    if (arr.shape(i) > std::numeric_limits<int>::max()) {
      throw py::value_error(std::string(what) + ": dimension " + std::to_string(i) + " of size " +
                            std::to_string(arr.shape(i)) + " is too large (at most 2^31 - 1)");
    }
  }
  if (arr.ndim() > 2) {
    throw py::value_error(
        std::string(what) + ": expected at most 2 dimensions, got shape " +
        std::string(py::str(py::tuple(py::cast(std::vector<py::ssize_t>(arr.shape(), arr.shape() + arr.ndim()))))));
  }
  const int rows = arr.ndim() == 2 ? static_cast<int>(arr.shape(0)) : 1;
  const int cols = arr.ndim() == 0 ? 1 : static_cast<int>(arr.shape(arr.ndim() - 1));
  return Matrix(rows, cols, arr.data());
}

inline py::array_t<float> to_array(const Matrix& m) {
  py::array_t<float> out({m.rows(), m.cols()});
  std::copy_n(m.data(), m.size(), out.mutable_data());
  return out;
}

// A 1-D numpy view of a (1, n) bias, as torch stores biases.
inline py::array_t<float> to_vector(const Matrix& m) {
  py::array_t<float> out(static_cast<py::ssize_t>(m.size()));
  std::copy_n(m.data(), m.size(), out.mutable_data());
  return out;
}

}  // namespace lmn::py_convert
