#include "nn/layers.hpp"

#include <cmath>
#include <string>

#include "tensor/init.hpp"

namespace lmn {

namespace {
void require_positive(int n, const char* what) {
  if (n <= 0) throw std::invalid_argument(std::string(what) + " must be positive, got " + std::to_string(n));
}
}  // namespace

Embedding::Embedding(int vocab_size, int dim, Rng& rng) {
  require_positive(vocab_size, "Embedding: vocab_size");
  require_positive(dim, "Embedding: embedding_dim");
  // N(0, 1) as torch.nn.Embedding: measured better than Xavier (benchmarks/quality.py --init-variants).
  weight = make_leaf(normal_matrix(vocab_size, dim, 1.0f, rng), true, "embedding.weight");
}

Linear::Linear(int in_features, int out_features, Rng& rng) {
  require_positive(in_features, "Linear: in_features");
  require_positive(out_features, "Linear: out_features");
  // U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, as torch.nn.Linear.
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  weight = make_leaf(uniform_matrix(out_features, in_features, bound, rng), true, "fc.weight");
  bias = make_leaf(uniform_matrix(1, out_features, bound, rng), true, "fc.bias");
}

}  // namespace lmn
