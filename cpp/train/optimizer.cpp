#include "train/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "base/parallel.hpp"
#include "tensor/matrix_math.hpp"

namespace lmn {

std::string optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::SGD: return "sgd";
    case OptimizerKind::Adam: return "adam";
    case OptimizerKind::AdamW: return "adamw";
  }
  return "?";
}

OptimizerKind parse_optimizer(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "sgd") return OptimizerKind::SGD;
  if (lower == "adam") return OptimizerKind::Adam;
  if (lower == "adamw") return OptimizerKind::AdamW;
  throw std::invalid_argument("unknown optimizer '" + name + "' (expected 'sgd', 'adam' or 'adamw')");
}

void validate_optimizer_config(const OptimizerConfig& c) {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  check(std::isfinite(c.lr) && c.lr > 0.0f, "lr must be positive, got " + std::to_string(c.lr));
  check(c.momentum >= 0.0f && c.momentum < 1.0f, "momentum must be in [0, 1), got " + std::to_string(c.momentum));
  check(c.weight_decay >= 0.0f && std::isfinite(c.weight_decay),
        "weight_decay must be >= 0, got " + std::to_string(c.weight_decay));
  check(c.beta1 >= 0.0f && c.beta1 < 1.0f, "beta1 must be in [0, 1)");
  check(c.beta2 >= 0.0f && c.beta2 < 1.0f, "beta2 must be in [0, 1)");
  check(c.eps > 0.0f && std::isfinite(c.eps), "eps must be positive");
}

Optimizer::Optimizer(const OptimizerConfig& config, std::vector<Var> params)
    : config_(config), params_(std::move(params)) {
  validate_optimizer_config(config);
  const int per_param = config.kind == OptimizerKind::SGD ? 1 : 2;
  for (int k = 0; k < per_param; ++k)
    for (const auto& p : params_) buffers_.emplace_back(p->value.rows(), p->value.cols());
}

void Optimizer::restore(long steps, std::vector<Matrix> buffers) {
  if (buffers.size() != buffers_.size()) {
    throw std::invalid_argument("optimizer state has " + std::to_string(buffers.size()) + " buffers, expected " +
                                std::to_string(buffers_.size()));
  }
  if (steps < 0 || steps > kMaxOptimizerSteps) {
    throw std::invalid_argument("optimizer step count " + std::to_string(steps) + " is outside [0, 2^53]");
  }
  const std::size_t n = params_.size();
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const std::string what = "optimizer buffer " + std::to_string(i);
    require_same_shape(buffers_[i], buffers[i], what.c_str());
    if (!all_finite(buffers[i])) throw std::invalid_argument(what + " contains NaN or infinity");
    // Adam's second moments are running means of squares: a negative one
    // would make the update's square root NaN.
    if (config_.kind != OptimizerKind::SGD && i >= n) {
      const Matrix& v = buffers[i];
      if (std::any_of(v.data(), v.data() + v.size(), [](float x) { return x < 0.0f; })) {
        throw std::invalid_argument(what + " (second moments) has negative values");
      }
    }
  }
  steps_ = steps;
  buffers_ = std::move(buffers);
}

void Optimizer::reconfigure(const OptimizerConfig& config) {
  validate_optimizer_config(config);
  if (config.kind != config_.kind) {
    throw std::invalid_argument("cannot reconfigure " + optimizer_name(config_.kind) + " as " +
                                optimizer_name(config.kind));
  }
  config_ = config;
}

void Optimizer::zero_grad() { zero_grads(params_); }

void Optimizer::step() {
  // The step writes every result beside what it replaces (next_) and takes
  // the results only when all are finite: a refused step changes nothing,
  // and an accepted one swaps buffers instead of copying them (a copy and a
  // check pass were ~3% of a char LSTM step on Zen 3).
  const std::size_t n = params_.size();
  next_.resize(n + buffers_.size());
  for (std::size_t i = 0; i < next_.size(); ++i) {
    const Matrix& now = i < n ? params_[i]->value : buffers_[i - n];
    if (next_[i].rows() != now.rows() || next_[i].cols() != now.cols()) next_[i] = Matrix(now.rows(), now.cols());
  }
  const float probe = update();
  const auto written = [&](std::size_t i) {  // next_[i] holds a result of this step
    const std::size_t p = i % n;
    if (params_[p]->grad.empty()) return false;
    return i < n || config_.kind != OptimizerKind::SGD || config_.momentum > 0.0f;
  };
  if (std::isfinite(probe)) {
    for (std::size_t i = 0; i < next_.size(); ++i) {
      if (!written(i)) continue;
      std::swap(i < n ? params_[i]->value : buffers_[i - n], next_[i]);
    }
    ++steps_;
    return;
  }
  std::string bad;
  for (std::size_t i = 0; i < next_.size() && bad.empty(); ++i) {
    if (!written(i) || all_finite(next_[i])) continue;
    bad = i < n ? "'" + params_[i]->op + "'" : "the optimizer state of '" + params_[i % n]->op + "'";
  }
  throw NonFiniteStep("the update made " + bad + " NaN or infinite; it was undone");
}

float Optimizer::update() {
  const OptimizerConfig& c = config_;
  const std::size_t n = params_.size();
  const double step = static_cast<double>(steps_ + 1);
  // Adam's bias corrections, in double: 0.999^t underflows float precision.
  const double correction1 = 1.0 - std::pow(static_cast<double>(c.beta1), step);
  const double correction2 = 1.0 - std::pow(static_cast<double>(c.beta2), step);
  const float step_size = static_cast<float>(c.lr / correction1);
  const float inv_sqrt_c2 = static_cast<float>(1.0 / std::sqrt(correction2));
  // Every result times zero, summed: 0 unless one is NaN or infinite (a
  // result is never added to another, which could overflow).
  float probe = 0.0f;
  for (std::size_t p = 0; p < n; ++p) {
    Node& param = *params_[p];
    if (param.grad.empty()) continue;
    const float* w = param.value.data();
    const float* g = param.grad.data();
    float* w_next = next_[p].data();
    const std::size_t size = param.value.size();
    if (c.kind == OptimizerKind::SGD) {
      const float* velocity = buffers_[p].data();
      float* velocity_next = next_[n + p].data();
      if (c.momentum > 0.0f) {
#pragma omp parallel for simd schedule(static) reduction(+ : probe) if (size >= kParallelUpdate) \
    num_threads(active_threads())
        for (std::size_t i = 0; i < size; ++i) {
          const float grad = c.momentum * velocity[i] + (g[i] + c.weight_decay * w[i]);
          velocity_next[i] = grad;
          w_next[i] = w[i] - c.lr * grad;
          probe += grad * 0.0f + w_next[i] * 0.0f;
        }
      } else {
#pragma omp parallel for simd schedule(static) reduction(+ : probe) if (size >= kParallelUpdate) \
    num_threads(active_threads())
        for (std::size_t i = 0; i < size; ++i) {
          w_next[i] = w[i] - c.lr * (g[i] + c.weight_decay * w[i]);
          probe += w_next[i] * 0.0f;
        }
      }
      continue;
    }
    const float* m = buffers_[p].data();
    const float* v = buffers_[n + p].data();
    float* m_next = next_[n + p].data();
    float* v_next = next_[2 * n + p].data();
    const bool decoupled = c.kind == OptimizerKind::AdamW;
    const float l2 = decoupled ? 0.0f : c.weight_decay;
    const float shrink = decoupled ? 1.0f - c.lr * c.weight_decay : 1.0f;
#pragma omp parallel for simd schedule(static) reduction(+ : probe) if (size >= kParallelUpdate) \
    num_threads(active_threads())
    for (std::size_t i = 0; i < size; ++i) {
      const float grad = g[i] + l2 * w[i];
      const float m1 = c.beta1 * m[i] + (1.0f - c.beta1) * grad;
      const float v1 = c.beta2 * v[i] + (1.0f - c.beta2) * grad * grad;
      m_next[i] = m1;
      v_next[i] = v1;
      w_next[i] = w[i] * shrink - step_size * m1 / (std::sqrt(v1) * inv_sqrt_c2 + c.eps);
      probe += m1 * 0.0f + v1 * 0.0f + w_next[i] * 0.0f;
    }
  }
  return probe;
}

void clip_grad_value(const std::vector<Var>& params, float limit) {
  if (!(limit > 0.0f)) throw std::invalid_argument("clip_value must be positive, got " + std::to_string(limit));
  for (const auto& p : params)
    for (std::size_t i = 0; i < p->grad.size(); ++i) p->grad[i] = std::clamp(p->grad[i], -limit, limit);
}

float clip_grad_norm(const std::vector<Var>& params, float max_norm) {
  if (!(max_norm > 0.0f)) throw std::invalid_argument("clip_norm must be positive, got " + std::to_string(max_norm));
  // Eight running sums, not one: a single chain of dependent additions ran
  // at one element per FMA latency (~1% of a training step).
  constexpr std::size_t kLanes = 8;
  double lanes[kLanes] = {};
  for (const auto& p : params) {
    const float* g = p->grad.data();
    const std::size_t n = p->grad.size();
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (std::size_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(g[i + l]) * g[i + l];
    for (; i < n; ++i) lanes[0] += static_cast<double>(g[i]) * g[i];
  }
  double total = 0.0;
  for (double lane : lanes) total += lane;
  const float norm = static_cast<float>(std::sqrt(total));
  const float factor = max_norm / (norm + 1e-6f);  // as torch.nn.utils.clip_grad_norm_
  if (factor < 1.0f) {
    for (const auto& p : params)
      for (std::size_t i = 0; i < p->grad.size(); ++i) p->grad[i] *= factor;
  }
  return norm;
}

float step_lr(float base_lr, int epoch, int step_epochs, float gamma) {
  if (step_epochs <= 0) return base_lr;
  return base_lr * static_cast<float>(std::pow(static_cast<double>(gamma), epoch / step_epochs));
}

}  // namespace lmn
