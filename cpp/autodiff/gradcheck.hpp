#pragma once
// Central finite-difference gradient checking, a first-class tool: compares
// the gradients backward() computes with (f(x + eps) - f(x - eps)) / 2eps for
// every element of every input that requires grad.
#include <functional>
#include <string>
#include <vector>

#include "autodiff/node.hpp"

namespace lmn {

struct GradCheckResult {
  bool ok = true;
  float worst_error = 0.0f;  // max |numeric - analytic| / (abs_tol + rel_tol * |analytic|)
  std::string worst;         // which input and element
};

// f must build a fresh graph from `inputs` and return a (1, 1) value.
GradCheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Var>& inputs,
                          float eps = 1e-3f, float abs_tol = 2e-3f, float rel_tol = 2e-2f);

}  // namespace lmn
