// Ops on token ids: the embedding lookup (rows gathered forward, scatter-
// added backward) and the input projection of the whole vocabulary.
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
  return make_op(std::move(out), {weight}, "embedding",
                 [tokens](Node& self) { scatter_add_rows(self.grad, tokens, self.parents[0]->grad_buffer()); });
}

Var vocab_projection(const Var& table, const Var& weight) {
  const Matrix& w = weight->value;  // (G, in)
  if (table && table->value.cols() != w.cols()) {
    throw ShapeError("vocab_projection: table " + table->value.shape_str() + " does not match weight " + w.shape_str());
  }
  Matrix P = table ? lmn::matmul(table->value, w, false, true) : lmn::transpose(w);
  std::vector<Var> parents{weight};
  if (table) parents.push_back(table);
  return make_op(std::move(P), parents, "vocab_projection", [](Node& self) {
    Node& weight = *self.parents[0];
    const Matrix& dP = self.grad;
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

void scatter_add_rows(const Matrix& src, const std::vector<int>& rows, Matrix& dst, Matrix* column_sums) {
  // Threads take column ranges, so no two write the same entry.
  const int cols = dst.cols();
  float* sums = column_sums ? column_sums->data() : nullptr;
  for_column_ranges(cols, static_cast<long>(rows.size()) * cols >= kParallelCopy, [&](int j0, int j1) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const float* from = src.row(static_cast<int>(i));
      float* to = dst.row(rows[i]);
      for (int j = j0; j < j1; ++j) to[j] += from[j];
      if (sums)
        for (int j = j0; j < j1; ++j) sums[j] += from[j];
    }
  });
}

}  // namespace lmn
