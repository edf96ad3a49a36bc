#pragma once
// Random initial values for parameters.
#include "base/rng.hpp"
#include "tensor/matrix.hpp"

namespace lmn {

// Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
Matrix xavier_uniform(int rows, int cols, Rng& rng);
// U(-bound, bound), as torch.nn initialises recurrent layers.
Matrix uniform_matrix(int rows, int cols, float bound, Rng& rng);

}  // namespace lmn
