#pragma once
// Splitting simple loops over the threads (OpenMP when built with it).
#ifdef _OPENMP
#include <omp.h>
#endif

namespace lmn {

// Calls f(c0, c1) for contiguous column ranges covering [0, cols), one per
// thread when `parallel` (else once, for all columns). Contiguous ranges
// keep each thread's reads of a row in one piece.
template <class F>
void for_column_ranges(int cols, bool parallel, F f) {
#pragma omp parallel if (parallel)
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
