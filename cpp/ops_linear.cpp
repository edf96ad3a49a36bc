// Matrix product and transpose.
#include <algorithm>

#include "matmul.hpp"
#include "ops.hpp"
#include "parallel.hpp"

namespace lmn {

namespace {
// Gathers and scatters of token rows use threads from this many floats on.
constexpr long kParallelCopy = 1L << 16;
}  // namespace

Var matmul(const Var& a, const Var& b) {
  return make_op(lmn::matmul(a->value, b->value), {a, b}, "matmul", [](Node& self) {
    Node& x = *self.parents[0];
    Node& w = *self.parents[1];
    // C = X W:  dX = dC W^T,  dW = X^T dC
    if (x.requires_grad) matmul_into(x.grad_buffer(), self.grad, w.value, false, true, 1.0f, 1.0f);
    if (w.requires_grad) matmul_into(w.grad_buffer(), x.value, self.grad, true, false, 1.0f, 1.0f);
  });
}

Var transpose(const Var& a) {
  return make_op(lmn::transpose(a->value), {a}, "transpose",
                 [](Node& self) { accumulate_grad(*self.parents[0], lmn::transpose(self.grad)); });
}

}  // namespace lmn

namespace lmn {

Var linear(const Var& x, const Var& weight, const Var& bias) {
  const Matrix& w = weight->value;
  if (bias && (bias->value.rows() != 1 || bias->value.cols() != w.rows())) {
    throw ShapeError("linear: bias " + bias->value.shape_str() + " does not match weight " + w.shape_str());
  }
  Matrix out = lmn::matmul(x->value, w, false, true);  // (N, in) x (out, in)^T
  if (bias) out = add_row_vector(out, bias->value);
  std::vector<Var> parents{x, weight};
  if (bias) parents.push_back(bias);
  return make_op(std::move(out), parents, "linear", [](Node& self) {
    Node& in = *self.parents[0];
    Node& weight = *self.parents[1];
    // y = x W^T + b:  dx = dy W,  dW = dy^T x,  db = column sums of dy
    if (in.requires_grad) matmul_into(in.grad_buffer(), self.grad, weight.value, false, false, 1.0f, 1.0f);
    if (weight.requires_grad) matmul_into(weight.grad_buffer(), self.grad, in.value, true, false, 1.0f, 1.0f);
    if (self.parents.size() > 2 && self.parents[2]->requires_grad) accumulate_grad(*self.parents[2], sum_rows(self.grad));
  });
}

}  // namespace lmn

namespace lmn {

Var token_projection(const Var& table, const Var& weight, const std::vector<int>& tokens) {
  const Matrix& w = weight->value;  // (G, in)
  const int V = table ? table->value.rows() : w.cols();
  if (table && table->value.cols() != w.cols()) {
    throw ShapeError("token_projection: table " + table->value.shape_str() + " does not match weight " + w.shape_str());
  }
  // P (V, G): the projection of every vocabulary entry.
  const Matrix P = table ? lmn::matmul(table->value, w, false, true) : lmn::transpose(w);
  const int G = P.cols();
  for (std::size_t r = 0; r < tokens.size(); ++r) {
    const int t = tokens[r];
    if (t < 0 || t >= V) {
      throw std::out_of_range("token_projection: token " + std::to_string(t) + " at position " + std::to_string(r) +
                              " is outside the vocabulary [0, " + std::to_string(V) + ")");
    }
  }
  const int rows = static_cast<int>(tokens.size());
  Matrix out(rows, G, Matrix::kUninitialized);
#pragma omp parallel for schedule(static) if (static_cast<long>(rows) * G >= kParallelCopy)
  for (int r = 0; r < rows; ++r) std::copy_n(P.row(tokens[r]), G, out.row(r));
  std::vector<Var> parents{weight};
  if (table) parents.push_back(table);
  return make_op(std::move(out), parents, "token_projection", [tokens, V](Node& self) {
    Node& weight = *self.parents[0];
    const int G = self.grad.cols();
    // dP: the output gradient summed per token (a scatter-add), (V, G).
    // Threads take column ranges, so no two write the same entry.
    Matrix dP(V, G);
    for_column_ranges(G, static_cast<long>(tokens.size()) * G >= kParallelCopy, [&](int j0, int j1) {
      for (std::size_t r = 0; r < tokens.size(); ++r) {
        const float* src = self.grad.row(static_cast<int>(r));
        float* dst = dP.row(tokens[r]);
        for (int j = j0; j < j1; ++j) dst[j] += src[j];
      }
    });
    if (self.parents.size() == 1) {  // one-hot: P = W^T, so dW = dP^T
      if (weight.requires_grad) axpy(weight.grad_buffer(), 1.0f, lmn::transpose(dP));
      return;
    }
    Node& table = *self.parents[1];
    // P = E W^T:  dW = dP^T E,  dE = dP W
    if (weight.requires_grad) matmul_into(weight.grad_buffer(), dP, table.value, true, false, 1.0f, 1.0f);
    if (table.requires_grad) matmul_into(table.grad_buffer(), dP, weight.value, false, false, 1.0f, 1.0f);
  });
}

}  // namespace lmn
