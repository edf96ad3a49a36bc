#include "base/read_bandwidth.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "base/aligned_buffer.hpp"
#include "base/parallel.hpp"
#include "base/simd.hpp"

namespace lmn {

namespace {

// Sums floats [begin, end) with independent register chains: loads are
// the only work, as in a weight-bound product.
float stream_sum(const float* begin, const float* end) {
  constexpr int kChains = 8, kStep = kChains * simd::kVecWidth;
  simd::vfloat acc[kChains] = {};
  const float* p = begin;
  for (; p + kStep <= end; p += kStep)
    for (int c = 0; c < kChains; ++c) acc[c] += simd::load(p + c * simd::kVecWidth);
  float total = 0.0f;
  for (; p < end; ++p) total += *p;
  for (int c = 0; c < kChains; ++c)
    for (int i = 0; i < simd::kVecWidth; ++i) total += acc[c][i];
  return total;
}

// Where the sums go, so the compiler cannot drop the reads.
volatile float read_sink = 0.0f;

}  // namespace

double read_bandwidth(std::size_t bytes, int threads, double seconds) {
  if (bytes < 4096) throw std::invalid_argument("read_bandwidth: bytes must be >= 4096, got " + std::to_string(bytes));
  if (threads < 1 || threads > kMaxThreads) {
    throw std::invalid_argument("read_bandwidth: threads must be in [1, " + std::to_string(kMaxThreads) + "], got " +
                                std::to_string(threads));
  }
  // NaN or infinity would never end the loop below (NaN: no comparison holds)
  if (!(seconds > 0.0 && seconds <= 3600.0)) {
    throw std::invalid_argument("read_bandwidth: seconds must be in (0, 3600], got " + std::to_string(seconds));
  }
  const std::size_t floats = bytes / sizeof(float);
  AlignedFloats buffer(floats);
  std::fill_n(buffer.data(), floats, 1.0f);
  // Passes per timing, doubled until a timing lasts a tenth of `seconds`;
  // the best of the timings after that (noise only ever slows a run down).
  long passes = 1;
  double best = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    float grand_total = 0.0f;
    run_team(threads, [&](const Team& team) {
      const int thread = team.thread, size = team.size;
      // shares in whole cache lines
      const std::size_t lines = floats / 16;
      const float* begin = buffer.data() + lines * thread / size * 16;
      const float* end = thread + 1 == size ? buffer.data() + floats : buffer.data() + lines * (thread + 1) / size * 16;
      float total = 0.0f;
      for (long p = 0; p < passes; ++p) {
        total += stream_sum(begin, end);
        // The buffer "may have changed": each pass reads it again (the
        // compiler would otherwise sum it once and multiply).
        asm volatile("" ::: "memory");
        team.barrier();
      }
#pragma omp atomic
      grand_total += total;
    });
    read_sink = grand_total;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt < seconds / 10) {
      passes *= 2;
      continue;
    }
    best = std::max(best, static_cast<double>(bytes) * passes / dt / 1e9);
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) break;
  }
  return best;
}

}  // namespace lmn
