#include "nn/model.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace lmn {

void validate_config(const ModelConfig& c) {
  auto positive = [](int v, const char* what) {
    if (v <= 0) throw std::invalid_argument(std::string(what) + " must be positive, got " + std::to_string(v));
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.num_layers, "num_layers");
  if (c.embedding_dim < 0) {
    throw std::invalid_argument("embedding_dim must be positive (or None for one-hot), got " +
                                std::to_string(c.embedding_dim));
  }
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) {
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(c.dropout));
  }
  // Sizes are ints: the gate rows (4H or 3H) must fit one, and the whole
  // model must stay below kMaxParameters (counted in double: no overflow).
  const double gates = gate_count(c.cell);
  if (gates * c.hidden_size > std::numeric_limits<int>::max()) {
    throw std::invalid_argument("hidden_size " + std::to_string(c.hidden_size) + " is too large: the " +
                                cell_name(c.cell) + " gate matrices would have more than 2^31 rows");
  }
  const double parameters = parameter_count_estimate(c);
  if (parameters > static_cast<double>(kMaxParameters)) {
    char count[32];
    std::snprintf(count, sizeof count, "%.3g", parameters);
    throw std::invalid_argument(std::string("the model is too large: ") + count + " parameters (vocab_size " +
                                std::to_string(c.vocab_size) + ", hidden_size " + std::to_string(c.hidden_size) +
                                ", num_layers " + std::to_string(c.num_layers) + ", embedding_dim " +
                                std::to_string(c.embedding_dim) + "); the limit is " + std::to_string(kMaxParameters));
  }
}

double parameter_count_estimate(const ModelConfig& c) {
  const double V = c.vocab_size, H = c.hidden_size, E = c.embedding_dim;
  const int first_input = c.embedding_dim > 0 ? c.embedding_dim : c.vocab_size;
  const double embedding = c.embedding_dim > 0 ? V * E : 0.0;
  return embedding + stack_parameter_count(c.cell, first_input, c.hidden_size, c.num_layers) + V * H + V;
}

SequenceModel::SequenceModel(const ModelConfig& config, std::uint64_t seed) : config_(config) {
  validate_config(config);
  // Xavier: measured lower held-out loss than torch.nn's scheme (benchmarks/quality.py --init-variants).
  constexpr InitScheme scheme = InitScheme::Xavier;
  Rng rng(seed);  // drawn from in torch's parameter order: embedding, layers, fc
  if (config.embedding_dim > 0) {
    embedding_.emplace(config.vocab_size, config.embedding_dim, rng);
    named_.emplace_back("embedding.weight", embedding_->weight);
  }
  const int input = config.embedding_dim > 0 ? config.embedding_dim : config.vocab_size;
  stack_.emplace(config.cell, input, config.hidden_size, config.num_layers, config.dropout, rng, scheme);
  named_.insert(named_.end(), stack_->named_parameters().begin(), stack_->named_parameters().end());
  fc_.emplace(config.hidden_size, config.vocab_size, rng, scheme);
  named_.emplace_back("fc.weight", fc_->weight);
  named_.emplace_back("fc.bias", fc_->bias);
  for (auto& [name, var] : named_) var->op = name;
}

std::vector<Var> SequenceModel::parameters() const {
  std::vector<Var> out;
  for (const auto& [name, var] : named_) out.push_back(var);
  return out;
}

Var SequenceModel::parameter(const std::string& name) const {
  for (const auto& [n, var] : named_)
    if (n == name) return var;
  throw std::invalid_argument("unknown parameter '" + name + "'");
}

ModelState SequenceModel::zero_state(int B) const { return stack_->zero_state(B); }

void SequenceModel::check_tokens(const std::vector<int>& tokens) const {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size) {
      throw std::out_of_range("token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                              " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
    }
  }
}

Var SequenceModel::embed(const std::vector<int>& tokens) const {
  if (embedding_) return embedding_->forward(tokens);
  Matrix one_hot(static_cast<int>(tokens.size()), config_.vocab_size);
  for (std::size_t i = 0; i < tokens.size(); ++i) one_hot(static_cast<int>(i), tokens[i]) = 1.0f;
  return make_leaf(std::move(one_hot));
}

Var SequenceModel::forward(const std::vector<int>& tokens, int T, int B, ModelState& state, bool training,
                           Rng& dropout_rng, bool fused) const {
  if (T <= 0 || B <= 0 || static_cast<long>(tokens.size()) != static_cast<long>(T) * B ||
      tokens.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw ShapeError("forward: " + std::to_string(tokens.size()) + " tokens do not form T=" + std::to_string(T) +
                     " steps of batch B=" + std::to_string(B));
  }
  stack_->check_state(state, "forward");
  check_tokens(tokens);
  Var h;
  if (fused && config_.vocab_size <= T * B) {
    // Small vocabulary: project each vocabulary entry once; the recurrence
    // reads each token's row.
    const Var table = embedding_ ? embedding_->weight : nullptr;
    h = stack_->forward_projected({vocab_projection(table, stack_->layer(0).weight_ih), tokens}, T, B, state, training,
                                  dropout_rng);
  } else {
    h = stack_->forward(embed(tokens), T, B, state, training, dropout_rng, fused);
  }
  return fc_->forward(h);
}

}  // namespace lmn
