#include "nn/layers.hpp"

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
  weight = make_leaf(xavier_uniform(vocab_size, dim, rng), true, "embedding.weight");
}

Linear::Linear(int in_features, int out_features, Rng& rng) {
  require_positive(in_features, "Linear: in_features");
  require_positive(out_features, "Linear: out_features");
  weight = make_leaf(xavier_uniform(out_features, in_features, rng), true, "fc.weight");
  bias = make_leaf(Matrix(1, out_features), true, "fc.bias");
}

}  // namespace lmn
