#include "base/parallel.hpp"

#include <algorithm>
#include <chrono>
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

// How long a thread at a TeamBarrier spins before it sleeps: many times
// the gaps between meetings in a step, a small share of a scheduler slice.
constexpr auto kSpinTime = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

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

void TeamBarrier::wait(int size) {
  // Read before arriving: the meeting cannot complete without this thread.
  const unsigned generation = generation_.load(std::memory_order_relaxed);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    // seq_cst: a thread going to sleep counts itself, then reads the
    // generation; notify_all reads that count after this store (else the
    // store could pass the read and a sleeper be missed).
    generation_.fetch_add(1, std::memory_order_seq_cst);
    generation_.notify_all();  // a system call only when a thread sleeps
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (int spin = 1; generation_.load(std::memory_order_acquire) == generation; ++spin) {
    cpu_relax();
    if (spin % 64 == 0 && std::chrono::steady_clock::now() - start > kSpinTime) {
      while (generation_.load(std::memory_order_acquire) == generation) generation_.wait(generation);
      return;
    }
  }
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
