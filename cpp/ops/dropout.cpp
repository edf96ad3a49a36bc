// Inverted dropout: the expected activation is the same in training and
// evaluation, so evaluation needs no rescaling.
#include <string>

#include "ops/ops.hpp"

namespace lmn {

Var dropout(const Var& x, float p, bool training, Rng& rng) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("dropout: probability must be in [0, 1), got " + std::to_string(p));
  }
  if (!training || p == 0.0f) return x;
  const float keep_scale = 1.0f / (1.0f - p);
  Matrix mask(x->value.rows(), x->value.cols());
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = rng.uniform() >= p ? keep_scale : 0.0f;
  Matrix out = hadamard(x->value, mask);
  return make_op(std::move(out), {x}, "dropout", [mask = std::move(mask)](Node& self) {
    accumulate_grad(*self.parents[0], hadamard(self.grad, mask));
  });
}

}  // namespace lmn
