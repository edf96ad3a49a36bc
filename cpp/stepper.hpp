#pragma once
// Graph-free inference one token at a time (batch 1), for generation.
// The first layer's input projection of every vocabulary entry is computed
// once, so feeding a token is a row lookup; the other products are
// vector-matrix products over copies of the weights in the layout that is
// fastest for their size.
#include <vector>

#include "model.hpp"

namespace lmn {

// y += x W^T for a weight W (N, K), kept in the faster layout for batch 1
// (measured): small matrices, which live in cache, as W^T so the product is
// a sum of scaled rows with no horizontal reductions; large ones, which
// stream from memory, as W so the product is N contiguous dot products.
class VectorProduct {
 public:
  VectorProduct() = default;
  explicit VectorProduct(const Matrix& w);
  void add_to(const float* x, float* y) const;
  bool empty() const { return weights_.empty(); }

 private:
  Matrix weights_;  // W^T (K, N) when transposed_, else W (N, K)
  bool transposed_ = false;
};

class Stepper {
 public:
  explicit Stepper(const SequenceModel& model);

  void reset();  // back to the zero state
  // Feeds one token; returns the next-token logits (vocab_size floats),
  // valid until the next call.
  const float* step(int token);

 private:
  struct Layer {
    VectorProduct w_ih;  // x W_ih^T; empty for the first layer
    VectorProduct w_hh;  // h W_hh^T
    Matrix b_ih, b_hh;   // (1, G)
    Matrix h, c;         // (1, H) state; c for LSTM only
  };
  void lstm_step(Layer& layer, const float* projected);
  void gru_step(Layer& layer, const float* projected);

  CellType cell_;
  int V_, H_, G_;
  Matrix input_table_;  // (V, G): x W_ih^T of the first layer for every token
  std::vector<Layer> layers_;
  VectorProduct fc_w_;
  Matrix fc_b_;  // (1, V)
  Matrix projected_, hidden_, logits_;
};

}  // namespace lmn
