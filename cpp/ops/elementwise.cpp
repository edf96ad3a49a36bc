// Elementwise arithmetic and bias broadcasting, forward next to backward.
#include "ops/ops.hpp"

namespace lmn {

Var add(const Var& a, const Var& b) {
  return make_op(lmn::add(a->value, b->value), {a, b}, "add", [](Node& self) {
    accumulate_grad(*self.parents[0], self.grad);
    accumulate_grad(*self.parents[1], self.grad);
  });
}

Var subtract(const Var& a, const Var& b) {
  return make_op(lmn::subtract(a->value, b->value), {a, b}, "subtract", [](Node& self) {
    accumulate_grad(*self.parents[0], self.grad);
    accumulate_grad(*self.parents[1], lmn::scale(self.grad, -1.0f));
  });
}

Var multiply(const Var& a, const Var& b) {
  return make_op(hadamard(a->value, b->value), {a, b}, "multiply", [](Node& self) {
    Node& x = *self.parents[0];
    Node& y = *self.parents[1];
    // d(x*y)/dx = y, d(x*y)/dy = x
    if (x.requires_grad) accumulate_grad(x, hadamard(self.grad, y.value));
    if (y.requires_grad) accumulate_grad(y, hadamard(self.grad, x.value));
  });
}

Var scale(const Var& a, float s) {
  return make_op(lmn::scale(a->value, s), {a}, "scale",
                 [s](Node& self) { accumulate_grad(*self.parents[0], lmn::scale(self.grad, s)); });
}

Var add_scalar(const Var& a, float s) {
  Matrix out = a->value;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] += s;
  return make_op(std::move(out), {a}, "add_scalar", [](Node& self) { accumulate_grad(*self.parents[0], self.grad); });
}

Var add_bias(const Var& x, const Var& bias) {
  return make_op(add_row_vector(x->value, bias->value), {x, bias}, "add_bias", [](Node& self) {
    accumulate_grad(*self.parents[0], self.grad);
    // The bias was broadcast over rows, so its gradient sums over them.
    if (self.parents[1]->requires_grad) accumulate_grad(*self.parents[1], sum_rows(self.grad));
  });
}

}  // namespace lmn
