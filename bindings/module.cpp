// The pybind11 module `lstmininet._core`: exception mapping, threads, and
// the two families of bindings (tensor_bindings.cpp, model_bindings.cpp).
#include <pybind11/pybind11.h>

#include "checkpoint.hpp"
#include "matmul.hpp"
#include "matrix.hpp"

namespace py = pybind11;

void bind_tensor(py::module_& m);
void bind_model(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "LSTMiniNet C++ core";
  m.attr("__version__") = LSTMININET_VERSION;

  // std::invalid_argument -> ValueError and std::out_of_range -> IndexError
  // come from pybind11; these add our own types.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lmn::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const lmn::CheckpointFormatError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::domain_error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def("set_num_threads", &lmn::set_num_threads, py::arg("n"),
        "Threads used by the matrix kernels (default: LSTMININET_NUM_THREADS or all cores).");
  m.def("get_num_threads", &lmn::get_num_threads);
  bind_tensor(m);
  bind_model(m);
}
