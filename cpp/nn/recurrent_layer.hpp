#pragma once
// What LSTM and GRU layers share: torch.nn parameter layout (gates stacked
// along rows of weight_ih (G*H, in) and weight_hh (G*H, H)) and three ways
// to run — a reference path composed of primitive ops, and a fused sequence
// path (the input projection for all steps, then one node for the
// recurrence). Generation steps without a graph in stepper.cpp.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ops/ops.hpp"
#include "tensor/init.hpp"

namespace lmn {

// Hidden state of one layer for a batch: h (B, H) and, for LSTM, c (B, H).
struct RecurrentState {
  Matrix h;
  Matrix c;
};

// The input projection U = x W_ih^T (no biases) that a fused recurrence
// reads, one row per position (step t, batch row b at t * B + b): the rows
// of `values` (T*B, G) themselves, or, with `tokens`, the row of each
// position's token in a table of the whole vocabulary (V, G; see
// vocab_projection). Reading the table's rows spares writing a T*B x G copy
// and reading it back (melody LSTM training: +7% on one thread, +8% on two,
// Intel Xeon family 6 model 167).
struct ProjectedInput {
  ProjectedInput(Var values, std::vector<int> tokens = {})
      : values(std::move(values)), tokens(std::make_shared<const std::vector<int>>(std::move(tokens))) {}

  Var values;
  // Empty: a row per position in values. Shared, so that a backward pass
  // keeps them without a copy.
  std::shared_ptr<const std::vector<int>> tokens;

  const float* row(int position) const { return values->value.row(tokens->empty() ? position : (*tokens)[position]); }
};

// The gradient of U in a fused backward pass (T*B, G), handed back to the
// node that made it: written straight into that node's gradient when its
// rows are the positions and none has arrived yet; otherwise into a buffer
// that finish_with_column_sums adds, or scatter-adds into the tokens' rows.
class ProjectionGradient {
 public:
  ProjectionGradient(Node& source, const std::vector<int>& tokens, int rows, int cols);
  Matrix& matrix() { return *grad_; }
  // Hands the gradient back and returns its column sums (the input bias's
  // gradient): one pass over it where it is scatter-added (sum_rows and the
  // scatter were 2% of a melody LSTM step each).
  Matrix finish_with_column_sums();

 private:
  Node& source_;
  const std::vector<int>& tokens_;
  bool direct_;
  Matrix spare_;
  Matrix* grad_;
};

class RecurrentLayer {
 public:
  RecurrentLayer(int input_size, int hidden_size, int gates, Rng& rng, InitScheme scheme);
  virtual ~RecurrentLayer() = default;

  // x is (T*B, input) in time-major order: rows [t*B, (t+1)*B) are step t.
  // Returns the hidden outputs (T*B, H); `state` goes in as the initial
  // state and comes out as the final one (values only: carried state is
  // detached, which is what truncated BPTT wants).
  Var forward_sequence(const Var& x, int T, int B, RecurrentState& state, bool fused) const;
  // The fused path from the input projection, however it was computed.
  Var forward_projected(const ProjectedInput& input, int T, int B, RecurrentState& state) const;
  virtual RecurrentState zero_state(int B) const = 0;

  int input_size() const { return input_size_; }
  int hidden_size() const { return hidden_size_; }
  Var weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  virtual Var forward_reference(const Var& x, int T, int B, RecurrentState& state) const = 0;
  virtual Var forward_recurrence(const ProjectedInput& input, int T, int B, RecurrentState& state) const = 0;
  void require_state(int B, const RecurrentState& state) const;

  int input_size_;
  int hidden_size_;
};

class LSTMLayer final : public RecurrentLayer {
 public:
  LSTMLayer(int input_size, int hidden_size, Rng& rng, InitScheme scheme = InitScheme::Xavier);
  RecurrentState zero_state(int B) const override;

 protected:
  Var forward_reference(const Var& x, int T, int B, RecurrentState& state) const override;
  Var forward_recurrence(const ProjectedInput& input, int T, int B,
                         RecurrentState& state) const override;  // lstm_fused.cpp
};

class GRULayer final : public RecurrentLayer {
 public:
  GRULayer(int input_size, int hidden_size, Rng& rng, InitScheme scheme = InitScheme::Xavier);
  RecurrentState zero_state(int B) const override;

 protected:
  Var forward_reference(const Var& x, int T, int B, RecurrentState& state) const override;
  Var forward_recurrence(const ProjectedInput& input, int T, int B,
                         RecurrentState& state) const override;  // gru_fused.cpp
};

}  // namespace lmn
