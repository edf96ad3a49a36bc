#pragma once
// State dicts of any model: {torch.nn name: numpy array}, biases 1-D as
// torch stores them. Loading checks every name and shape first, so a bad
// dict leaves the model as it was.
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "nn/model.hpp"
#include "numpy_convert.hpp"

namespace lmn::py_state {

namespace py = pybind11;
using py_convert::to_array;
using py_convert::to_vector;

inline bool is_bias(const std::string& name) { return name.find(".bias") != std::string::npos; }

inline py::dict named_arrays(const NamedParameters& params, bool grads) {
  py::dict out;
  for (const auto& [name, var] : params) {
    const Matrix& m =
        grads ? (var->grad.empty() ? Matrix(var->value.rows(), var->value.cols()) : var->grad) : var->value;
    out[py::str(name)] = is_bias(name) ? py::object(to_vector(m)) : py::object(to_array(m));
  }
  return out;
}

inline void load_state(const NamedParameters& params, const py::dict& state) {
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, var] : params)
    if (!state.contains(py::str(name))) missing.push_back(name);
  for (const auto& item : state) {
    const std::string name = py::str(item.first);
    bool known = false;
    for (const auto& [n, v] : params) known = known || n == name;
    if (!known) unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg = "load_state_dict:";
    if (!missing.empty()) msg += " missing " + py::str(py::cast(missing)).cast<std::string>();
    if (!unexpected.empty()) msg += " unexpected " + py::str(py::cast(unexpected)).cast<std::string>();
    throw py::value_error(msg);
  }
  // Check every shape before changing anything, so a bad dict leaves the model as it was.
  std::vector<Matrix> values;
  for (const auto& [name, var] : params) {
    auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(state[py::str(name)]);
    if (!arr) throw py::type_error("load_state_dict: '" + name + "' is not a numeric array");
    const Matrix& want = var->value;
    const bool ok = is_bias(name) ? (arr.ndim() == 1 && arr.shape(0) == want.cols())
                                  : (arr.ndim() == 2 && arr.shape(0) == want.rows() && arr.shape(1) == want.cols());
    if (!ok) {
      std::string got = "(";
      for (py::ssize_t i = 0; i < arr.ndim(); ++i) got += (i ? ", " : "") + std::to_string(arr.shape(i));
      got += arr.ndim() == 1 ? ",)" : ")";
      const std::string expected = is_bias(name) ? "(" + std::to_string(want.cols()) + ",)" : want.shape_str();
      throw py::value_error("load_state_dict: '" + name + "' has shape " + got + ", expected " + expected);
    }
    Matrix m(want.rows(), want.cols(), arr.data());
    if (!all_finite(m)) throw py::value_error("load_state_dict: '" + name + "' contains NaN or infinity");
    values.push_back(std::move(m));
  }
  std::size_t i = 0;
  for (const auto& [name, var] : params) var->value = std::move(values[i++]);
}

}  // namespace lmn::py_state
