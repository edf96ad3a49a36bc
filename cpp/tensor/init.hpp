#pragma once
// Random initial values for parameters.
#include "base/rng.hpp"
#include "tensor/matrix.hpp"

namespace lmn {

// U(-bound, bound), as torch.nn initialises recurrent and linear layers.
Matrix uniform_matrix(int rows, int cols, float bound, Rng& rng);
// N(0, stddev^2), as torch.nn initialises embeddings (stddev 1).
Matrix normal_matrix(int rows, int cols, float stddev, Rng& rng);

}  // namespace lmn
