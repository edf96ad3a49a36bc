#include "autodiff/gradcheck.hpp"

#include <cmath>

namespace lmn {

GradCheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Var>& inputs,
                          float eps, float abs_tol, float rel_tol) {
  zero_grads(inputs);
  backward(f(inputs));
  std::vector<Matrix> analytic;
  for (const auto& in : inputs)
    analytic.push_back(in->grad.empty() ? Matrix(in->value.rows(), in->value.cols()) : in->grad);
  zero_grads(inputs);

  GradCheckResult result;
  NoGradGuard no_grad;  // the probes need no graph
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k]->requires_grad) continue;
    Matrix& v = inputs[k]->value;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const float original = v[i];
      v[i] = original + eps;
      const double plus = f(inputs)->value[0];
      v[i] = original - eps;
      const double minus = f(inputs)->value[0];
      v[i] = original;
      const float numeric = static_cast<float>((plus - minus) / (2.0 * eps));
      const float error = std::fabs(numeric - analytic[k][i]) / (abs_tol + rel_tol * std::fabs(analytic[k][i]));
      if (error > result.worst_error) {
        result.worst_error = error;
        result.worst = "input " + std::to_string(k) + " element " + std::to_string(i) + ": numeric " +
                       std::to_string(numeric) + " vs analytic " + std::to_string(analytic[k][i]);
      }
    }
  }
  result.ok = result.worst_error <= 1.0f;
  return result;
}

}  // namespace lmn
