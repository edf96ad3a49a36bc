#pragma once
// The single front door for matrix products. `gemm` dispatches to a packed,
// cache-blocked, SIMD, multi-threaded kernel; `gemm_reference` is the plain
// triple loop kept to test it against.
#include <string>
#include <vector>

#include "tensor/matrix.hpp"

namespace lmn {

// C (M, N) = alpha * op(A) * op(B) + beta * C, all row-major.
// op(A) is (M, K): A is stored (M, K) or, when trans_a, (K, M); likewise B.
// beta == 0 overwrites C (NaNs already in C do not leak through).
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);
void gemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc);

// op(B) (K, N) packed once into the kernel's panel layout, for products
// that reuse the same right-hand side many times (recurrent weights).
class PackedMatrix {
 public:
  void pack(const float* B, int ldb, bool trans, int K, int N);
  int depth() const { return depth_; }
  int cols() const { return cols_; }
  const float* panel(int k0, int p) const;  // depth block from k0, column panel p

 private:
  int depth_ = 0, cols_ = 0, padded_cols_ = 0;
  std::vector<float, DefaultInitAllocator<float>> data_;  // pack() writes every entry
};

// C (M, N) = alpha * op(A) * B + beta * C for a packed B.
void gemm_packed(bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B, float beta, float* C,
                 int ldc);
// The same on the calling thread alone, for a caller that is one of a team
// of threads already, each with its own rows of C. The same bits as
// gemm_packed: an element's sum runs in one order whatever the split.
void gemm_packed_on_this_thread(bool trans_a, int M, float alpha, const float* A, int lda, const PackedMatrix& B,
                                float beta, float* C, int ldc);

// How the packed kernel tiles a product: rows of its register tile (6, 8 or 14)
// and columns of B per cache block. Chosen for the running CPU on first use
// (vector registers, vendor, L2 cache size); set_gemm_blocking is for tests and tuning runs,
// and rounds block_cols down to whole panels of the tile's columns (at least one).
struct GemmBlocking {
  int mr = 6;
  int block_cols = 512;
  // Packed B bytes past which the first row panel of each column block,
  // reading B from L3, prefetches the next column panel into L2 (0: never).
  long prefetch_b_above = 0;
};
GemmBlocking gemm_blocking();
void set_gemm_blocking(GemmBlocking blocking);

// The kernel's shape, for show_config(): "6x32 micro-tiles, depth blocks of 256, column blocks of 512".
std::string gemm_kernel_name();

// op(a) * op(b) with shape checks naming both shapes.
Matrix matmul(const Matrix& a, const Matrix& b, bool trans_a = false, bool trans_b = false);
// c = alpha * op(a) * op(b) + beta * c; c must already have the result shape.
void matmul_into(Matrix& c, const Matrix& a, const Matrix& b, bool trans_a, bool trans_b, float alpha = 1.0f,
                 float beta = 0.0f);

}  // namespace lmn
