#pragma once
// The stack of recurrent layers every model is built around: num_layers
// LSTM or GRU layers, the first fed by the model's input, each next one by
// the hidden outputs of the one below, dropout after each (in training),
// parameters named as torch.nn.LSTM/GRU names them ("lstm.weight_ih_l0",
// "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "..._l1").
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/recurrent_layer.hpp"

namespace lmn {

enum class CellType { LSTM, GRU };
std::string cell_name(CellType cell);          // "lstm" / "gru"
CellType parse_cell(const std::string& name);  // throws on anything else
int gate_count(CellType cell);                 // G: 4 for LSTM, 3 for GRU

// Parameters of a stack of num_layers layers whose first takes input_size
// features (in double, so absurd sizes cannot overflow).
double stack_parameter_count(CellType cell, int input_size, int hidden_size, int num_layers);

using NamedParameters = std::vector<std::pair<std::string, Var>>;
using ModelState = std::vector<RecurrentState>;  // one per layer

class RecurrentStack {
 public:
  // Draws the layers' initial weights from rng, layer 0 first.
  RecurrentStack(CellType cell, int input_size, int hidden_size, int num_layers, float dropout, Rng& rng,
                 InitScheme scheme);

  // In torch.nn's order: layer by layer, weight_ih, weight_hh, bias_ih, bias_hh.
  const NamedParameters& named_parameters() const { return named_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  const RecurrentLayer& layer(int l) const { return *layers_[l]; }
  ModelState zero_state(int B) const;
  // Throws ShapeError "<who>: state has N layers, model has M" on a mismatch.
  void check_state(const ModelState& state, const std::string& who) const;

  // x is (T*B, input_size), time-major; returns the top layer's hidden
  // outputs (T*B, H). `state` goes in as the initial state and comes out as
  // the final one. `fused` picks the fast path; false runs the reference one.
  Var forward(const Var& x, int T, int B, ModelState& state, bool training, Rng& dropout_rng, bool fused) const;
  // The same on the fused path, starting from layer 0's input projection
  // x W_ih^T however it was computed (RecurrentLayer::forward_projected).
  Var forward_projected(const ProjectedInput& input, int T, int B, ModelState& state, bool training,
                        Rng& dropout_rng) const;

 private:
  // Layers [first, num_layers), the first of them fed h (dropout after each).
  Var run_from(int first, Var h, int T, int B, ModelState& state, bool training, Rng& dropout_rng, bool fused) const;

  float dropout_;
  std::vector<std::unique_ptr<RecurrentLayer>> layers_;
  NamedParameters named_;
};

}  // namespace lmn
