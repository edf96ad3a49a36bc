#pragma once
// The sequence regressor: real-valued features -> stacked LSTM/GRU -> linear.
// The same recurrent layers (and fused kernels) as the token model; only the
// input path differs: the features go through the input-projection GEMM
// x W_ih^T where the token model gathers embedding/one-hot projections.
// Parameter names follow torch.nn ("lstm.weight_ih_l0", ..., "fc.weight").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nn/layers.hpp"
#include "nn/model.hpp"
#include "nn/recurrent_stack.hpp"

namespace lmn {

struct RegressorConfig {
  CellType cell = CellType::LSTM;
  int input_size = 1;  // F, features per step
  int hidden_size = 64;
  int num_layers = 1;
  int output_size = 1;   // O, values predicted per output step
  float dropout = 0.0f;  // after each recurrent layer, in training only
};
// Throws std::invalid_argument naming the field (sizes, dropout, a model above kMaxParameters).
void validate_config(const RegressorConfig& config);
// The parameter count a config implies, in double so absurd sizes cannot overflow.
double parameter_count_estimate(const RegressorConfig& config);

class SequenceRegressor {
 public:
  SequenceRegressor(const RegressorConfig& config, std::uint64_t seed);

  const RegressorConfig& config() const { return config_; }
  const NamedParameters& named_parameters() const { return named_; }
  std::vector<Var> parameters() const;
  Var parameter(const std::string& name) const;  // throws naming the unknown name
  ModelState zero_state(int B) const;

  // x is (T*B, F), time-major (rows [t*B, (t+1)*B) are step t). Returns
  // the outputs (rows.size(), O) of the grid rows listed in `rows` (all
  // T*B rows, in order, when rows is null): the linear head runs only on
  // the rows that are asked for. `state` goes in as the initial state and
  // comes out as the final one (of the full grid, padding included).
  Var forward(const Var& x, int T, int B, ModelState& state, bool training, Rng& dropout_rng,
              const std::vector<int>* rows = nullptr, bool fused = true) const;

 private:
  RegressorConfig config_;
  std::optional<RecurrentStack> stack_;
  std::optional<Linear> fc_;
  NamedParameters named_;
};

}  // namespace lmn
