#include "nn/recurrent_stack.hpp"

#include <stdexcept>

namespace lmn {

std::string cell_name(CellType cell) { return cell == CellType::LSTM ? "lstm" : "gru"; }

CellType parse_cell(const std::string& name) {
  if (name == "lstm" || name == "LSTM") return CellType::LSTM;
  if (name == "gru" || name == "GRU") return CellType::GRU;
  throw std::invalid_argument("unknown cell type '" + name + "' (expected 'lstm' or 'gru')");
}

int gate_count(CellType cell) { return cell == CellType::LSTM ? 4 : 3; }

double stack_parameter_count(CellType cell, int input_size, int hidden_size, int num_layers) {
  const double G = gate_count(cell), H = hidden_size;
  const double first = G * H * (static_cast<double>(input_size) + H + 2.0);
  return first + (static_cast<double>(num_layers) - 1.0) * G * H * (2.0 * H + 2.0);
}

RecurrentStack::RecurrentStack(CellType cell, int input_size, int hidden_size, int num_layers, float dropout, Rng& rng,
                               InitScheme scheme)
    : dropout_(dropout) {
  const std::string prefix = cell_name(cell) + ".";
  int input = input_size;
  for (int l = 0; l < num_layers; ++l) {
    if (cell == CellType::LSTM) {
      layers_.push_back(std::make_unique<LSTMLayer>(input, hidden_size, rng, scheme));
    } else {
      layers_.push_back(std::make_unique<GRULayer>(input, hidden_size, rng, scheme));
    }
    const RecurrentLayer& layer = *layers_.back();
    const std::string k = std::to_string(l);
    named_.emplace_back(prefix + "weight_ih_l" + k, layer.weight_ih);
    named_.emplace_back(prefix + "weight_hh_l" + k, layer.weight_hh);
    named_.emplace_back(prefix + "bias_ih_l" + k, layer.bias_ih);
    named_.emplace_back(prefix + "bias_hh_l" + k, layer.bias_hh);
    input = hidden_size;
  }
}

ModelState RecurrentStack::zero_state(int B) const {
  ModelState state;
  for (const auto& layer : layers_) state.push_back(layer->zero_state(B));
  return state;
}

void RecurrentStack::check_state(const ModelState& state, const std::string& who) const {
  if (state.size() != layers_.size()) {
    throw ShapeError(who + ": state has " + std::to_string(state.size()) + " layers, model has " +
                     std::to_string(layers_.size()));
  }
}

Var RecurrentStack::forward(const Var& x, int T, int B, ModelState& state, bool training, Rng& dropout_rng,
                            bool fused) const {
  return run_from(0, x, T, B, state, training, dropout_rng, fused);
}

Var RecurrentStack::forward_projected(const ProjectedInput& input, int T, int B, ModelState& state, bool training,
                                      Rng& dropout_rng) const {
  Var h = layers_[0]->forward_projected(input, T, B, state[0]);
  h = dropout(h, dropout_, training, dropout_rng);
  return run_from(1, h, T, B, state, training, dropout_rng, true);
}

Var RecurrentStack::run_from(int first, Var h, int T, int B, ModelState& state, bool training, Rng& dropout_rng,
                             bool fused) const {
  for (std::size_t l = first; l < layers_.size(); ++l) {
    h = layers_[l]->forward_sequence(h, T, B, state[l], fused);
    h = dropout(h, dropout_, training, dropout_rng);
  }
  return h;
}

}  // namespace lmn
