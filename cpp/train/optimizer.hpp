#pragma once
// Optimizers (SGD with momentum and L2, Adam, AdamW), gradient clipping and
// the step learning-rate schedule, all in one place.
#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/node.hpp"

namespace lmn {

// The most steps an optimizer may count (its counter can never overflow).
constexpr long kMaxOptimizerSteps = 1L << 53;

enum class OptimizerKind { SGD, Adam, AdamW };
std::string optimizer_name(OptimizerKind kind);
OptimizerKind parse_optimizer(const std::string& name);  // "sgd", "adam", "adamw"

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Adam;
  float lr = 1e-3f;
  float momentum = 0.0f;      // SGD only
  float weight_decay = 0.0f;  // L2 for SGD/Adam, decoupled for AdamW
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
};
void validate_optimizer_config(const OptimizerConfig& config);

class NonFiniteStep : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Optimizer {
 public:
  Optimizer(const OptimizerConfig& config, std::vector<Var> params);

  // Updates every parameter that has a gradient, using config().lr. A step
  // that would leave a NaN or infinity in a weight or in the optimizer's
  // state is undone (weights, state and step count as before) and throws
  // NonFiniteStep naming the first such parameter.
  void step();
  void zero_grad();
  void set_lr(float lr) { config_.lr = lr; }
  // New hyper-parameters for the same kind of optimizer, keeping its state.
  void reconfigure(const OptimizerConfig& config);
  const OptimizerConfig& config() const { return config_; }

  // State, for checkpoints: the step count and the per-parameter buffers
  // (SGD: momentum; Adam/AdamW: first then second moments).
  long steps() const { return steps_; }
  const std::vector<Matrix>& buffers() const { return buffers_; }
  // Throws std::invalid_argument (changing nothing) unless the buffers have
  // the right count and shapes, are finite, Adam's second moments are >= 0
  // and steps is in [0, kMaxOptimizerSteps].
  void restore(long steps, std::vector<Matrix> buffers);

 private:
  // The step's results into next_, changing nothing else; returns a sum
  // that is finite exactly when every result is.
  float update();

  OptimizerConfig config_;
  std::vector<Var> params_;
  std::vector<Matrix> buffers_;
  long steps_ = 0;
  // Weights then buffers as the current step computes them (reused).
  std::vector<Matrix> next_;
};

// Clamp every gradient element to [-limit, limit].
void clip_grad_value(const std::vector<Var>& params, float limit);
// Scale all gradients so their global L2 norm is at most max_norm; returns
// the norm before clipping.
float clip_grad_norm(const std::vector<Var>& params, float max_norm);

// lr for a 0-based epoch: base * gamma^(epoch / step_epochs); step_epochs 0 = constant.
float step_lr(float base_lr, int epoch, int step_epochs, float gamma);

}  // namespace lmn
