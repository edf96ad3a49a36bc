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

#include <pthread.h>
#include <pybind11/pybind11.h>

namespace lmn::py_lock {

namespace py = pybind11;

// A reader-writer lock under which a waiting writer goes before the readers
// that come after it. std::shared_mutex (glibc's default rwlock) lets new
// readers in while a writer waits, so threads looping predict() kept a fit()
// or load_state_dict() of a millisecond waiting for seconds. No thread takes
// a model's read lock twice (a second read would wait behind the writer).
class WriterFirstMutex {
 public:
  WriterFirstMutex() {
    pthread_rwlockattr_t attributes;
    pthread_rwlockattr_init(&attributes);
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attributes);
    pthread_rwlockattr_destroy(&attributes);
  }
  ~WriterFirstMutex() { pthread_rwlock_destroy(&lock_); }
  WriterFirstMutex(const WriterFirstMutex&) = delete;
  WriterFirstMutex& operator=(const WriterFirstMutex&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

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
