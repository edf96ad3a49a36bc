#include "base/parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <sched.h>

namespace lmn {

namespace {

int initial_threads() {
  if (const char* env = std::getenv("LSTMININET_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n') ++end;
    // the whole value, or not at all ("1.5" is not 1; lstmininet/_core.py warns)
    if (end != env && *end == '\0' && n > 0) return static_cast<int>(std::min<long>(n, kMaxThreads));
  }
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

// Atomic: one Python thread may set it while others read it.
std::atomic<int>& thread_setting() {
  static std::atomic<int> threads{initial_threads()};
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
  thread_setting().store(n);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int get_num_threads() { return thread_setting().load(); }

int active_threads() {
  const int setting = thread_setting().load();
  return thread_limit > 0 && thread_limit < setting ? thread_limit : setting;
}

void apply_thread_setting() {
#ifdef _OPENMP
  const int threads = active_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
#endif
}

TeamBarrier::TeamBarrier() {
  for (auto& where : where_) where.store(~std::uint64_t{0}, std::memory_order_relaxed);
}

void TeamBarrier::wait(int thread, int size) {
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
  bool share_core = false;
  for (int spin = 1; generation_.load(std::memory_order_acquire) == generation; ++spin) {
    if (share_core) {
      sched_yield();
    } else {
      cpu_relax();
    }
    if (spin % 64 != 0) continue;
    if (spin == 64) share_core = shares_core(thread, size, generation);
    if (std::chrono::steady_clock::now() - start > kSpinTime) {
      while (generation_.load(std::memory_order_acquire) == generation) generation_.wait(generation);
      return;
    }
  }
}

bool TeamBarrier::shares_core(int thread, int size, unsigned generation) {
  const int core = sched_getcpu();
  if (core < 0 || thread >= kTrackedMembers) return false;
  where_[thread].store(std::uint64_t{generation} << 32 | static_cast<std::uint32_t>(core), std::memory_order_relaxed);
  for (int other = 0; other < std::min(size, kTrackedMembers); ++other) {
    const std::uint64_t where = where_[other].load(std::memory_order_relaxed);
    const auto when = static_cast<unsigned>(where >> 32);
    if (other != thread && where != ~std::uint64_t{0} && generation - when <= 1 &&
        static_cast<int>(where & 0xffffffffu) == core) {
      crowded_.store(true, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
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
