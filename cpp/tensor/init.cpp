#include "tensor/init.hpp"

#include <cmath>

namespace lmn {

Matrix uniform_matrix(int rows, int cols, float bound, Rng& rng) {
  Matrix out(rows, cols);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = rng.uniform(-bound, bound);
  return out;
}

Matrix xavier_uniform(int rows, int cols, Rng& rng) {
  const float fan_sum = static_cast<float>(rows + cols);
  const float bound = fan_sum > 0 ? std::sqrt(6.0f / fan_sum) : 0.0f;
  return uniform_matrix(rows, cols, bound, rng);
}

}  // namespace lmn
