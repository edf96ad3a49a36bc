#pragma once
// Graph-free inference one token at a time (batch 1), for generation.
//
// A batch-1 step is bound by reading the weights, so their layout is built
// for that. Each layer's W_ih and W_hh are joined and regrouped in blocks of
// one register's worth of hidden units with all their gates, and the
// threads split a step by blocks: a thread reads only its own weights, which
// stay in its core's cache from token to token, and finishes its units'
// gates without waiting; the threads meet once per layer. The first layer's input
// projection of every vocabulary entry is computed once, so feeding a token
// is a row lookup.
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "model.hpp"

namespace lmn {

// Zero-filled floats on a 64-byte boundary: the SIMD loops read whole
// registers, and the padding lanes must stay zero.
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(std::size_t n);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<float[], Free> data_;
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
    int in_len = 0;   // input columns: the hidden size below, or 0 in the first layer (its input is a table row)
    int row_len = 0;  // in_len + hidden size
    AlignedFloats rows;       // [W_ih | W_hh] in lane blocks (stepper.cpp), for x = [input | h]
    std::vector<float> bias;  // 4 gate slices: LSTM b_ih + b_hh per gate; GRU r and z summed, then b_in, b_hn
    AlignedFloats input[2];   // [input | h] the layer reads, for even and odd tokens
    std::vector<float> c;     // LSTM cell state
  };
  void layer_blocks(std::size_t l, const float* table_row, int b0, int b1);
  void output_blocks(int b0, int b1);

  CellType cell_;
  int V_, H_, G_, gates_;
  int blocks_ = 0;           // lane blocks per gate: hidden units in groups of one register
  int out_blocks_ = 0;       // lane blocks of the vocabulary
  int parity_ = 0;           // which of each layer's two input buffers this token reads
  long weight_floats_ = 0;   // read per token: decides whether a second thread pays off
  Matrix input_table_;       // (V, G): x W_ih^T of the first layer for every token
  std::vector<Layer> layers_;
  AlignedFloats gates_buf_;  // 4 gate slices of blocks_ registers: the current layer's products
  AlignedFloats out_rows_;   // fc.weight in lane blocks
  AlignedFloats out_input_;  // the last layer's h
  AlignedFloats fc_b_;
  AlignedFloats logits_;     // vocab_size, padded to whole blocks
};

}  // namespace lmn
