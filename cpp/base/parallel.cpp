#include "base/parallel.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lmn {

namespace {

int initial_threads() {
  if (const char* env = std::getenv("LSTMININET_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

int& thread_setting() {
  static int threads = initial_threads();
  return threads;
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  thread_setting() = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int get_num_threads() { return thread_setting(); }

void apply_thread_setting() {
#ifdef _OPENMP
  if (omp_get_max_threads() != thread_setting()) omp_set_num_threads(thread_setting());
#endif
}

}  // namespace lmn
