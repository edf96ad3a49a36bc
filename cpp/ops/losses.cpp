// Losses. Each returns the mean over elements (or over counted rows).
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "base/parallel.hpp"
#include "ops/ops.hpp"

namespace lmn {

Var mse_loss(const Var& prediction, const Matrix& target) {
  require_same_shape(prediction->value, target, "mse_loss");
  const Matrix diff = lmn::subtract(prediction->value, target);
  const float n = static_cast<float>(std::max<std::size_t>(diff.size(), 1));
  float total = 0.0f;
  for (std::size_t i = 0; i < diff.size(); ++i) total += diff[i] * diff[i];
  return make_op(Matrix(1, 1, total / n), {prediction}, "mse_loss", [diff, n](Node& self) {
    accumulate_grad(*self.parents[0], lmn::scale(diff, 2.0f * self.grad[0] / n));
  });
}

Var l1_loss(const Var& prediction, const Matrix& target) {
  require_same_shape(prediction->value, target, "l1_loss");
  const Matrix diff = lmn::subtract(prediction->value, target);
  const float n = static_cast<float>(std::max<std::size_t>(diff.size(), 1));
  double total = 0.0;
  for (std::size_t i = 0; i < diff.size(); ++i) total += std::fabs(diff[i]);
  return make_op(Matrix(1, 1, static_cast<float>(total / n)), {prediction}, "l1_loss", [diff, n](Node& self) {
    Matrix g(diff.rows(), diff.cols());
    const float s = self.grad[0] / n;
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = diff[i] > 0.0f ? s : (diff[i] < 0.0f ? -s : 0.0f);
    accumulate_grad(*self.parents[0], std::move(g));
  });
}

Var huber_loss(const Var& prediction, const Matrix& target, float delta) {
  require_same_shape(prediction->value, target, "huber_loss");
  if (!(delta > 0.0f)) throw std::invalid_argument("huber_loss: delta must be positive, got " + std::to_string(delta));
  const Matrix diff = lmn::subtract(prediction->value, target);
  const float n = static_cast<float>(std::max<std::size_t>(diff.size(), 1));
  double total = 0.0;
  for (std::size_t i = 0; i < diff.size(); ++i) {
    const float a = std::fabs(diff[i]);
    total += a < delta ? 0.5f * a * a : delta * (a - 0.5f * delta);
  }
  return make_op(Matrix(1, 1, static_cast<float>(total / n)), {prediction}, "huber_loss", [diff, n, delta](Node& self) {
    // Quadratic part: d; linear part: delta * sign(d), i.e. d clamped to [-delta, delta].
    Matrix g(diff.rows(), diff.cols());
    const float s = self.grad[0] / n;
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = s * std::clamp(diff[i], -delta, delta);
    accumulate_grad(*self.parents[0], std::move(g));
  });
}

Var bce_loss(const Var& probability, const Matrix& target) {
  require_same_shape(probability->value, target, "bce_loss");
  const Matrix& p = probability->value;
  // Clamp as torch does (log >= -100) so p = 0 or 1 gives a finite loss.
  static constexpr float kEps = 1e-12f;
  double total = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!(p[i] >= 0.0f && p[i] <= 1.0f)) {
      throw std::domain_error("bce_loss: probability " + std::to_string(p[i]) + " at flat index " + std::to_string(i) +
                              " is outside [0, 1]");
    }
    total -=
        target[i] * std::max(std::log(p[i]), -100.0f) + (1.0f - target[i]) * std::max(std::log(1.0f - p[i]), -100.0f);
  }
  const float n = static_cast<float>(std::max<std::size_t>(p.size(), 1));
  return make_op(Matrix(1, 1, static_cast<float>(total) / n), {probability}, "bce_loss", [target, n](Node& self) {
    const Matrix& p = self.parents[0]->value;
    Matrix g(p.rows(), p.cols());
    for (std::size_t i = 0; i < g.size(); ++i) {
      const float denom = std::max(p[i] * (1.0f - p[i]), kEps);
      g[i] = self.grad[0] * (p[i] - target[i]) / denom / n;
    }
    accumulate_grad(*self.parents[0], std::move(g));
  });
}

Var bce_with_logits_loss(const Var& logits, const Matrix& target) {
  require_same_shape(logits->value, target, "bce_with_logits_loss");
  const Matrix& z = logits->value;
  double total = 0.0;
  for (std::size_t i = 0; i < z.size(); ++i) {
    // max(z, 0) - z*t + log(1 + exp(-|z|)): stable for any z.
    total += std::max(z[i], 0.0f) - z[i] * target[i] + std::log1p(std::exp(-std::fabs(z[i])));
  }
  const float n = static_cast<float>(std::max<std::size_t>(z.size(), 1));
  return make_op(Matrix(1, 1, static_cast<float>(total) / n), {logits}, "bce_with_logits_loss",
                 [target, n](Node& self) {
                   const Matrix& z = self.parents[0]->value;
                   Matrix g(z.rows(), z.cols());
                   for (std::size_t i = 0; i < g.size(); ++i) g[i] = self.grad[0] * (sigmoid(z[i]) - target[i]) / n;
                   accumulate_grad(*self.parents[0], std::move(g));
                 });
}

Var cross_entropy_loss(const Var& logits, const std::vector<int>& targets) {
  const Matrix& z = logits->value;
  if (static_cast<int>(targets.size()) != z.rows()) {
    throw ShapeError("cross_entropy_loss: " + std::to_string(targets.size()) + " targets for logits " + z.shape_str());
  }
  int counted = 0;
  for (int r = 0; r < z.rows(); ++r) {
    const int t = targets[r];
    if (t == kIgnoreIndex) continue;
    if (t < 0 || t >= z.cols()) {
      throw std::out_of_range("cross_entropy_loss: target " + std::to_string(t) + " at row " + std::to_string(r) +
                              " is outside [0, " + std::to_string(z.cols()) + ")");
    }
    ++counted;
  }
  // The softmax is kept for the backward pass; each row's loss is
  // -log p[t] = log_sum - (z[t] - max), summed in row order.
  std::vector<SoftmaxNorm> norms;
  Matrix probs = softmax_rows(z, &norms);
  double total = 0.0;
  for (int r = 0; r < z.rows(); ++r) {
    if (targets[r] != kIgnoreIndex) total += norms[r].log_sum - (z(r, targets[r]) - norms[r].max);
  }
  const float n = static_cast<float>(std::max(counted, 1));
  return make_op(Matrix(1, 1, static_cast<float>(total) / n), {logits}, "cross_entropy_loss",
                 [probs = std::move(probs), targets, n](Node& self) {
                   // d/dz of mean(-log softmax(z)[t]) = (softmax(z) - onehot(t)) / n
                   Matrix g(probs.rows(), probs.cols(), Matrix::kUninitialized);
                   const float s = self.grad[0] / n;
#pragma omp parallel for schedule(static) if (g.size() >= kParallelRowValues) num_threads(active_threads())
                   for (int r = 0; r < g.rows(); ++r) {
                     if (targets[r] == kIgnoreIndex) {
                       std::fill_n(g.row(r), g.cols(), 0.0f);
                       continue;
                     }
                     for (int c = 0; c < g.cols(); ++c) g(r, c) = s * probs(r, c);
                     g(r, targets[r]) -= s;
                   }
                   accumulate_grad(*self.parents[0], std::move(g));
                 });
}

}  // namespace lmn
