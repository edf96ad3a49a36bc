// Reductions to a scalar (1, 1).
#include "ops/ops.hpp"

namespace lmn {

Var sum(const Var& x) {
  return make_op(Matrix(1, 1, lmn::sum(x->value)), {x}, "sum", [](Node& self) {
    const Matrix& in = self.parents[0]->value;
    accumulate_grad(*self.parents[0], Matrix(in.rows(), in.cols(), self.grad[0]));
  });
}

Var mean(const Var& x) {
  return make_op(Matrix(1, 1, lmn::mean(x->value)), {x}, "mean", [](Node& self) {
    const Matrix& in = self.parents[0]->value;
    accumulate_grad(*self.parents[0], Matrix(in.rows(), in.cols(), self.grad[0] / static_cast<float>(in.size())));
  });
}

}  // namespace lmn
