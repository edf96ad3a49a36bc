#include "tensor/init.hpp"

#include <cmath>

namespace lmn {

Matrix uniform_matrix(int rows, int cols, float bound, Rng& rng) {
  Matrix out(rows, cols);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = rng.uniform(-bound, bound);
  return out;
}

Matrix normal_matrix(int rows, int cols, float stddev, Rng& rng) {
  // Box-Muller on double uniforms: two normals per pair, 1 - u keeps log() finite.
  Matrix out(rows, cols);
  constexpr double two_pi = 6.283185307179586;
  for (std::size_t i = 0; i < out.size(); i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(1.0 - rng.uniform_double()));
    const double angle = two_pi * rng.uniform_double();
    out[i] = static_cast<float>(stddev * radius * std::cos(angle));
    if (i + 1 < out.size()) out[i + 1] = static_cast<float>(stddev * radius * std::sin(angle));
  }
  return out;
}

}  // namespace lmn
