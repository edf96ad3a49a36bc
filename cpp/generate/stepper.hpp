#pragma once
// Graph-free inference one token at a time, for generation, for one or
// several sequences at once (a batch of samples).
//
// A step is bound by reading the weights, so their layout is built for
// that. Each layer's W_ih and W_hh are joined and regrouped in blocks of
// one register's worth of hidden units with all their gates, and the
// threads split a step by blocks: a thread reads only its own weights (which
// stay in its core's cache from token to token when they fit) and finishes
// its units' gates without waiting; the threads meet once per layer and
// once when the logits are done (at their own barrier: parallel.hpp). With
// several rows, each chunk of a block is read once from memory and then from
// L1 for every row, so one weight read serves the whole batch. The first
// layer's input projection of every vocabulary entry is computed once, so
// feeding a token is a row lookup.
//
// StepperWeights is that layout: built once per model and precision,
// read-only, shared (a model caches it, stepper_cache.hpp). A Stepper is
// one generation's state over shared weights.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/aligned_buffer.hpp"
#include "base/bfloat16.hpp"
#include "base/parallel.hpp"
#include "nn/model.hpp"

namespace lmn {

// The weights a Stepper reads: float32 (exact), a bfloat16 copy that
// halves the bytes read per token (weights, and the inputs of each product,
// rounded to ~3 digits; bf16_products.hpp), or an
// int8 copy that quarters them: each output row scaled by its largest
// weight / 127, and the inputs of each product ([input | h] of one row, all
// within (-1, 1)) to multiples of their largest / 64 per step, so the
// products run in integers (int8_products.hpp). Biases and the first
// layer's input table stay float32 in all three.
enum class WeightPrecision { Float32, BFloat16, Int8 };
constexpr int kWeightPrecisions = 3;
WeightPrecision parse_precision(const std::string& name);  // "float32", "bfloat16", "int8"

// One matrix's int8 copy: lane blocks with columns in quads.
struct Int8Rows {
  AlignedBuffer<std::int8_t> weights;
  int in_len = 0, row_len = 0;  // input and total columns, multiples of 4 (the hidden part starts at in_len)
  std::vector<float> scale;     // per output row (gate g, unit u at g * blocks * kLanes + u): weight = q * scale
  // Per output row: kInputOffset x the sum of q over the input part, over
  // the hidden part (what the inputs' offset added to the integer sums).
  std::vector<std::int32_t> offset_in, offset_h;
};

struct StepperWeights {
  StepperWeights(const SequenceModel& model, WeightPrecision precision);

  struct Layer {
    int in_len = 0;      // input columns: the hidden size below (padded to even), or 0 in the first layer
    int row_len = 0;     // in_len + hidden size padded to even
    AlignedFloats rows;  // [W_ih | W_hh] in lane blocks (stepper.cpp), for x = [input | h]
    AlignedBuffer<BFloat16> rows_bf16;  // the same, rounded, when the precision asks for it
    std::vector<float> bias;            // 4 gate slices: LSTM b_ih + b_hh per gate; GRU r and z summed, then b_in, b_hn
    Int8Rows rows_int8;                 // when the precision is int8
  };
  CellType cell;
  int V, H, G, gates;
  int blocks = 0;      // lane blocks per gate: hidden units in groups of one register
  int out_blocks = 0;  // lane blocks of the vocabulary
  int out_len = 0;     // hidden size, padded to even
  WeightPrecision precision;
  long weight_count = 0;  // weights read per step (each serves every batch row)
  long weight_bytes = 0;  // their bytes in this precision
  Matrix input_table;     // (V, G): x W_ih^T of the first layer for every token
  std::vector<Layer> layers;
  AlignedFloats out_rows;  // fc.weight in lane blocks
  AlignedBuffer<BFloat16> out_rows_bf16;
  Int8Rows out_rows_int8;
  AlignedFloats fc_b;
};

class Stepper {
 public:
  // `batch` rows step side by side, each with its own state.
  explicit Stepper(std::shared_ptr<const StepperWeights> weights, int batch = 1);
  explicit Stepper(const SequenceModel& model, WeightPrecision precision = WeightPrecision::Float32);

  int batch() const { return batch_; }
  int logits_stride() const { return w_->out_blocks * simd::kVecWidth; }  // floats between rows' logits
  const StepperWeights& weights() const { return *w_; }

  void reset();  // back to the zero state
  // Row `row` continues where row `from_row` of `from` stands (its hidden
  // and cell states): a batch's rows regroup into other Steppers mid-way.
  // Both Steppers share the same weights.
  void take_row(int row, const Stepper& from, int from_row);
  // Feeds one token per row; returns the next-token logits, row n at
  // n * logits_stride(), valid until the next call.
  const float* step(const int* tokens);
  const float* step(int token) { return step(&token); }  // batch 1
  // The same step, by a team that stays together from token to token
  // (generate_batch: one team per stretch of tokens, not one per token):
  // every member calls it with the same tokens; it returns to thread 0 once
  // the logits are complete, to the others possibly before (thread 0 runs a
  // small output layer alone), so the team must meet before its next step.
  // The tokens must be in the vocabulary: a team member cannot throw, so
  // they are not checked here.
  const float* step(const int* tokens, const Team& team);
  // Threads worth using for a step: the thread setting, or one when a step
  // is too small to split.
  int step_threads() const;

 private:
  struct LayerState {
    AlignedFloats input[2];  // per row [input | h] the layer reads, for even and odd tokens
    std::vector<float> c;    // per row LSTM cell state
  };
  template <class W>
  void run(const int* tokens, const Team& team);
  template <class W>
  void layer_products(std::size_t l, int b0, int b1);
  void layer_products_int8(std::size_t l, int b0, int b1);
  void cell_update(std::size_t l, const int* tokens, int b0, int b1);
  template <class W>
  void output_blocks(int b0, int b1);
  void output_blocks_int8(int b0, int b1);

  std::shared_ptr<const StepperWeights> w_;
  int batch_;
  int parity_ = 0;  // which of each layer's two input buffers this token reads
  std::vector<LayerState> layers_;
  AlignedFloats gates_buf_;  // per row 4 gate slices of blocks registers: the current layer's products
  AlignedFloats out_input_;  // per row the last layer's h
  AlignedFloats logits_;     // per row vocab_size, padded to whole blocks
};

}  // namespace lmn
