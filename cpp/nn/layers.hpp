#pragma once
// The non-recurrent layers: Embedding and Linear. Parameter layouts follow
// torch.nn so weights move between the two as plain arrays.
#include <vector>

#include "ops/ops.hpp"
#include "tensor/init.hpp"

namespace lmn {

class Embedding {
 public:
  Embedding(int vocab_size, int dim, Rng& rng);
  Var forward(const std::vector<int>& tokens) const { return embedding_lookup(weight, tokens); }
  Var weight;  // (V, E)
};

class Linear {
 public:
  Linear(int in_features, int out_features, Rng& rng, InitScheme scheme);
  Var forward(const Var& x) const { return linear(x, weight, bias); }
  Var weight;  // (out, in)
  Var bias;    // (1, out)
};

}  // namespace lmn
