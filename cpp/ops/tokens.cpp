// Ops on token ids: the embedding lookup and the input projection of tokens
// (both gather rows forward and scatter-add them backward).
#include <algorithm>
#include <string>

#include "base/parallel.hpp"
#include "ops/ops.hpp"
#include "tensor/gemm.hpp"

namespace lmn {

Var embedding_lookup(const Var& weight, const std::vector<int>& tokens) {
  const Matrix& w = weight->value;
  Matrix out(static_cast<int>(tokens.size()), w.cols());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const int t = tokens[i];
    if (t < 0 || t >= w.rows()) {
      throw std::out_of_range("embedding: token " + std::to_string(t) + " at position " + std::to_string(i) +
                              " is outside the vocabulary [0, " + std::to_string(w.rows()) + ")");
    }
    std::copy_n(w.row(t), w.cols(), out.row(static_cast<int>(i)));
  }
  return make_op(std::move(out), {weight}, "embedding", [tokens](Node& self) {
    Matrix& g = self.parents[0]->grad_buffer();
    // Repeated tokens accumulate: this is a scatter-add.
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      float* dst = g.row(tokens[i]);
      const float* src = self.grad.row(static_cast<int>(i));
      for (int c = 0; c < g.cols(); ++c) dst[c] += src[c];
    }
  });
}

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
#pragma omp parallel for schedule(static) if (static_cast<long>(rows) * G >= kParallelCopy) \
    num_threads(active_threads())
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
      accumulate_grad(weight, lmn::transpose(dP));
      return;
    }
    Node& table = *self.parents[1];
    // P = E W^T:  dW = dP^T E,  dE = dP W
    accumulate_product(weight, dP, true, table.value, false);
    accumulate_product(table, dP, false, weight.value, false);
  });
}

}  // namespace lmn
