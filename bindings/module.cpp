// The pybind11 module `lstmininet._core_<level>` (one per instruction-set
// level, see python/lstmininet/_core.py): exception mapping, threads, and
// the families of bindings (tensor_bindings.cpp, model_bindings.cpp,
// regressor_bindings.cpp).
#include <malloc.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "base/cpu_info.hpp"
#include "base/interrupt.hpp"
#include "base/parallel.hpp"
#include "generate/sampler.hpp"
#include "interrupt_hook.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "tensor/gemm.hpp"
#include "tensor/matrix.hpp"

namespace py = pybind11;

void bind_tensor(py::module_& m);
void bind_model(py::module_& m);
void bind_regressor(py::module_& m);

namespace {
// Training allocates and frees the same multi-megabyte buffers every chunk.
// glibc would hand them back to the kernel each time and fault them in again
// (measured: ~30% of a training step); keep them in the heap instead.
void keep_large_buffers_in_heap() {
#ifdef M_MMAP_THRESHOLD
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
}  // namespace

PYBIND11_MODULE(LSTMININET_MODULE_NAME, m) {
  m.doc() = "LSTMiniNet C++ core";
  keep_large_buffers_in_heap();
  lmn::py_interrupt::install();
  m.attr("__version__") = LSTMININET_VERSION;

  // std::invalid_argument -> ValueError and std::out_of_range -> IndexError
  // come from pybind11; these add our own types.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lmn::IoError& e) {
      if (e.error_number() != 0) {  // OSError(errno, message) picks the subclass, e.g. IsADirectoryError
        PyObject* args = Py_BuildValue("(is)", e.error_number(), e.what());
        PyErr_SetObject(PyExc_OSError, args);
        Py_XDECREF(args);
      } else {
        PyErr_SetString(PyExc_OSError, e.what());
      }
    } catch (const lmn::CheckpointFormatError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const lmn::Interrupted&) {
      lmn::py_interrupt::raise_pending();  // Ctrl-C during a long call: KeyboardInterrupt
    } catch (const std::domain_error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def(
      "set_num_threads",
      [](const py::object& n) {
        if (!py::isinstance<py::int_>(n) || py::isinstance<py::bool_>(n)) {
          throw py::type_error("set_num_threads: n must be an integer, got " +
                               std::string(py::str(py::type::of(n).attr("__name__"))));
        }
        int overflow = 0;
        const long long value = PyLong_AsLongLongAndOverflow(n.ptr(), &overflow);
        if (overflow != 0 || value > lmn::kMaxThreads || value < 1) {
          throw py::value_error("set_num_threads: need at least 1 thread and at most " +
                                std::to_string(lmn::kMaxThreads) + ", got " + std::string(py::str(n)));
        }
        lmn::set_num_threads(static_cast<int>(value));
      },
      py::arg("n"), "Threads used by the matrix kernels (default: LSTMININET_NUM_THREADS or all cores).");
  m.def("get_num_threads", &lmn::get_num_threads);
  m.def(
      "build_config",
      [] {
        const lmn::BuildInfo build = lmn::build_info();
        const lmn::CpuInfo cpu = lmn::cpu_info();
        py::dict out;
        out["compiler"] = build.compiler;
        out["simd"] = build.simd;
        out["simd_floats"] = build.simd_floats;
        out["isa_level"] = build.isa_level;
        out["flags"] = build.flags;
        out["native"] = build.native;
        out["openmp"] = build.openmp;
        out["gemm_kernel"] = lmn::gemm_kernel_name();
        out["cpu_brand"] = cpu.brand;
        out["cpu_family"] = cpu.family;
        out["cpu_model"] = cpu.model;
        out["cpu_features"] = cpu.features;
        out["threads"] = lmn::get_num_threads();
        out["l2_cache_bytes"] = lmn::l2_cache_bytes();
        const lmn::RowSplitRule rows = lmn::row_split_rule();
        out["batch_rows_any_bytes"] = rows.any_batch_bytes;
        out["batch_rows_large_bytes"] = rows.large_batch_bytes;
        out["batch_rows_large_rows"] = rows.large_batch_rows;
        return out;
      },
      "What the kernels were compiled for, the CPU they run on, and the thread setting (see show_config()).");
  m.def(
      "write_file_atomically",
      [](const py::bytes& path, const py::bytes& data) {
        const std::string path_bytes = path;  // os.fsencode'd: any name the OS allows
        const std::string_view view = data;   // the bytes object outlives the call
        try {
          py::gil_scoped_release release;
          lmn::write_file_atomically(path_bytes, view, "file");
        } catch (const lmn::IoError& e) {
          // As open() raises it: OSError(errno, reason, path).
          PyObject* args = Py_BuildValue("(isN)", e.error_number(), e.reason().c_str(),
                                         PyUnicode_DecodeFSDefaultAndSize(path_bytes.data(), path_bytes.size()));
          if (args != nullptr) PyErr_SetObject(PyExc_OSError, args);
          Py_XDECREF(args);
          throw py::error_already_set();
        }
      },
      py::arg("path"), py::arg("data"),
      "Replace the file at path with data all at once (io/atomic_file.hpp); OSError(errno, reason, path) if not.");
  bind_tensor(m);
  bind_model(m);
  bind_regressor(m);
}
