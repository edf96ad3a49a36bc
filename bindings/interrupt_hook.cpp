#include "interrupt_hook.hpp"

#include <pybind11/pybind11.h>

#include "base/interrupt.hpp"

namespace py = pybind11;

namespace lmn::py_interrupt {

namespace {

// Python runs signal handlers only on its main thread, so only that thread
// takes the GIL to look; others never wait for it here.
unsigned long main_thread_ident = 0;

// The error a signal handler raised, fetched so the C++ loop can unwind
// (main thread only, touched with the GIL held).
PyObject* pending_type = nullptr;
PyObject* pending_value = nullptr;
PyObject* pending_traceback = nullptr;

bool python_signal_pending() {
  if (PyThread_get_thread_ident() != main_thread_ident) return false;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() == 0) return false;
  discard_pending();
  PyErr_Fetch(&pending_type, &pending_value, &pending_traceback);
  return true;
}

}  // namespace

void install() {
  main_thread_ident = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  set_interrupt_hook(&python_signal_pending);
}

void raise_pending() {
  if (pending_type != nullptr) {
    PyErr_Restore(pending_type, pending_value, pending_traceback);
    pending_type = pending_value = pending_traceback = nullptr;
  } else {
    PyErr_SetNone(PyExc_KeyboardInterrupt);
  }
}

bool pending_is_keyboard_interrupt() {
  return pending_type == nullptr || PyErr_GivenExceptionMatches(pending_type, PyExc_KeyboardInterrupt) != 0;
}

void discard_pending() {
  Py_CLEAR(pending_type);
  Py_CLEAR(pending_value);
  Py_CLEAR(pending_traceback);
}

}  // namespace lmn::py_interrupt
