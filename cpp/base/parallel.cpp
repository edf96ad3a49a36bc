#include "base/parallel.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lmn {

namespace {

int initial_threads() {
  if (const char* env = std::getenv("LSTMININET_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && n > 0) return static_cast<int>(std::min<long>(n, kMaxThreads));
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

// 0: no limit on this thread.
thread_local int thread_limit = 0;

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  if (n > kMaxThreads) {
    throw std::invalid_argument("set_num_threads: at most " + std::to_string(kMaxThreads) + " threads, got " +
                                std::to_string(n));
  }
  thread_setting() = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int get_num_threads() { return thread_setting(); }

int active_threads() {
  const int setting = thread_setting();
  return thread_limit > 0 && thread_limit < setting ? thread_limit : setting;
}

void apply_thread_setting() {
#ifdef _OPENMP
  const int threads = active_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
#endif
}

ThreadLimit::ThreadLimit(int max_threads) : previous_(thread_limit) {
  if (max_threads < 1)
    throw std::invalid_argument("ThreadLimit: need at least 1 thread, got " + std::to_string(max_threads));
  thread_limit = previous_ > 0 && previous_ < max_threads ? previous_ : max_threads;
  apply_thread_setting();
}

ThreadLimit::~ThreadLimit() {
  thread_limit = previous_;
  apply_thread_setting();
}

}  // namespace lmn
