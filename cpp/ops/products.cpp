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
    if (x.requires_grad) matmul_into(x.grad_buffer(), self.grad, w.value, false, true, 1.0f, 1.0f);
    if (w.requires_grad) matmul_into(w.grad_buffer(), x.value, self.grad, true, false, 1.0f, 1.0f);
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
    if (in.requires_grad) matmul_into(in.grad_buffer(), self.grad, weight.value, false, false, 1.0f, 1.0f);
    if (weight.requires_grad) matmul_into(weight.grad_buffer(), self.grad, in.value, true, false, 1.0f, 1.0f);
    if (self.parents.size() > 2 && self.parents[2]->requires_grad)
      accumulate_grad(*self.parents[2], sum_rows(self.grad));
  });
}

}  // namespace lmn
