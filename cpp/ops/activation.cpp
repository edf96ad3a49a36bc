// Activations. Derivatives use what is saved explicitly: sigmoid and tanh
// differentiate through their output, relu, exp and log through their input.
#include <cmath>
#include <utility>

#include "ops/ops.hpp"

namespace lmn {

Var sigmoid(const Var& x) {
  return make_op(lmn::sigmoid(x->value), {x}, "sigmoid", [](Node& self) {
    accumulate_grad(*self.parents[0], sigmoid_grad_from_output(self.value, self.grad));
  });
}

Var tanh(const Var& x) {
  return make_op(lmn::tanh(x->value), {x}, "tanh",
                 [](Node& self) { accumulate_grad(*self.parents[0], tanh_grad_from_output(self.value, self.grad)); });
}

Var relu(const Var& x) {
  return make_op(lmn::relu(x->value), {x}, "relu", [](Node& self) {
    accumulate_grad(*self.parents[0], relu_grad_from_input(self.parents[0]->value, self.grad));
  });
}

Var exp(const Var& x) {
  Matrix out(x->value.rows(), x->value.cols());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::exp(x->value[i]);
  return make_op(std::move(out), {x}, "exp", [](Node& self) {
    accumulate_grad(*self.parents[0], hadamard(self.grad, self.value));  // d exp = exp
  });
}

Var log(const Var& x) {
  Matrix out(x->value.rows(), x->value.cols());
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!(x->value[i] > 0.0f)) {
      throw std::domain_error("log: input must be positive, found " + std::to_string(x->value[i]) + " at flat index " +
                              std::to_string(i));
    }
    out[i] = std::log(x->value[i]);
  }
  return make_op(std::move(out), {x}, "log", [](Node& self) {
    const Matrix& input = self.parents[0]->value;
    Matrix g(input.rows(), input.cols());
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = self.grad[i] / input[i];
    accumulate_grad(*self.parents[0], std::move(g));
  });
}

Var softmax(const Var& x) {
  return make_op(softmax_rows(x->value), {x}, "softmax", [](Node& self) {
    // dx = y * (dy - sum(dy * y)) per row
    const Matrix& y = self.value;
    Matrix g(y.rows(), y.cols());
    for (int r = 0; r < y.rows(); ++r) {
      double dot = 0.0;
      for (int c = 0; c < y.cols(); ++c) dot += self.grad(r, c) * y(r, c);
      for (int c = 0; c < y.cols(); ++c) g(r, c) = y(r, c) * (self.grad(r, c) - static_cast<float>(dot));
    }
    accumulate_grad(*self.parents[0], std::move(g));
  });
}

Var log_softmax(const Var& x) {
  return make_op(log_softmax_rows(x->value), {x}, "log_softmax", [](Node& self) {
    // dx = dy - softmax * sum(dy) per row
    const Matrix& logp = self.value;
    Matrix g(logp.rows(), logp.cols());
    for (int r = 0; r < logp.rows(); ++r) {
      double total = 0.0;
      for (int c = 0; c < logp.cols(); ++c) total += self.grad(r, c);
      for (int c = 0; c < logp.cols(); ++c)
        g(r, c) = self.grad(r, c) - std::exp(logp(r, c)) * static_cast<float>(total);
    }
    accumulate_grad(*self.parents[0], std::move(g));
  });
}

}  // namespace lmn
