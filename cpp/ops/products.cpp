// Matrix products: matmul, transpose and linear (x W^T + b), forward next
// to backward.
#include "ops/ops.hpp"
#include "tensor/gemm.hpp"

namespace lmn {

Var matmul(const Var& a, const Var& b) {
  return make_op(lmn::matmul(a->value, b->value), {a, b}, "matmul", [](Node& self) {
    Node& x = *self.parents[0];
    Node& w = *self.parents[1];
    // C = X W:  dX = dC W^T,  dW = X^T dC
    accumulate_product(x, self.grad, false, w.value, true);
    accumulate_product(w, x.value, true, self.grad, false);
  });
}

Var transpose(const Var& a) {
  return make_op(lmn::transpose(a->value), {a}, "transpose",
                 [](Node& self) { accumulate_grad(*self.parents[0], lmn::transpose(self.grad)); });
}

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
    accumulate_product(in, self.grad, false, weight.value, false);
    accumulate_product(weight, self.grad, true, in.value, false);
    if (self.parents.size() > 2 && self.parents[2]->requires_grad)
      accumulate_grad(*self.parents[2], sum_rows(self.grad));
  });
}

}  // namespace lmn
