#include "nn/regressor.hpp"

#include <stdexcept>

namespace lmn {

void validate_config(const RegressorConfig& c) {
  auto positive = [](int v, const char* what) {
    if (v <= 0) throw std::invalid_argument(std::string(what) + " must be positive, got " + std::to_string(v));
  };
  positive(c.input_size, "input_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.num_layers, "num_layers");
  positive(c.output_size, "output_size");
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) {
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(c.dropout));
  }
  const double parameters = parameter_count_estimate(c);
  if (parameters > static_cast<double>(kMaxParameters)) {
    throw std::invalid_argument("the model is too large: " + std::to_string(parameters) + " parameters (input_size " +
                                std::to_string(c.input_size) + ", hidden_size " + std::to_string(c.hidden_size) +
                                ", num_layers " + std::to_string(c.num_layers) + ", output_size " +
                                std::to_string(c.output_size) + "); the limit is " + std::to_string(kMaxParameters));
  }
}

double parameter_count_estimate(const RegressorConfig& c) {
  const double gates = c.cell == CellType::LSTM ? 4.0 : 3.0;
  const double H = c.hidden_size, O = c.output_size;
  double total = gates * H * (static_cast<double>(c.input_size) + H + 2.0);          // layer 0
  total += (static_cast<double>(c.num_layers) - 1.0) * gates * H * (2.0 * H + 2.0);  // layers above
  return total + O * H + O;                                                          // fc
}

SequenceRegressor::SequenceRegressor(const RegressorConfig& config, std::uint64_t seed) : config_(config) {
  validate_config(config);
  Rng rng(seed);
  const std::string prefix = cell_name(config.cell) + ".";
  int input = config.input_size;
  for (int l = 0; l < config.num_layers; ++l) {
    if (config.cell == CellType::LSTM) {
      layers_.push_back(std::make_unique<LSTMLayer>(input, config.hidden_size, rng));
    } else {
      layers_.push_back(std::make_unique<GRULayer>(input, config.hidden_size, rng));
    }
    const RecurrentLayer& layer = *layers_.back();
    const std::string k = std::to_string(l);
    named_.emplace_back(prefix + "weight_ih_l" + k, layer.weight_ih);
    named_.emplace_back(prefix + "weight_hh_l" + k, layer.weight_hh);
    named_.emplace_back(prefix + "bias_ih_l" + k, layer.bias_ih);
    named_.emplace_back(prefix + "bias_hh_l" + k, layer.bias_hh);
    input = config.hidden_size;
  }
  fc_.emplace(config.hidden_size, config.output_size, rng);
  named_.emplace_back("fc.weight", fc_->weight);
  named_.emplace_back("fc.bias", fc_->bias);
  for (auto& [name, var] : named_) var->op = name;
}

std::vector<Var> SequenceRegressor::parameters() const {
  std::vector<Var> out;
  for (const auto& [name, var] : named_) out.push_back(var);
  return out;
}

Var SequenceRegressor::parameter(const std::string& name) const {
  for (const auto& [n, var] : named_)
    if (n == name) return var;
  throw std::invalid_argument("unknown parameter '" + name + "'");
}

ModelState SequenceRegressor::zero_state(int B) const {
  ModelState state;
  for (const auto& layer : layers_) state.push_back(layer->zero_state(B));
  return state;
}

Var SequenceRegressor::forward(const Var& x, int T, int B, ModelState& state, bool training, Rng& dropout_rng,
                               const std::vector<int>* rows, bool fused) const {
  if (T <= 0 || B <= 0 || x->value.rows() != T * B || x->value.cols() != config_.input_size) {
    throw ShapeError("regressor forward: input " + x->value.shape_str() + " should be (" + std::to_string(T * B) +
                     ", " + std::to_string(config_.input_size) + ") for T=" + std::to_string(T) +
                     " B=" + std::to_string(B));
  }
  if (state.size() != layers_.size()) {
    throw ShapeError("regressor forward: state has " + std::to_string(state.size()) + " layers, model has " +
                     std::to_string(layers_.size()));
  }
  Var h = x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    h = layers_[l]->forward_sequence(h, T, B, state[l], fused);
    h = dropout(h, config_.dropout, training, dropout_rng);
  }
  // Asking for every row in order (outputs at every step, no padding) needs no gather.
  bool every_row = !rows || static_cast<int>(rows->size()) == T * B;
  for (std::size_t i = 0; every_row && rows && i < rows->size(); ++i) every_row = (*rows)[i] == static_cast<int>(i);
  if (!every_row) h = gather_rows(h, *rows);
  return fc_->forward(h);
}

}  // namespace lmn
