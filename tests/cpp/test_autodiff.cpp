// The engine itself: topological order, fan-out accumulation, deep graphs,
// detach, no-grad, and release of the graph after backward.
#include <chrono>

#include "check.hpp"
#include "ops/ops.hpp"

using namespace lmn;

TEST(diamond_graph_accumulates_once) {
  // y = (a*b) + (a*b)*a  with a shared subexpression: dy/da = b + 2ab, dy/db = a + a^2
  Var a = make_leaf(Matrix(1, 1, 3.0f), true), b = make_leaf(Matrix(1, 1, 5.0f), true);
  Var ab = multiply(a, b);
  Var y = add(ab, multiply(ab, a));
  backward(y);
  CHECK_NEAR(a->grad[0], 5.0 + 2 * 3 * 5, 1e-5);
  CHECK_NEAR(b->grad[0], 3.0 + 9.0, 1e-5);
}

TEST(fan_out_to_many_children) {
  Var x = make_leaf(Matrix(1, 1, 2.0f), true);
  std::vector<Var> uses;
  for (int i = 0; i < 50; ++i) uses.push_back(multiply(x, x));  // each use: d/dx x^2 = 2x
  Var total = sum(concat_cols(uses));
  backward(total);
  CHECK_NEAR(x->grad[0], 50 * 4.0, 1e-3);
}

double chain_seconds(int n) {
  const auto start = std::chrono::steady_clock::now();
  Var x = make_leaf(Matrix(1, 1, 1.0f), true);
  Var y = x;
  for (int i = 0; i < n; ++i) y = add_scalar(scale(y, 1.0f), 0.0f);
  backward(y);
  CHECK_NEAR(x->grad[0], 1.0, 1e-6);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(long_chain_neither_overflows_nor_goes_quadratic) {
  // 2 ops per link: 20,000 and 200,000 nodes. Recursion would overflow the
  // stack at these depths; quadratic work would make 10x nodes cost ~100x.
  const double small = chain_seconds(10000);
  const double large = chain_seconds(100000);
  CHECK(large < 40.0 * std::max(small, 1e-3));
}

TEST(dropping_a_deep_graph_without_backward_is_safe) {
  Var x = make_leaf(Matrix(1, 1, 1.0f), true);
  Var y = x;
  for (int i = 0; i < 1000000; ++i) y = add_scalar(y, 1.0f);
  y.reset();  // recursive destruction would overflow the stack here
  CHECK(x.use_count() == 1);
}

TEST(backward_releases_graph_and_keeps_leaf_grads) {
  Var w = make_leaf(Matrix(2, 2, 1.0f), true);
  Var h = tanh(matmul(w, w));
  Var loss = sum(h);
  backward(loss);
  CHECK(h->parents.empty());
  CHECK(!h->backward_fn);
  CHECK(h->grad.empty());
  CHECK(!w->grad.empty());
  CHECK(w.use_count() == 1);  // nothing in the graph still holds the parameter
}

TEST(gradients_accumulate_until_zeroed) {
  Var w = make_leaf(Matrix(1, 1, 3.0f), true);
  backward(multiply(w, w));
  backward(multiply(w, w));
  CHECK_NEAR(w->grad[0], 12.0, 1e-6);
  zero_grads({w});
  CHECK(w->grad.empty());
  backward(multiply(w, w));
  CHECK_NEAR(w->grad[0], 6.0, 1e-6);
}

TEST(detach_cuts_the_graph) {
  Var w = make_leaf(Matrix(1, 1, 2.0f), true);
  Var y = multiply(w, detach(multiply(w, w)));  // d/dw [w * const(w^2)] = w^2
  backward(y);
  CHECK_NEAR(w->grad[0], 4.0, 1e-6);
}

TEST(no_grad_guard_builds_no_graph) {
  Var w = make_leaf(Matrix(1, 1, 2.0f), true);
  {
    NoGradGuard guard;
    Var y = multiply(w, w);
    CHECK(!y->requires_grad);
    CHECK(y->parents.empty());
    CHECK_THROWS(std::invalid_argument, backward(y), "does not require grad");
  }
  CHECK(multiply(w, w)->requires_grad);
}

TEST(backward_needs_a_scalar_or_a_seed) {
  Var w = make_leaf(Matrix(2, 2, 1.0f), true);
  Var y = multiply(w, w);
  CHECK_THROWS(ShapeError, backward(y), "(2, 2)");
  backward(y, Matrix(2, 2, 1.0f));
  CHECK_NEAR(w->grad[3], 2.0, 1e-6);
}

TEST_MAIN()
