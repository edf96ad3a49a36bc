#pragma once
// The fused recurrences' thread split. The rows of a batch never meet in a
// recurrence (row b of step t reads row b of step t - 1 only), so each
// thread takes a range of rows and runs every step for them: one parallel
// region per sequence, no barrier between steps. Splitting each step
// instead (a GEMM region and a pointwise region per step) met 4 times per
// step of a melody LSTM forward and backward, and the second thread idled
// at those meetings.
#include <algorithm>
#include <atomic>

#include "base/interrupt.hpp"
#include "base/parallel.hpp"

namespace lmn {

// Calls step(t, b0, b1) for t = 0 .. T-1 (T-1 .. 0 when `backward`) on each
// thread's rows [b0, b1) of B, on one thread when the batch is small
// (B x H below kParallelPointwise). Thread 0 polls for Ctrl-C between steps;
// all threads stop at their next step and Interrupted is thrown after.
template <class Step>
void for_batch_rows(int T, int B, int H, bool backward, Step step) {
  const int threads = B * H >= kParallelPointwise ? std::min(active_threads(), B) : 1;
  std::atomic<bool> stop{false};
  run_team(threads, [&](const Team& team) {
    const int b0 = static_cast<int>(static_cast<long>(B) * team.thread / team.size);
    const int b1 = static_cast<int>(static_cast<long>(B) * (team.thread + 1) / team.size);
    for (int i = 0; i < T && !stop.load(std::memory_order_relaxed); ++i) {
      if (team.thread == 0) {
        try {
          poll_interrupt();  // the throw cannot leave the team: passed on below
        } catch (const Interrupted&) {
          stop.store(true, std::memory_order_relaxed);
          break;
        }
      }
      step(backward ? T - 1 - i : i, b0, b1);
    }
  });
  if (stop.load(std::memory_order_relaxed)) throw Interrupted();
}

}  // namespace lmn
