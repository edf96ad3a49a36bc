#include "tensor/gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/cpu_info.hpp"
#include "base/parallel.hpp"
#include "base/simd.hpp"

namespace lmn {

namespace {

// ---- the packed kernel -----------------------------------------------------

// A micro-tile of C is MR x NR, held in registers. NR spans two SIMD vectors;
// MR is chosen per CPU at run time (gemm_blocking()), from kMaxMR rows down.
using simd::kVecBytes;
using simd::kVecWidth;
using simd::load;
using simd::vfloat;
constexpr int NR = 2 * kVecWidth;
constexpr int KC = 256;     // depth of one packed block: A micro-panel + B panel stay in L1/L2
constexpr int kMaxMR = 14;  // rows of the tallest register tile (set_gemm_blocking)

// acc (R x V vectors) = sum_k a[k][0..R) (outer) b[k][0..V * kVecWidth);
// then C += alpha * acc, or C = alpha * acc when `overwrite` (the first
// depth block of a beta = 0 product: C is never read, so whatever it held
// cannot leak through). V = 2 (NR columns) but for a last column panel of at
// most kVecWidth columns: a vocabulary of 38 or 65 leaves 6 or 1 of a
// panel's 32, and the output product computed the other 26 or 31 for
// nothing (the melody LSTM's, 4096x38x128, ran at 68 GFLOP/s on one Intel
// Xeon core against ~130 for full panels).
template <int R, int V>
void micro_kernel(int kc, const float* a, const float* b, float alpha, float* c, int ldc, int n_valid, bool overwrite,
                  const float* next_b) {
  vfloat acc[R][V];
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = vfloat{};  // `= {}` became a rep stos per call
  // Two k per loop pass: on Intel the loop's counter, pointer and branch
  // operations issue to the ports the FMAs need (0 and 5), so halving them
  // gave +4-10% GFLOP/s on an Intel Xeon (14x32 tiles), nothing on AVX2.
#pragma GCC unroll 2
  for (int k = 0; k < kc; ++k) {
    if (next_b) {  // the next column panel, a row of it per k, into L2 (multiply_packed)
      __builtin_prefetch(next_b + k * NR, 0, 2);
      __builtin_prefetch(next_b + k * NR + 64 / sizeof(float), 0, 2);
    }
    vfloat bk[V];
    for (int v = 0; v < V; ++v) bk[v] = load(b + k * NR + v * kVecWidth);
    const float* ak = a + k * R;
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < V; ++v) acc[i][v] += ak[i] * bk[v];
  }
  if (n_valid == V * kVecWidth) {
    for (int i = 0; i < R; ++i) {
      float* ci = c + static_cast<long>(i) * ldc;
      for (int v = 0; v < V; ++v) {
        vfloat cv = alpha * acc[i][v];
        if (!overwrite) cv += load(ci + v * kVecWidth);
        std::memcpy(ci + v * kVecWidth, &cv, sizeof cv);
      }
    }
    return;
  }
  // Edge tile: spill the registers to an aligned buffer with vector stores
  // (a memcpy here was a library call costing ~10% of training).
  alignas(kVecBytes) float tile[R][V * kVecWidth];
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < V; ++v) *reinterpret_cast<vfloat*>(&tile[i][v * kVecWidth]) = acc[i][v];
  for (int i = 0; i < R; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    for (int j = 0; j < n_valid; ++j) ci[j] = alpha * tile[i][j] + (overwrite ? 0.0f : ci[j]);
  }
}

// Element (i, k) of op(A) and (k, j) of op(B).
inline float a_at(const float* A, int lda, bool trans, int i, int k) {
  return trans ? A[static_cast<long>(k) * lda + i] : A[static_cast<long>(i) * lda + k];
}
inline float b_at(const float* B, int ldb, bool trans, int k, int j) {
  return trans ? B[static_cast<long>(j) * ldb + k] : B[static_cast<long>(k) * ldb + j];
}

// Four floats, for the 4 x 4 transposes of pack_a_panel (at every ISA level).
using float4 = float __attribute__((vector_size(16)));

// Columns [k, k + 4) of rows a[0..3] (lda apart) into dst[j * R + 0..3] for
// j < 4: a 4 x 4 transpose, four loads and four stores.
template <int R>
inline void transpose_4x4(const float* a, long lda, float* dst) {
  float4 r0, r1, r2, r3;
  std::memcpy(&r0, a, sizeof r0);
  std::memcpy(&r1, a + lda, sizeof r1);
  std::memcpy(&r2, a + 2 * lda, sizeof r2);
  std::memcpy(&r3, a + 3 * lda, sizeof r3);
  const float4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5), t1 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
  const float4 t2 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7), t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
  const float4 c0 = __builtin_shufflevector(t0, t1, 0, 1, 4, 5), c1 = __builtin_shufflevector(t0, t1, 2, 3, 6, 7);
  const float4 c2 = __builtin_shufflevector(t2, t3, 0, 1, 4, 5), c3 = __builtin_shufflevector(t2, t3, 2, 3, 6, 7);
  std::memcpy(dst, &c0, sizeof c0);
  std::memcpy(dst + R, &c1, sizeof c1);
  std::memcpy(dst + 2 * R, &c2, sizeof c2);
  std::memcpy(dst + 3 * R, &c3, sizeof c3);
}

// Packs rows [i0, i0 + R) x depth [k0, k0 + kc) of op(A) into one R-row
// micro-panel, k-major.
template <int R>
void pack_a_panel(const float* A, int lda, bool trans, int i0, int k0, int kc, float* dst) {
  if (trans) {
    // Rows of op(A) are columns of A: R contiguous floats per k, one copy each
    // (a loop over them, GCC vectorised across k with an insert per float).
    for (int k = 0; k < kc; ++k) std::memcpy(dst + k * R, A + static_cast<long>(k0 + k) * lda + i0, R * sizeof(float));
    return;
  }
  const float* src = A + static_cast<long>(i0) * lda + k0;
  int k = 0;
  if constexpr (R >= 4) {
    // Rows in groups of four, and the last four when R is not a multiple
    // of four (overlapping the group before), by 4 x 4 transposes: a float
    // per load and store, one at a time, bound the packing at ~5% of a
    // large GRU training step (Zen 3).
    for (; k + 4 <= kc; k += 4) {
      for (int g = 0; g + 4 <= R; g += 4) transpose_4x4<R>(src + static_cast<long>(g) * lda + k, lda, dst + k * R + g);
      if constexpr (R % 4 != 0) transpose_4x4<R>(src + static_cast<long>(R - 4) * lda + k, lda, dst + k * R + (R - 4));
    }
  }
  for (; k < kc; ++k) {
    for (int i = 0; i < R; ++i) dst[k * R + i] = src[static_cast<long>(i) * lda + k];
  }
}

// One tile of R rows (R <= MR, a template argument so the accumulators stay
// in registers): packs its A panel when `pack`, then runs the kernel.
template <int R>
void row_tile(int rows, bool pack, const float* A, int lda, bool trans_a, int i0, int k0, int kc, float* panel,
              const float* b, float alpha, float* c, int ldc, int n_valid, bool overwrite, const float* next_b) {
  if constexpr (R > 1) {
    if (rows < R) {
      return row_tile<R - 1>(rows, pack, A, lda, trans_a, i0, k0, kc, panel, b, alpha, c, ldc, n_valid, overwrite,
                             next_b);
    }
  }
  if (pack) pack_a_panel<R>(A, lda, trans_a, i0, k0, kc, panel);
  if (n_valid <= kVecWidth) return micro_kernel<R, 1>(kc, panel, b, alpha, c, ldc, n_valid, overwrite, next_b);
  micro_kernel<R, 2>(kc, panel, b, alpha, c, ldc, n_valid, overwrite, next_b);
}

void scale_c(int M, int N, float beta, float* C, int ldc) {
  if (beta == 1.0f) return;
  for (int i = 0; i < M; ++i) {
    float* ci = C + static_cast<long>(i) * ldc;
    if (beta == 0.0f) {
      std::fill(ci, ci + N, 0.0f);
    } else {
      for (int j = 0; j < N; ++j) ci[j] *= beta;
    }
  }
}

// C += alpha * op(A) * B for a packed B (C = ... when overwrite). The M rows
// are split into ceil(M / MR) panels of as equal height as can be (32 rows:
// 6 6 5 5 5 5, not 6 6 6 6 6 2 padded to 36; the batch of a recurrent step is
// often such an M: padded, M = 32 ran at 80 GFLOP/s on one Zen 3 core, split,
// at 88). Each element's sum runs in the same order whatever its panel, so the
// split does not change a bit of the result. Tiles are visited by column block
// of B (`block_panels` column panels wide: one depth block of it fills the L2
// cache), then row panel, then column panel, so each block of B is read from
// L2, not memory, by every row panel. That order is split evenly over the
// threads in one parallel region with no barrier inside (each thread also
// reads only its part of B); each thread packs the A panels of its own tiles.
template <int MR>
void multiply_packed(bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B, float* C,
                     int ldc, bool overwrite, int block_panels, bool prefetch_b, bool parallel) {
  const int K = B.depth(), N = B.cols();
  const int a_panels = (M + MR - 1) / MR;
  const int base_rows = M / a_panels, taller = M % a_panels;  // the first `taller` panels have a row more
  const int b_panels = (N + NR - 1) / NR;
  block_panels = std::min(block_panels, b_panels);
  const long block_tiles = static_cast<long>(a_panels) * block_panels;  // all blocks but the last are full
  const long tiles = static_cast<long>(a_panels) * b_panels;
  const auto tiles_of = [&](int thread, int threads) {
    const long first = tiles * thread / threads, last = tiles * (thread + 1) / threads;
    alignas(64) float panel[kMaxMR * KC];
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      // Where tile `first` lies, then stepped tile by tile (a division per
      // tile cost 1% of a large GRU training step).
      int block = static_cast<int>(first / block_tiles);
      int width = std::min(block_panels, b_panels - block * block_panels);
      int ip = static_cast<int>((first - block * block_tiles) / width);
      int col = static_cast<int>((first - block * block_tiles) % width);
      bool pack = true;  // `panel` does not hold row panel ip of this depth block yet
      for (long tile = first; tile < last; ++tile) {
        const int i0 = ip * base_rows + std::min(ip, taller), rows = base_rows + (ip < taller ? 1 : 0);
        const int jp = block * block_panels + col, j0 = jp * NR;
        const float* b = B.panel(k0, jp);
        const float* next_b = prefetch_b && ip == 0 && jp + 1 < b_panels ? b + static_cast<long>(kc) * NR : nullptr;
        row_tile<MR>(rows, pack, A, lda, trans_a, i0, k0, kc, panel, b, alpha, C + static_cast<long>(i0) * ldc + j0,
                     ldc, std::min(NR, N - j0), overwrite && k0 == 0, next_b);
        pack = false;
        if (++col < width) continue;
        col = 0;
        pack = true;
        if (++ip < a_panels) continue;
        ip = 0;
        ++block;
        width = std::min(block_panels, b_panels - block * block_panels);
      }
    }
  };
  if (!parallel || static_cast<long>(M) * N * K <= kParallelWork) return tiles_of(0, 1);
#pragma omp parallel
  {
#ifdef _OPENMP
    tiles_of(omp_get_thread_num(), omp_get_num_threads());
#else
    tiles_of(0, 1);
#endif
  }
}

void multiply_packed(bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B, float* C,
                     int ldc, bool overwrite, bool parallel) {
  const GemmBlocking blocking = gemm_blocking();
  const int block_panels = blocking.block_cols / NR;  // a whole number (set_gemm_blocking)
  const long b_bytes = static_cast<long>(B.depth()) * B.cols() * static_cast<long>(sizeof(float));
  const bool prefetch_b = blocking.prefetch_b_above > 0 && b_bytes > blocking.prefetch_b_above;
  if (blocking.mr == 14)
    return multiply_packed<14>(trans_a, M, alpha, A, lda, B, C, ldc, overwrite, block_panels, prefetch_b, parallel);
  if (blocking.mr == 8)
    return multiply_packed<8>(trans_a, M, alpha, A, lda, B, C, ldc, overwrite, block_panels, prefetch_b, parallel);
  multiply_packed<6>(trans_a, M, alpha, A, lda, B, C, ldc, overwrite, block_panels, prefetch_b, parallel);
}

// One row of op(A) times op(B): generation at batch 1 lives here.
void gemv_row(bool trans_a, bool trans_b, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
              float* C) {
  // The single row of op(A) is strided when A is transposed; gather it once.
  thread_local std::vector<float> row;
  row.resize(K);
  for (int k = 0; k < K; ++k) row[k] = trans_a ? A[static_cast<long>(k) * lda] : A[k];
  const float* x = row.data();
  const bool parallel = static_cast<long>(N) * K > 4 * kParallelWork;
  if (trans_b) {
    // C[j] += alpha * dot(x, B[j, :]): contiguous dot products, one row at a
    // time (streams memory better than interleaving rows: measured).
#pragma omp parallel for schedule(static) if (parallel)
    for (int j = 0; j < N; ++j) {
      const float* bj = B + static_cast<long>(j) * ldb;
      float total = 0.0f;
#pragma omp simd reduction(+ : total)
      for (int k = 0; k < K; ++k) total += x[k] * bj[k];
      C[j] += alpha * total;
    }
  } else {
    // C[j] += alpha * sum_k x[k] B[k, j]: split columns into chunks per thread.
    constexpr int kChunk = 256;
    const int chunks = (N + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (parallel)
    for (int ch = 0; ch < chunks; ++ch) {
      const int j0 = ch * kChunk, j1 = std::min(N, j0 + kChunk);
      for (int k = 0; k < K; ++k) {
        const float xk = alpha * x[k];
        const float* bk = B + static_cast<long>(k) * ldb;
#pragma omp simd
        for (int j = j0; j < j1; ++j) C[j] += xk * bk[j];
      }
    }
  }
}

void require_gemm_args(int M, int N, int K) {
  if (M < 0 || N < 0 || K < 0) {
    throw ShapeError("gemm: negative size M=" + std::to_string(M) + " N=" + std::to_string(N) +
                     " K=" + std::to_string(K));
  }
}

// gemm_packed's work, split over the threads when `parallel`.
void packed_product(bool parallel, bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B,
                    float beta, float* C, int ldc) {
  require_gemm_args(M, B.cols(), B.depth());
  if (M == 0 || B.cols() == 0) return;
  if (B.depth() == 0 || alpha == 0.0f) return scale_c(M, B.cols(), beta, C, ldc);
  if (beta != 0.0f) scale_c(M, B.cols(), beta, C, ldc);
  multiply_packed(trans_a, M, alpha, A, lda, B, C, ldc, beta == 0.0f, parallel);
}

}  // namespace

void gemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc) {
  require_gemm_args(M, N, K);
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double total = 0.0;
      for (int k = 0; k < K; ++k)
        total += static_cast<double>(a_at(A, lda, trans_a, i, k)) * b_at(B, ldb, trans_b, k, j);
      float& c = C[static_cast<long>(i) * ldc + j];
      c = alpha * static_cast<float>(total) + (beta == 0.0f ? 0.0f : beta * c);
    }
  }
}

void PackedMatrix::pack(const float* B, int ldb, bool trans, int K, int N) {
  require_gemm_args(1, N, K);
  depth_ = K;
  cols_ = N;
  const int panels = (N + NR - 1) / NR;
  padded_cols_ = panels * NR;
  data_.resize(static_cast<std::size_t>(K) * padded_cols_);
  // Every (depth block, column panel) in one parallel region: a deep, narrow
  // B (dW = dG^T Y over all steps, 4032 x 128) has 16 blocks of 8 panels,
  // each block too small for a region of its own, and was packed by one
  // thread.
  const int blocks = (K + KC - 1) / KC;
#pragma omp parallel for schedule(static) if (static_cast<long>(N) * K > kParallelWork) num_threads(active_threads())
  for (int bp = 0; bp < blocks * panels; ++bp) {
    const int k0 = bp / panels * KC, p = bp % panels;
    const int kc = std::min(KC, K - k0);
    float* dst = data_.data() + static_cast<long>(k0) * padded_cols_ + static_cast<long>(p) * kc * NR;
    const int j0 = p * NR;
    const int cols = std::min(NR, N - j0);
    for (int k = 0; k < kc; ++k) {
      if (!trans && cols == NR) {
        std::memcpy(dst + k * NR, B + static_cast<long>(k0 + k) * ldb + j0, NR * sizeof(float));
        continue;
      }
      for (int j = 0; j < cols; ++j) dst[k * NR + j] = b_at(B, ldb, trans, k0 + k, j0 + j);
      for (int j = cols; j < NR; ++j) dst[k * NR + j] = 0.0f;
    }
  }
}

const float* PackedMatrix::panel(int k0, int p) const {
  const int kc = std::min(KC, depth_ - k0);
  return data_.data() + static_cast<long>(k0) * padded_cols_ + static_cast<long>(p) * kc * NR;
}

void gemm_packed(bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B, float beta, float* C,
                 int ldc) {
  apply_thread_setting();
  packed_product(true, trans_a, M, alpha, A, lda, B, beta, C, ldc);
}

void gemm_packed_on_this_thread(bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B,
                                float beta, float* C, int ldc) {
  packed_product(false, trans_a, M, alpha, A, lda, B, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
  require_gemm_args(M, N, K);
  apply_thread_setting();
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f || M == 1) scale_c(M, N, beta, C, ldc);
  if (K == 0 || alpha == 0.0f) return;
  if (M == 1) {
    gemv_row(trans_a, trans_b, N, K, alpha, A, lda, B, ldb, C);
    return;
  }
  if (beta != 0.0f) scale_c(M, N, beta, C, ldc);
  thread_local PackedMatrix packed;  // reused: the hot loop does not allocate
  packed.pack(B, ldb, trans_b, K, N);
  multiply_packed(trans_a, M, alpha, A, lda, packed, C, ldc, beta == 0.0f, true);
}

namespace {

// The register tile and cache block for the CPU running us. With 32
// vector registers (AVX-512): 8 rows (16 accumulators) on AMD, where 8 rows
// were 3-8% faster than 6 on Zen 5 (1 and 2 threads; the large config's
// recurrent and input products, 64x1024x256, square 512); 14 rows (28
// accumulators) on Intel, whose server cores issue two 512-bit FMAs per
// cycle with a 4-cycle latency and feed the B panels from L2 less fast:
// each B vector loaded serves 14 rows, not 8. With 16 registers, 6 rows
// (12 accumulators). A column block is one depth block of B held in L2:
// all of L2 on AMD (half of it cost Zen 5 1-6%: its L3 refills L2 fast), a
// quarter on Intel, whose mesh L3 streams ~26 GB/s to a core, so a block
// filling its 2 MB L2 was re-read from L3 by every row panel. Intel Xeon
// with AVX512_BF16 and AMX (hypervisor's family 6, model 167), GFLOP/s of
// the large LSTM's recurrent (64x2048x512), input (4096x2048x512) and
// weight-gradient (512x2048x4096) products on one thread: 8 rows, all of
// L2: 93-95 / 87-91 / 94-102; 8 rows, a quarter: 118 / 115 / 122; 14 rows,
// a quarter: 128 / 124 / 126 (two threads: 162 / 190 / 194 -> 258 / 261 /
// 253).
GemmBlocking blocking_for_this_cpu() {
  const bool intel = intel_cpu();
  GemmBlocking blocking;
  blocking.mr = kVecWidth == 16 ? (intel ? 14 : 8) : 6;
  const long l2 = std::clamp(l2_cache_bytes(), 256L << 10, 8L << 20);
  const long block_bytes = intel ? l2 / 4 : l2;
  blocking.block_cols = static_cast<int>(block_bytes / (KC * static_cast<long>(sizeof(float))));  // rounded when set
  // The same slow L3 refills a B larger than L2 in the first row panel of
  // each block; that panel prefetches the next column panel as it goes.
  // One thread, median of 5: recurrent 137 -> 141 GFLOP/s, weight gradient
  // 140 -> 147; two threads +3-6%.
  blocking.prefetch_b_above = intel ? l2 : 0;
  return blocking;
}

std::atomic<int> blocking_mr{0}, blocking_cols{0};
std::atomic<long> blocking_prefetch{0};

}  // namespace

GemmBlocking gemm_blocking() {
  if (blocking_mr.load(std::memory_order_relaxed) == 0) set_gemm_blocking(blocking_for_this_cpu());
  return {blocking_mr.load(std::memory_order_relaxed), blocking_cols.load(std::memory_order_relaxed),
          blocking_prefetch.load(std::memory_order_relaxed)};
}

void set_gemm_blocking(GemmBlocking blocking) {
  if (blocking.mr != 6 && blocking.mr != 8 && blocking.mr != 14) {
    throw std::invalid_argument("set_gemm_blocking: the register tile has 6, 8 or 14 rows, not " +
                                std::to_string(blocking.mr));
  }
  if (blocking.block_cols < 1) {
    throw std::invalid_argument("set_gemm_blocking: column block must be positive, got " +
                                std::to_string(blocking.block_cols));
  }
  // Blocks are whole panels of NR columns: round once here, so every reader sees the width in use.
  blocking_cols.store(std::max(NR, blocking.block_cols / NR * NR), std::memory_order_relaxed);
  blocking_prefetch.store(blocking.prefetch_b_above, std::memory_order_relaxed);
  blocking_mr.store(blocking.mr, std::memory_order_relaxed);
}

std::string gemm_kernel_name() {
  const GemmBlocking blocking = gemm_blocking();
  return std::to_string(blocking.mr) + "x" + std::to_string(NR) + " micro-tiles, depth blocks of " +
         std::to_string(KC) + ", column blocks of " + std::to_string(blocking.block_cols);
}

Matrix matmul(const Matrix& a, const Matrix& b, bool trans_a, bool trans_b) {
  const int M = trans_a ? a.cols() : a.rows();
  const int N = trans_b ? b.rows() : b.cols();
  Matrix c(M, N, Matrix::kUninitialized);  // beta = 0 overwrites it
  matmul_into(c, a, b, trans_a, trans_b, 1.0f, 0.0f);
  return c;
}

void matmul_into(Matrix& c, const Matrix& a, const Matrix& b, bool trans_a, bool trans_b, float alpha, float beta) {
  const int M = trans_a ? a.cols() : a.rows();
  const int K = trans_a ? a.rows() : a.cols();
  const int KB = trans_b ? b.cols() : b.rows();
  const int N = trans_b ? b.rows() : b.cols();
  if (K != KB) {
    throw ShapeError("matmul: inner dimensions differ: " + a.shape_str() + (trans_a ? "^T" : "") + " x " +
                     b.shape_str() + (trans_b ? "^T" : ""));
  }
  if (c.rows() != M || c.cols() != N) {
    throw ShapeError("matmul: output shape " + c.shape_str() + " should be (" + std::to_string(M) + ", " +
                     std::to_string(N) + ") for " + a.shape_str() + " x " + b.shape_str());
  }
  gemm(trans_a, trans_b, M, N, K, alpha, a.data(), a.cols(), b.data(), b.cols(), beta, c.data(), c.cols());
}

}  // namespace lmn
