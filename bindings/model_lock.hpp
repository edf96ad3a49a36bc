#pragma once
// The per-model lock of the Python bindings (token models and regressors):
// calls on one model from several Python threads take turns. Training and
// whatever writes the weights or gradients hold it alone, reads share it;
// both wait with the GIL released. `Holder` has `mutex`
// (unique_ptr<WriterFirstMutex>) and `writer` (unique_ptr<atomic<thread::id>>):
// the thread holding the model alone (fit()'s callbacks run there and may
// use the model, e.g. to save it), which passes straight through.
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <pybind11/pybind11.h>

#include "base/writer_first_mutex.hpp"

namespace lmn::py_lock {

namespace py = pybind11;

// Holds a model alone for a scope (nothing, on the thread already holding it).
template <class Holder>
class WriteLock {
 public:
  explicit WriteLock(const Holder& model) : model_(model) {
    if (model_.writer->load() == std::this_thread::get_id()) return;
    py::gil_scoped_release release;  // fit() re-takes the GIL for its callbacks while it holds the model
    lock_ = std::unique_lock(*model_.mutex);
    model_.writer->store(std::this_thread::get_id());
  }
  ~WriteLock() {
    if (!lock_.owns_lock()) return;
    // A model that caches what it derives from its weights (generate()'s
    // stepper weights) drops it: the weights may have changed.
    if constexpr (requires { model_.steppers->clear(); }) model_.steppers->clear();
    model_.writer->store(std::thread::id());
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  const Holder& model_;
  std::unique_lock<WriterFirstMutex> lock_;
};

// Shares a model for a scope; waits with the GIL released (see WriteLock).
template <class Holder>
std::shared_lock<WriterFirstMutex> lock_to_read(const Holder& model) {
  if (model.writer->load() == std::this_thread::get_id()) return {};
  py::gil_scoped_release release;
  return std::shared_lock(*model.mutex);
}

}  // namespace lmn::py_lock
