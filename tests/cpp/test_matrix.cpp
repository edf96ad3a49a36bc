#include <array>
#include <string>

#include "base/parallel.hpp"
#include "check.hpp"
#include "tensor/gemm.hpp"
#include "tensor/init.hpp"
#include "tensor/matrix.hpp"
#include "tensor/matrix_math.hpp"

using namespace lmn;

TEST(shape_mismatch_names_both_shapes) {
  CHECK_THROWS(ShapeError, add(Matrix(2, 3), Matrix(3, 2)), "(2, 3) and (3, 2)");
  CHECK_THROWS(ShapeError, matmul(Matrix(2, 3), Matrix(2, 3)), "(2, 3) x (2, 3)");
  CHECK_THROWS(ShapeError, add_row_vector(Matrix(2, 3), Matrix(1, 2)), "(1, 2)");
  CHECK_THROWS(ShapeError, Matrix(-1, 3), "negative");
  CHECK_THROWS(ShapeError, Matrix(2, 2, std::vector<float>(3)), "3 values");
}

TEST(elementwise_and_broadcast) {
  Matrix a(2, 2, {1, 2, 3, 4}), b(2, 2, {5, 6, 7, 8});
  CHECK(add(a, b)(1, 1) == 12);
  CHECK(subtract(a, b)(0, 1) == -4);
  CHECK(hadamard(a, b)(1, 0) == 21);
  Matrix biased = add_row_vector(a, Matrix(1, 2, {10, 20}));
  CHECK(biased(1, 0) == 13 && biased(1, 1) == 24);
  Matrix s = sum_rows(a);
  CHECK(s(0, 0) == 4 && s(0, 1) == 6);
  Matrix t = transpose(Matrix(2, 3, {1, 2, 3, 4, 5, 6}));
  CHECK(t.rows() == 3 && t(2, 1) == 6 && t(0, 1) == 4);
}

TEST(activations_and_their_derivatives) {
  Matrix x(1, 3, {-2.0f, 0.0f, 3.0f});
  Matrix y = sigmoid(x);
  CHECK_NEAR(y(0, 1), 0.5, 1e-7);
  CHECK_NEAR(y(0, 0), 1.0 / (1.0 + std::exp(2.0)), 1e-7);
  // Derivative of sigmoid through its output: s(1-s) at x = 0 is 0.25.
  CHECK_NEAR(sigmoid_grad_from_output(y, Matrix(1, 3, 1.0f))(0, 1), 0.25, 1e-7);
  Matrix t = lmn::tanh(x);
  CHECK_NEAR(tanh_grad_from_output(t, Matrix(1, 3, 1.0f))(0, 2), 1.0 - std::tanh(3.0) * std::tanh(3.0), 1e-6);
  Matrix r = relu_grad_from_input(x, Matrix(1, 3, 2.0f));
  CHECK(r(0, 0) == 0 && r(0, 2) == 2);
  CHECK_NEAR(sigmoid(-100.0f), 0.0, 1e-30);  // no overflow
}

TEST(softmax_is_stable_and_normalised) {
  Matrix x(2, 3, {1000.0f, 1001.0f, 1002.0f, -5.0f, 0.0f, 5.0f});
  Matrix p = softmax_rows(x);
  CHECK(all_finite(p));
  CHECK_NEAR(p(0, 0) + p(0, 1) + p(0, 2), 1.0, 1e-6);
  Matrix lp = log_softmax_rows(x);
  CHECK_NEAR(lp(0, 2), -std::log(1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-5);
}

TEST(reductions) {
  Matrix a(2, 2, {1, -5, 3, 4});
  CHECK(sum(a) == 3);
  CHECK(mean(a) == 0.75f);
  CHECK(max_abs(a) == 5);
  CHECK_THROWS(ShapeError, mean(Matrix()), "empty");
}

TEST(uniform_matrix_is_seeded_and_bounded) {
  Rng r1(42), r2(42), r3(43);
  Matrix a = uniform_matrix(30, 20, 0.25f, r1), b = uniform_matrix(30, 20, 0.25f, r2),
         c = uniform_matrix(30, 20, 0.25f, r3);
  CHECK(max_abs(a) <= 0.25f);
  CHECK(max_abs(a) > 0.24f);
  CHECK(std::fabs(mean(a)) < 0.02f);
  CHECK(max_abs(subtract(a, b)) == 0.0f);
  CHECK(max_abs(subtract(a, c)) > 0.0f);
}

// Runs `fast` (C = alpha op(A) op(B) + beta C, like gemm) against the plain
// reference over awkward shapes, both transposes and both thread counts.
template <typename Fast>
void check_against_reference(const std::vector<std::array<int, 3>>& shapes, float alpha, float beta, Fast fast) {
  Rng rng(7);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const auto& [M, N, K] : shapes) {
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          Matrix A = ta ? uniform_matrix(K, M, 1, rng) : uniform_matrix(M, K, 1, rng);
          Matrix B = tb ? uniform_matrix(N, K, 1, rng) : uniform_matrix(K, N, 1, rng);
          Matrix got = uniform_matrix(M, N, 1, rng), want = got;
          fast(ta, tb, M, N, K, A, B, got);
          gemm_reference(ta, tb, M, N, K, alpha, A.data(), A.cols(), B.data(), B.cols(), beta, want.data(), N);
          CHECK(max_abs(subtract(got, want)) <= 1e-5f * std::sqrt(static_cast<float>(K)) * 6);
        }
      }
    }
  }
  set_num_threads(1);
}

TEST(fast_gemm_matches_reference) {
  for (float beta : {0.3f, 0.0f}) {  // beta = 0 overwrites C without reading it
    check_against_reference(
        {{1, 1, 1}, {1, 37, 19}, {7, 5, 3}, {13, 70, 300}, {64, 512, 128}, {130, 33, 600}, {6, 32, 256}}, 0.7f, beta,
        [beta](bool ta, bool tb, int M, int N, int K, Matrix& A, Matrix& B, Matrix& C) {
          gemm(ta, tb, M, N, K, 0.7f, A.data(), A.cols(), B.data(), B.cols(), beta, C.data(), N);
        });
  }
}

TEST(prepacked_gemm_matches_reference) {
  for (float beta : {1.0f, 0.0f}) {
    check_against_reference({{2, 1, 1}, {64, 512, 128}, {7, 45, 300}, {64, 128, 512}, {13, 33, 7}}, 1.5f, beta,
                            [beta](bool ta, bool tb, int M, int N, int K, Matrix& A, Matrix& B, Matrix& C) {
                              PackedMatrix packed;
                              packed.pack(B.data(), B.cols(), tb, K, N);
                              gemm_packed(ta, M, 1.5f, A.data(), A.cols(), packed, beta, C.data(), N);
                            });
  }
}

TEST(every_gemm_blocking_matches_reference) {
  // Every register tile, and column blocks narrow enough that products span
  // several of them with a narrower last one (the choice for this CPU is one of these),
  // with and without prefetching the next column panel (every B here is past 1 byte).
  const GemmBlocking chosen = gemm_blocking();
  for (int mr : {6, 8, 14}) {
    for (int block_cols : {1, 64, 100, 4096}) {
      set_gemm_blocking({mr, block_cols, block_cols == 64 ? 1 : 0});
      check_against_reference({{1, 37, 19}, {13, 70, 300}, {64, 512, 128}, {130, 333, 600}, {9, 1000, 20}}, 0.7f, 0.3f,
                              [](bool ta, bool tb, int M, int N, int K, Matrix& A, Matrix& B, Matrix& C) {
                                gemm(ta, tb, M, N, K, 0.7f, A.data(), A.cols(), B.data(), B.cols(), 0.3f, C.data(), N);
                              });
    }
  }
  set_gemm_blocking(chosen);
  CHECK_THROWS(std::invalid_argument, set_gemm_blocking({7, 64}), "6, 8 or 14 rows");
}

TEST(every_row_panel_height_matches_reference) {
  // M rows are split into panels of as equal height as can be: every M up to
  // three panels of every register tile gives every height from 1 to 14.
  const GemmBlocking chosen = gemm_blocking();
  std::vector<std::array<int, 3>> shapes;
  for (int M = 2; M <= 3 * 14; ++M) shapes.push_back({M, 37, 19});
  for (int mr : {6, 8, 14}) {
    set_gemm_blocking({mr, chosen.block_cols});
    check_against_reference(shapes, 0.7f, 0.3f,
                            [](bool ta, bool tb, int M, int N, int K, Matrix& A, Matrix& B, Matrix& C) {
                              gemm(ta, tb, M, N, K, 0.7f, A.data(), A.cols(), B.data(), B.cols(), 0.3f, C.data(), N);
                            });
  }
  set_gemm_blocking(chosen);
}

TEST(a_row_of_a_product_does_not_depend_on_the_rows_beside_it) {
  // 32 rows run as panels of 6 6 5 5 5 5 (or 8 x 4, or 11 11 10), 7 rows as
  // 4 3 (or 7): each element's sum runs in the same order, so the rows agree
  // to the bit.
  const GemmBlocking chosen = gemm_blocking();
  Rng rng(11);
  const int K = 300, N = 70;
  const Matrix A = uniform_matrix(32, K, 1, rng), B = uniform_matrix(K, N, 1, rng);
  for (int mr : {6, 8, 14}) {
    set_gemm_blocking({mr, chosen.block_cols});
    Matrix all(32, N), first(7, N), last(7, N);
    gemm(false, false, 32, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, all.data(), N);
    gemm(false, false, 7, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, first.data(), N);
    gemm(false, false, 7, N, K, 1.0f, A.row(25), K, B.data(), N, 0.0f, last.data(), N);
    for (int i = 0; i < 7; ++i) {
      for (int j = 0; j < N; ++j) {
        CHECK(first(i, j) == all(i, j));
        CHECK(last(i, j) == all(25 + i, j));
      }
    }
  }
  set_gemm_blocking(chosen);
}

TEST(packed_products_split_by_rows_over_a_team_equal_the_whole_product) {
  // The fused recurrences give each thread of a team its own batch rows and
  // call gemm_packed_on_this_thread for them: the same bits as one product.
  Rng rng(13);
  const int M = 61, N = 200, K = 130;
  const Matrix A = uniform_matrix(M, K, 1, rng), W = uniform_matrix(N, K, 1, rng), C0 = uniform_matrix(M, N, 1, rng);
  PackedMatrix packed;
  packed.pack(W.data(), K, true, K, N);  // op(B) = W^T, as the recurrences pack W_hh
  set_num_threads(2);
  for (float beta : {0.0f, 1.0f}) {
    Matrix whole = C0, split = C0;
    gemm_packed(false, M, 1.0f, A.data(), K, packed, beta, whole.data(), N);
    run_team(2, [&](const Team& team) {
      const int r0 = M * team.thread / team.size, r1 = M * (team.thread + 1) / team.size;
      gemm_packed_on_this_thread(false, r1 - r0, 1.0f, A.row(r0), K, packed, beta, split.row(r0), N);
    });
    CHECK(max_abs(subtract(whole, split)) == 0.0f);
    Matrix want = C0;
    gemm_reference(false, true, M, N, K, 1.0f, A.data(), K, W.data(), K, beta, want.data(), N);
    CHECK(max_abs(subtract(split, want)) <= 1e-4f);
  }
  set_num_threads(1);
}

TEST(gemm_blocking_is_rounded_to_whole_panels_once) {
  const GemmBlocking chosen = gemm_blocking();
  set_gemm_blocking({6, 1});
  const int panel = gemm_blocking().block_cols;  // the narrowest block: one panel of the tile's columns
  CHECK(panel >= 8);
  CHECK(chosen.block_cols >= panel && chosen.block_cols % panel == 0);
  set_gemm_blocking({6, 3 * panel - 1});
  CHECK(gemm_blocking().block_cols == 2 * panel);
  set_gemm_blocking({8, 3 * panel});
  CHECK(gemm_blocking().block_cols == 3 * panel);
  CHECK(gemm_kernel_name().ends_with("column blocks of " + std::to_string(3 * panel)));  // the width in use
  set_gemm_blocking(chosen);
}

TEST(sum_rows_is_the_same_at_any_thread_count) {
  Rng rng(4);
  const Matrix x = uniform_matrix(300, 517, 1, rng);  // large enough to split over threads
  set_num_threads(2);
  const Matrix two = sum_rows(x);
  set_num_threads(1);
  const Matrix one = sum_rows(x);
  CHECK(max_abs(subtract(one, two)) == 0.0f);
  for (int c = 0; c < x.cols(); c += 37) {
    double want = 0.0;
    for (int r = 0; r < x.rows(); ++r) want += x(r, c);
    CHECK_NEAR(one[c], want, 1e-4);
  }
}

TEST(gemm_beta_zero_ignores_nan_in_output) {
  Matrix A(2, 2, 1.0f), B(2, 2, 1.0f), C(2, 2, std::nanf(""));
  matmul_into(C, A, B, false, false, 1.0f, 0.0f);
  CHECK(all_finite(C) && C(0, 0) == 2.0f);
  // several depth blocks, edge tiles, two threads; the packed entry too
  set_num_threads(2);
  Rng rng(2);
  const Matrix X = uniform_matrix(13, 600, 1, rng), Y = uniform_matrix(600, 70, 1, rng);
  Matrix big(13, 70, std::nanf("")), packed_out(13, 70, std::nanf(""));
  matmul_into(big, X, Y, false, false, 1.0f, 0.0f);
  PackedMatrix packed;
  packed.pack(Y.data(), 70, false, 600, 70);
  gemm_packed(false, 13, 1.0f, X.data(), 600, packed, 0.0f, packed_out.data(), 70);
  set_num_threads(1);
  CHECK(all_finite(big) && all_finite(packed_out));
  CHECK(max_abs(subtract(big, matmul(X, Y))) < 1e-4f && max_abs(subtract(packed_out, big)) < 1e-4f);
}

TEST_MAIN()
