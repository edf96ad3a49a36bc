#pragma once
// Graph-free inference one token at a time (batch 1), for generation.
//
// A batch-1 step is bound by reading the weights, so their layout is built
// for that. Each layer's W_ih and W_hh are joined and regrouped in blocks of
// one register's worth of hidden units with all their gates, and the
// threads split a step by blocks: a thread reads only its own weights (which
// stay in its core's cache from token to token when they fit) and finishes
// its units' gates without waiting; the threads meet once per layer. The
// first layer's input projection of every vocabulary entry is computed once,
// so feeding a token is a row lookup.
#include <vector>

#include "base/aligned_buffer.hpp"
#include "base/bfloat16.hpp"
#include "nn/model.hpp"

namespace lmn {

// The weights a Stepper reads: float32 (exact), or a bfloat16 copy that
// halves the bytes read per token (faster; weights rounded to ~3 digits).
enum class WeightPrecision { Float32, BFloat16 };

class Stepper {
 public:
  explicit Stepper(const SequenceModel& model, WeightPrecision precision = WeightPrecision::Float32);

  void reset();  // back to the zero state
  // Feeds one token; returns the next-token logits (vocab_size floats),
  // valid until the next call.
  const float* step(int token);

 private:
  struct Layer {
    int in_len = 0;      // input columns: the hidden size below (padded to even), or 0 in the first layer
    int row_len = 0;     // in_len + hidden size padded to even
    AlignedFloats rows;  // [W_ih | W_hh] in lane blocks (stepper.cpp), for x = [input | h]
    AlignedBuffer<BFloat16> rows_bf16;  // the same, rounded, when the precision asks for it
    std::vector<float> bias;            // 4 gate slices: LSTM b_ih + b_hh per gate; GRU r and z summed, then b_in, b_hn
    AlignedFloats input[2];             // [input | h] the layer reads, for even and odd tokens
    std::vector<float> c;               // LSTM cell state
  };
  template <class W>
  void run(const float* table_row);
  template <class W>
  void layer_blocks(std::size_t l, const float* table_row, int b0, int b1);
  template <class W>
  void output_blocks(int b0, int b1);

  CellType cell_;
  int V_, H_, G_, gates_;
  int blocks_ = 0;      // lane blocks per gate: hidden units in groups of one register
  int out_blocks_ = 0;  // lane blocks of the vocabulary
  int out_len_ = 0;     // hidden size, padded to even
  WeightPrecision precision_;
  int parity_ = 0;          // which of each layer's two input buffers this token reads
  long weight_floats_ = 0;  // read per token: decides whether a second thread pays off
  Matrix input_table_;      // (V, G): x W_ih^T of the first layer for every token
  std::vector<Layer> layers_;
  AlignedFloats gates_buf_;  // 4 gate slices of blocks_ registers: the current layer's products
  AlignedFloats out_rows_;   // fc.weight in lane blocks
  AlignedBuffer<BFloat16> out_rows_bf16_;
  AlignedFloats out_input_;  // the last layer's h
  AlignedFloats fc_b_;
  AlignedFloats logits_;  // vocab_size, padded to whole blocks
};

}  // namespace lmn
