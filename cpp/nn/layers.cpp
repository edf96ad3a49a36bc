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
  // Xavier, as the token models' recurrent layers (InitScheme::Xavier; only token models embed).
  weight = make_leaf(xavier_uniform(vocab_size, dim, rng), true, "embedding.weight");
}

Linear::Linear(int in_features, int out_features, Rng& rng, InitScheme scheme) {
  require_positive(in_features, "Linear: in_features");
  require_positive(out_features, "Linear: out_features");
  if (scheme == InitScheme::Xavier) {
    weight = make_leaf(xavier_uniform(out_features, in_features, rng), true, "fc.weight");
    bias = make_leaf(Matrix(1, out_features), true, "fc.bias");
    return;
  }
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));  // torch.nn.Linear
  weight = make_leaf(uniform_matrix(out_features, in_features, bound, rng), true, "fc.weight");
  bias = make_leaf(uniform_matrix(1, out_features, bound, rng), true, "fc.bias");
}

}  // namespace lmn
