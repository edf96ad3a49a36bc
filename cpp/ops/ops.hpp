#pragma once
// Differentiable operations on Vars. Each op's forward and backward sit side
// by side in the file of its family:
//   elementwise.cpp  add, subtract, multiply, scale, add_bias
//   activation.cpp   sigmoid, tanh, relu, exp, log, softmax, log_softmax
//   products.cpp     matmul, transpose, linear
//   shape.cpp        slice/concat/gather of rows and columns
//   tokens.cpp       embedding lookup, vocabulary projection, scatter-add of rows
//   reduce.cpp       sum, mean
//   dropout.cpp      inverted dropout
//   losses.cpp       mse, l1, huber, bce, bce_with_logits, cross_entropy
#include <vector>

#include "autodiff/node.hpp"
#include "base/rng.hpp"
#include "tensor/matrix_math.hpp"

namespace lmn {

Var add(const Var& a, const Var& b);
Var subtract(const Var& a, const Var& b);
Var multiply(const Var& a, const Var& b);  // elementwise
Var scale(const Var& a, float s);
Var add_scalar(const Var& a, float s);
Var add_bias(const Var& x, const Var& bias);  // x (N, C) + bias (1, C)

Var sigmoid(const Var& x);
Var tanh(const Var& x);
Var relu(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);          // requires x > 0
Var softmax(const Var& x);      // row-wise
Var log_softmax(const Var& x);  // row-wise

Var matmul(const Var& a, const Var& b);
// x (N, in) W^T + b, with W (out, in) and b (1, out) as torch.nn.Linear; bias may be null.
Var linear(const Var& x, const Var& weight, const Var& bias);
Var transpose(const Var& a);
// The input projection of every vocabulary entry, P = table W^T (V, G): row
// t is what embedding_lookup(table, tokens) W^T holds wherever a token is t.
// A null table means one-hot inputs (P = W^T). Cheaper than the GEMM over
// all positions when V is small; a fused recurrence reads each token's row
// (RecurrentLayer::forward_projected).
Var vocab_projection(const Var& table, const Var& weight);

Var slice_cols(const Var& x, int start, int count);
Var slice_rows(const Var& x, int start, int count);
Var concat_cols(const std::vector<Var>& parts);
Var concat_rows(const std::vector<Var>& parts);
// Rows of x picked by index (any order, repeats allowed); the gradient scatters back.
Var gather_rows(const Var& x, const std::vector<int>& rows);
// Rows of weight (V, E) picked by tokens; the gradient scatters back.
Var embedding_lookup(const Var& weight, const std::vector<int>& tokens);
// dst.row(rows[i]) += src.row(i) for every i, repeats accumulating (the
// gradient of a gather); split over threads by columns when large. With
// column_sums (1, cols), also adds every row of src into it, in the same
// pass and order as sum_rows.
void scatter_add_rows(const Matrix& src, const std::vector<int>& rows, Matrix& dst, Matrix* column_sums = nullptr);

Var sum(const Var& x);   // -> (1, 1)
Var mean(const Var& x);  // -> (1, 1)

// Inverted dropout: zero with probability p, scale survivors by 1/(1-p).
// Identity when !training or p == 0.
Var dropout(const Var& x, float p, bool training, Rng& rng);

// Losses, all means -> (1, 1).
Var mse_loss(const Var& prediction, const Matrix& target);
// Mean absolute error; the gradient at a zero difference is 0 (as torch's sign).
Var l1_loss(const Var& prediction, const Matrix& target);
// torch.nn.HuberLoss: 0.5 d^2 where |d| < delta, else delta (|d| - delta / 2).
Var huber_loss(const Var& prediction, const Matrix& target, float delta = 1.0f);
Var bce_loss(const Var& probability, const Matrix& target);  // probability in (0, 1)
Var bce_with_logits_loss(const Var& logits, const Matrix& target);
// Cross-entropy fused with log-softmax over rows of logits (N, C). A target of
// ignore_index contributes nothing; the mean runs over the other rows.
constexpr int kIgnoreIndex = -1;
Var cross_entropy_loss(const Var& logits, const std::vector<int>& targets);

}  // namespace lmn
