#pragma once
// Random initial values for parameters.
#include "base/rng.hpp"
#include "tensor/matrix.hpp"

namespace lmn {

// How a model's layers draw their initial weights. Chosen per model by
// measurement (benchmarks/quality.py, benchmarks/timeseries.py): token
// models train to a lower held-out loss from Xavier weights, regressors to
// a lower MSE from torch.nn's scheme.
enum class InitScheme {
  Xavier,  // Xavier-uniform weights (per gate block), zero biases
  Torch,   // torch.nn: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases (recurrent: fan_in = hidden)
};

// Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
Matrix xavier_uniform(int rows, int cols, Rng& rng);
// U(-bound, bound), as torch.nn initialises recurrent and linear layers.
Matrix uniform_matrix(int rows, int cols, float bound, Rng& rng);

}  // namespace lmn
