// Optimizer updates against hand-computed values; clipping; LR schedule.
#include <cmath>
#include <limits>

#include "check.hpp"
#include "train/optimizer.hpp"

using namespace lmn;

namespace {
Var param_with_grad(float value, float grad) {
  Var p = make_leaf(Matrix(1, 1, value), true);
  p->grad = Matrix(1, 1, grad);
  return p;
}
}  // namespace

TEST(sgd_with_momentum_and_l2) {
  Var p = param_with_grad(1.0f, 0.5f);
  OptimizerConfig c;
  c.kind = OptimizerKind::SGD;
  c.lr = 0.1f;
  c.momentum = 0.9f;
  c.weight_decay = 0.01f;
  Optimizer opt(c, {p});
  opt.step();  // g = 0.5 + 0.01 = 0.51; v = 0.51; w = 1 - 0.051
  CHECK_NEAR(p->value[0], 0.949, 1e-6);
  opt.step();  // g = 0.5 + 0.00949; v = 0.9*0.51 + g; w -= 0.1 v
  const double g2 = 0.5 + 0.01 * 0.949, v2 = 0.9 * 0.51 + g2;
  CHECK_NEAR(p->value[0], 0.949 - 0.1 * v2, 1e-6);
}

TEST(adam_matches_the_paper_formula) {
  Var p = param_with_grad(1.0f, 0.2f);
  OptimizerConfig c;
  c.lr = 0.01f;
  Optimizer opt(c, {p});
  double w = 1.0, m = 0.0, v = 0.0;
  for (int t = 1; t <= 3; ++t) {
    opt.step();
    m = 0.9 * m + 0.1 * 0.2;
    v = 0.999 * v + 0.001 * 0.04;
    w -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
    CHECK_NEAR(p->value[0], w, 1e-6);
  }
  CHECK(opt.steps() == 3);
}

TEST(adamw_decays_weights_decoupled) {
  // With a zero gradient Adam's step is zero, so only the decay moves w.
  Var p = param_with_grad(2.0f, 0.0f);
  OptimizerConfig c;
  c.kind = OptimizerKind::AdamW;
  c.lr = 0.1f;
  c.weight_decay = 0.5f;
  Optimizer opt(c, {p});
  opt.step();
  CHECK_NEAR(p->value[0], 2.0 * (1 - 0.05), 1e-6);
}

TEST(a_step_that_would_make_a_weight_non_finite_is_undone) {
  Var ok = param_with_grad(1.0f, 0.5f);
  Var bad = param_with_grad(2.0f, std::numeric_limits<float>::infinity());
  OptimizerConfig c;
  c.kind = OptimizerKind::SGD;
  c.lr = 0.1f;
  c.momentum = 0.9f;
  Optimizer opt(c, {ok, bad});
  ok->op = "ok";
  bad->op = "bad";
  CHECK_THROWS(NonFiniteStep, opt.step(), "'bad'");
  // everything as before the step: both weights (also the one updated first), momentum and count
  CHECK(ok->value[0] == 1.0f && bad->value[0] == 2.0f);
  CHECK(opt.buffers()[0][0] == 0.0f && opt.steps() == 0);
  bad->grad[0] = 0.5f;
  opt.step();
  CHECK_NEAR(ok->value[0], 0.95, 1e-6);
  CHECK(opt.steps() == 1);
}

TEST(an_adam_step_whose_second_moment_overflows_is_refused_though_the_weight_stays_finite) {
  // (1 - beta2) grad^2 = 1e41 overflows float: v becomes infinite while the weight's
  // update, m / sqrt(v), is 0. An accepted step would poison every later one.
  Var ok = param_with_grad(1.0f, 0.5f);
  Var huge = param_with_grad(2.0f, 1e22f);
  ok->op = "ok";
  huge->op = "huge";
  Optimizer opt(OptimizerConfig{}, {ok, huge});
  CHECK_THROWS(NonFiniteStep, opt.step(), "the optimizer state of 'huge'");
  CHECK(ok->value[0] == 1.0f && huge->value[0] == 2.0f && opt.steps() == 0);
  for (const Matrix& b : opt.buffers()) CHECK(b[0] == 0.0f);
  huge->grad[0] = 0.5f;
  opt.step();  // the refused step left no trace: the same update as a first step
  CHECK(opt.steps() == 1);
  CHECK_NEAR(ok->value[0], 1.0 - 1e-3, 1e-6);
  CHECK_NEAR(huge->value[0], 2.0 - 1e-3, 1e-6);
}

TEST(a_step_whose_results_are_all_finite_is_taken_however_large_they_are) {
  // w ~ 3e38 and v ~ 2e38 are finite; their sum would not be.
  Var big = param_with_grad(3e38f, 4.5e20f);
  Optimizer opt(OptimizerConfig{}, {big});
  opt.step();
  CHECK(opt.steps() == 1 && std::isfinite(big->value[0]) && big->value[0] > 2.9e38f);
  CHECK(std::isfinite(opt.buffers()[1][0]) && opt.buffers()[1][0] > 1e38f);
}

TEST(steps_alternate_buffers_without_losing_a_parameter_that_has_no_gradient) {
  Var with = param_with_grad(1.0f, 0.5f);
  Var without = make_leaf(Matrix(1, 1, 3.0f), true);
  Optimizer opt(OptimizerConfig{}, {with, without});
  for (int k = 0; k < 3; ++k) opt.step();
  CHECK(without->value[0] == 3.0f && opt.steps() == 3);
  CHECK(with->value[0] < 1.0f - 2.9e-3f);  // three steps of ~lr each
}

TEST(restore_refuses_damaged_state) {
  Var p = param_with_grad(1.0f, 0.5f);
  Optimizer opt(OptimizerConfig{}, {p});
  CHECK_THROWS(std::invalid_argument, opt.restore(1, {Matrix(1, 1, std::nanf("")), Matrix(1, 1)}), "NaN");
  CHECK_THROWS(std::invalid_argument, opt.restore(1, {Matrix(1, 1), Matrix(1, 1, -1.0f)}), "negative");
  CHECK_THROWS(std::invalid_argument, opt.restore(-1, {Matrix(1, 1), Matrix(1, 1)}), "step count -1");
  CHECK(opt.steps() == 0);
}

TEST(parameters_without_gradients_are_left_alone) {
  Var p = make_leaf(Matrix(1, 1, 3.0f), true);
  Optimizer opt(OptimizerConfig{}, {p});
  opt.step();
  CHECK(p->value[0] == 3.0f);
}

TEST(clipping_by_value_and_global_norm) {
  Var a = param_with_grad(0.0f, 3.0f), b = param_with_grad(0.0f, -4.0f);
  const float norm = clip_grad_norm({a, b}, 1.0f);
  CHECK_NEAR(norm, 5.0, 1e-6);
  CHECK_NEAR(std::hypot(a->grad[0], b->grad[0]), 1.0, 1e-5);
  CHECK_NEAR(a->grad[0] / b->grad[0], -0.75, 1e-6);  // direction kept
  Var c = param_with_grad(0.0f, 7.0f);
  clip_grad_value({c}, 5.0f);
  CHECK(c->grad[0] == 5.0f);
  CHECK_THROWS(std::invalid_argument, clip_grad_norm({c}, 0.0f), "clip_norm");
}

TEST(step_schedule_halves_every_n_epochs) {
  CHECK_NEAR(step_lr(0.1f, 0, 10, 0.5f), 0.1, 1e-7);
  CHECK_NEAR(step_lr(0.1f, 9, 10, 0.5f), 0.1, 1e-7);
  CHECK_NEAR(step_lr(0.1f, 10, 10, 0.5f), 0.05, 1e-7);
  CHECK_NEAR(step_lr(0.1f, 25, 10, 0.5f), 0.025, 1e-7);
  CHECK_NEAR(step_lr(0.1f, 25, 0, 0.5f), 0.1, 1e-7);
}

TEST(bad_hyper_parameters_are_named) {
  OptimizerConfig c;
  c.lr = -1.0f;
  CHECK_THROWS(std::invalid_argument, Optimizer(c, {}), "lr must be positive");
  CHECK_THROWS(std::invalid_argument, parse_optimizer("rmsprop"), "rmsprop");
}

TEST_MAIN()
