#pragma once
// The sequence model: [embedding or one-hot] -> stacked LSTM/GRU -> linear,
// with torch.nn parameter names ("embedding.weight", "lstm.weight_ih_l0",
// ..., "fc.weight", "fc.bias"), so a torch state dict loads directly.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nn/layers.hpp"
#include "nn/recurrent_stack.hpp"

namespace lmn {

struct ModelConfig {
  CellType cell = CellType::LSTM;
  int vocab_size = 0;
  int hidden_size = 128;
  int num_layers = 1;
  int embedding_dim = 0;  // 0: one-hot inputs (input size = vocab_size)
  float dropout = 0.0f;   // after each recurrent layer, in training only
};
// Throws std::invalid_argument naming the field: non-positive sizes,
// dropout outside [0, 1), or a model above kMaxParameters.
void validate_config(const ModelConfig& config);
// The most parameters a model may have (8 GiB of float32 weights).
constexpr std::int64_t kMaxParameters = std::int64_t{1} << 31;
// The parameter count a config implies, in double so absurd sizes cannot
// overflow (exact below 2^53).
double parameter_count_estimate(const ModelConfig& config);

class SequenceModel {
 public:
  SequenceModel(const ModelConfig& config, std::uint64_t seed);

  const ModelConfig& config() const { return config_; }
  const NamedParameters& named_parameters() const { return named_; }
  std::vector<Var> parameters() const;
  Var parameter(const std::string& name) const;  // throws naming the unknown name (a linear search)
  // Recurrent layer l, whose Vars are "lstm.weight_ih_l<l>" etc., found by index.
  const RecurrentLayer& layer(int l) const { return stack_->layer(l); }
  ModelState zero_state(int B) const;

  // tokens are time-major (tokens[t*B + b]); returns logits (T*B, V),
  // time-major. `state` is read as the initial state and replaced by the
  // final one. `fused` picks the fast path; false runs the reference path.
  Var forward(const std::vector<int>& tokens, int T, int B, ModelState& state, bool training, Rng& dropout_rng,
              bool fused = true) const;

  // Throws std::out_of_range naming the first token outside [0, V).
  void check_tokens(const std::vector<int>& tokens) const;

 private:
  Var embed(const std::vector<int>& tokens) const;

  ModelConfig config_;
  std::optional<Embedding> embedding_;
  std::optional<RecurrentStack> stack_;
  std::optional<Linear> fc_;
  NamedParameters named_;
};

}  // namespace lmn
