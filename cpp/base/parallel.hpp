#pragma once
// Threads: the thread-count setting, every threshold from which a loop is
// split over threads (one place to tune them per machine), teams of threads
// that meet at their own barrier, and a helper that splits a loop into
// contiguous column ranges. OpenMP when built with it.
#include <atomic>
#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lmn {

// The most threads the kernels may use: OpenMP runtimes crash or hang
// when asked for tens of thousands, and no CPU this targets has more cores.
constexpr int kMaxThreads = 1024;

// Threads used by the kernels. Default: LSTMININET_NUM_THREADS if set (at
// most kMaxThreads), else the number of cores OpenMP reports. Throws
// std::invalid_argument for n outside [1, kMaxThreads].
void set_num_threads(int n);
int get_num_threads();
// Applies the setting (capped by the calling thread's ThreadLimit) to the
// calling thread: OpenMP's setting is per thread, and Python may call us
// from any thread.
void apply_thread_setting();
// The threads the kernels use on the calling thread: the setting, or less
// under a ThreadLimit.
int active_threads();

// Caps the threads the kernels use on the calling thread for a scope (the
// trainer picks per step between one thread and the setting). Limits nest.
class ThreadLimit {
 public:
  explicit ThreadLimit(int max_threads);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  int previous_;
};

// Below these sizes a parallel region costs more than it saves.
// GEMM and packing: multiply-adds of the product (a batch-1 row: 4x this).
constexpr long kParallelWork = 1L << 15;
// Row-wise passes (softmax, cross-entropy): values in the matrix.
constexpr std::size_t kParallelRowValues = 1 << 14;
// Column sums (bias gradients): values in the matrix.
constexpr std::size_t kParallelColumnSums = 1 << 16;
// Gathers and scatters of token rows: floats copied.
constexpr long kParallelCopy = 1L << 16;
// Optimizer updates: parameters in one tensor.
constexpr std::size_t kParallelUpdate = 1 << 15;
// The fused recurrences' per-step pointwise pass: batch x hidden units
// (below it a single thread is faster than waking a second one).
constexpr int kParallelPointwise = 4096;
// Batch-1 generation: weights read per token (the melody model, 70K
// weights, runs 1.25x faster on two threads).
constexpr long kParallelStepFloats = 1L << 14;

// Where the threads of one run_team call wait for each other. Waiting
// spins for a while (the meetings inside a generation step come
// microseconds apart), then sleeps in the kernel (a busy machine may have
// descheduled the thread waited for). libgomp's barrier instead makes a
// system call (futex wake) at every meeting, sleepers or not: 0.5-0.7 us
// per meeting on the Zen 3 VM, against 0.04 us here.
//
// Beside a busy process the scheduler may put two members on one core (a
// woken thread goes where its waker runs). They can then only take turns,
// and a member spinning for one that waits for its core stalls both: on
// the Zen 3 VM a team that met 3 times a token went from ~1,000 tokens per
// 5 ms to 6-29. A member that has waited a while therefore notes its core;
// finding the member it waits for there too (as of that one's last long
// wait, a meeting ago at most), it yields the core instead of spinning and
// marks the team crowded: the team is then slower than one thread, and its
// caller can stop using it (generate_batch ends the stretch of tokens and
// tells the thread tuner).
class TeamBarrier {
 public:
  TeamBarrier();
  // Returns once all `size` members have called it; `thread` is the
  // caller's member number.
  void wait(int thread, int size);
  bool crowded() const { return crowded_.load(std::memory_order_relaxed); }

 private:
  // Notes the caller's core; true (and the team crowded) when another
  // member was on it at this meeting or the last.
  bool shares_core(int thread, int size, unsigned generation);

  static constexpr int kTrackedMembers = 8;  // beyond these, members' cores go unnoted
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<unsigned> generation_{0};  // meetings completed
  // Per member: (meeting << 32) | core, at its last long wait (~0: none).
  alignas(64) std::atomic<std::uint64_t> where_[kTrackedMembers];
  std::atomic<bool> crowded_{false};
};

// One member's view of a run_team team.
struct Team {
  int thread;  // 0 .. size - 1; thread 0 is the caller of run_team
  int size;
  TeamBarrier* meeting;
  void barrier() const {  // nothing for a team of one
    if (size > 1) meeting->wait(thread, size);
  }
  bool crowded() const { return size > 1 && meeting->crowded(); }
};

// Calls f(team) on each of `threads` threads, or on the calling thread
// alone when `threads` is 1: libgomp ends even a one-thread region with a
// barrier whose wake-up is a system call (futex), 6% of a batch-1
// generation step on Zen 4.
template <class F>
void run_team(int threads, F f) {
#ifdef _OPENMP
  if (threads > 1) {
    TeamBarrier meeting;
#pragma omp parallel num_threads(threads)
    f(Team{omp_get_thread_num(), omp_get_num_threads(), &meeting});
    return;
  }
#endif
  (void)threads;
  f(Team{0, 1, nullptr});
}

// Calls f(c0, c1) for contiguous column ranges covering [0, cols), one per
// thread when `parallel` (else once, for all columns). Contiguous ranges
// keep each thread's reads of a row in one piece.
template <class F>
void for_column_ranges(int cols, bool parallel, F f) {
#pragma omp parallel if (parallel) num_threads(active_threads())
  {
    int thread = 0, team = 1;
#ifdef _OPENMP
    thread = omp_get_thread_num();
    team = omp_get_num_threads();
#endif
    f(static_cast<int>(static_cast<long>(cols) * thread / team),
      static_cast<int>(static_cast<long>(cols) * (thread + 1) / team));
  }
}

}  // namespace lmn
