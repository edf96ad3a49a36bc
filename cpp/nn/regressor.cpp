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
  const double H = c.hidden_size, O = c.output_size;
  return stack_parameter_count(c.cell, c.input_size, c.hidden_size, c.num_layers) + O * H + O;
}

SequenceRegressor::SequenceRegressor(const RegressorConfig& config, std::uint64_t seed) : config_(config) {
  validate_config(config);
  // torch.nn's scheme: measured lower MSE than Xavier (benchmarks/timeseries.py).
  constexpr InitScheme scheme = InitScheme::Torch;
  Rng rng(seed);  // drawn from in torch's parameter order: layers, fc
  stack_.emplace(config.cell, config.input_size, config.hidden_size, config.num_layers, config.dropout, rng, scheme);
  named_ = stack_->named_parameters();
  fc_.emplace(config.hidden_size, config.output_size, rng, scheme);
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

ModelState SequenceRegressor::zero_state(int B) const { return stack_->zero_state(B); }

Var SequenceRegressor::forward(const Var& x, int T, int B, ModelState& state, bool training, Rng& dropout_rng,
                               const std::vector<int>* rows, bool fused) const {
  if (T <= 0 || B <= 0 || x->value.rows() != static_cast<long>(T) * B || x->value.cols() != config_.input_size) {
    throw ShapeError("regressor forward: input " + x->value.shape_str() + " should be (" +
                     std::to_string(static_cast<long>(T) * B) + ", " + std::to_string(config_.input_size) +
                     ") for T=" + std::to_string(T) + " B=" + std::to_string(B));
  }
  stack_->check_state(state, "regressor forward");
  Var h = stack_->forward(x, T, B, state, training, dropout_rng, fused);
  // Asking for every row in order (outputs at every step, no padding) needs no gather.
  bool every_row = !rows || static_cast<long>(rows->size()) == static_cast<long>(T) * B;
  for (std::size_t i = 0; every_row && rows && i < rows->size(); ++i) every_row = (*rows)[i] == static_cast<int>(i);
  if (!every_row) h = gather_rows(h, *rows);
  return fc_->forward(h);
}

}  // namespace lmn
