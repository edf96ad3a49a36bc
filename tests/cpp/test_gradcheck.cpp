// Every differentiable op against central finite differences.
#include "autodiff/gradcheck.hpp"
#include "check.hpp"
#include "nn/model.hpp"
#include "ops/ops.hpp"
#include "tensor/init.hpp"

using namespace lmn;

namespace {

Rng rng(1234);

Var param(int rows, int cols, float low = -1.0f, float high = 1.0f) {
  Matrix m(rows, cols);
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = rng.uniform(low, high);
  return make_leaf(std::move(m), true);
}

// Projects a matrix-valued op to a scalar with fixed random weights, so
// every output element's gradient matters (and differently).
std::function<Var(const std::vector<Var>&)> projected(std::function<Var(const std::vector<Var>&)> op, int rows,
                                                      int cols) {
  auto weights = make_leaf(uniform_matrix(rows, cols, 1.0f, rng));
  return [op, weights](const std::vector<Var>& in) { return sum(multiply(op(in), weights)); };
}

void expect_ok(const GradCheckResult& r, const char* name) {
  if (!r.ok) check::fail(__FILE__, __LINE__, std::string(name) + ": " + r.worst);
}

}  // namespace

TEST(elementwise_ops) {
  std::vector<Var> ab{param(3, 4), param(3, 4)};
  expect_ok(gradcheck(projected([](auto& v) { return add(v[0], v[1]); }, 3, 4), ab), "add");
  expect_ok(gradcheck(projected([](auto& v) { return subtract(v[0], v[1]); }, 3, 4), ab), "subtract");
  expect_ok(gradcheck(projected([](auto& v) { return multiply(v[0], v[1]); }, 3, 4), ab), "multiply");
  expect_ok(gradcheck(projected([](auto& v) { return scale(v[0], -2.5f); }, 3, 4), ab), "scale");
  expect_ok(gradcheck(projected([](auto& v) { return add_scalar(v[0], 0.5f); }, 3, 4), ab), "add_scalar");
  std::vector<Var> xb{param(3, 4), param(1, 4)};
  expect_ok(gradcheck(projected([](auto& v) { return add_bias(v[0], v[1]); }, 3, 4), xb), "add_bias");
}

TEST(activation_ops) {
  std::vector<Var> x{param(3, 5, -3.0f, 3.0f)};
  expect_ok(gradcheck(projected([](auto& v) { return sigmoid(v[0]); }, 3, 5), x), "sigmoid");
  expect_ok(gradcheck(projected([](auto& v) { return tanh(v[0]); }, 3, 5), x), "tanh");
  expect_ok(gradcheck(projected([](auto& v) { return exp(v[0]); }, 3, 5), x), "exp");
  expect_ok(gradcheck(projected([](auto& v) { return softmax(v[0]); }, 3, 5), x), "softmax");
  expect_ok(gradcheck(projected([](auto& v) { return log_softmax(v[0]); }, 3, 5), x), "log_softmax");
  // relu and log away from their kinks / domain edge
  std::vector<Var> away{param(3, 5, 0.2f, 2.0f)};
  for (std::size_t i = 0; i < away[0]->value.size(); i += 2) away[0]->value[i] *= -1.0f;
  expect_ok(gradcheck(projected([](auto& v) { return relu(v[0]); }, 3, 5), away), "relu");
  std::vector<Var> positive{param(3, 5, 0.5f, 2.0f)};
  expect_ok(gradcheck(projected([](auto& v) { return log(v[0]); }, 3, 5), positive), "log");
}

TEST(linear_algebra_ops) {
  std::vector<Var> ab{param(3, 4), param(4, 5)};
  expect_ok(gradcheck(projected([](auto& v) { return matmul(v[0], v[1]); }, 3, 5), ab), "matmul");
  expect_ok(gradcheck(projected([](auto& v) { return transpose(v[0]); }, 4, 3), ab), "transpose");
  std::vector<Var> table_weight{param(5, 3), param(6, 3)};
  expect_ok(gradcheck(projected([](auto& v) { return vocab_projection(v[0], v[1]); }, 5, 6), table_weight),
            "vocab_projection");
  std::vector<Var> one_hot_weight{param(6, 5)};
  expect_ok(gradcheck(projected([](auto& v) { return vocab_projection(nullptr, v[0]); }, 5, 6), one_hot_weight),
            "vocab_projection one-hot");
  std::vector<Var> xwb{param(3, 4), param(6, 4), param(1, 6)};
  expect_ok(gradcheck(projected([](auto& v) { return linear(v[0], v[1], v[2]); }, 3, 6), xwb), "linear");
}

TEST(shape_ops) {
  std::vector<Var> x{param(5, 6), param(5, 2)};
  expect_ok(gradcheck(projected([](auto& v) { return slice_cols(v[0], 1, 3); }, 5, 3), x), "slice_cols");
  expect_ok(gradcheck(projected([](auto& v) { return slice_rows(v[0], 2, 2); }, 2, 6), x), "slice_rows");
  expect_ok(gradcheck(projected([](auto& v) { return concat_cols({v[0], v[1], v[0]}); }, 5, 14), x), "concat_cols");
  std::vector<Var> y{param(2, 3), param(4, 3)};
  expect_ok(gradcheck(projected([](auto& v) { return concat_rows({v[0], v[1]}); }, 6, 3), y), "concat_rows");
  std::vector<Var> table{param(7, 3)};
  const std::vector<int> tokens{1, 4, 1, 6, 0};  // repeats must accumulate
  expect_ok(gradcheck(projected([tokens](auto& v) { return embedding_lookup(v[0], tokens); }, 5, 3), table),
            "embedding");
}

TEST(reduction_ops) {
  std::vector<Var> x{param(3, 4)};
  expect_ok(gradcheck([](auto& v) { return sum(multiply(v[0], v[0])); }, x), "sum");
  expect_ok(gradcheck([](auto& v) { return mean(multiply(v[0], v[0])); }, x), "mean");
}

TEST(dropout_op_with_a_fixed_mask) {
  std::vector<Var> x{param(4, 5)};
  // The same seed each call gives the same mask, so the function is smooth.
  expect_ok(gradcheck(projected(
                          [](auto& v) {
                            Rng r(99);
                            return dropout(v[0], 0.3f, true, r);
                          },
                          4, 5),
                      x),
            "dropout");
}

TEST(losses) {
  std::vector<Var> x{param(4, 5)};
  const Matrix target = uniform_matrix(4, 5, 1.0f, rng);
  expect_ok(gradcheck([&](auto& v) { return mse_loss(v[0], target); }, x), "mse");
  // l1 and huber have kinks (at 0 and at +-delta): keep every difference away from them.
  Matrix far = x[0]->value;
  for (std::size_t i = 0; i < far.size(); ++i) far[i] = target[i] + (i % 2 ? 1.0f : -1.0f) * (0.2f + 0.1f * (i % 7));
  std::vector<Var> away{make_leaf(far, true)};
  expect_ok(gradcheck([&](auto& v) { return l1_loss(v[0], target); }, away), "l1");
  expect_ok(gradcheck([&](auto& v) { return huber_loss(v[0], target, 0.5f); }, away), "huber (both sides of delta)");
  Matrix labels(4, 5);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = rng.uniform() < 0.5f ? 0.0f : 1.0f;
  std::vector<Var> p{param(4, 5, 0.1f, 0.9f)};
  expect_ok(gradcheck([&](auto& v) { return bce_loss(v[0], labels); }, p), "bce");
  expect_ok(gradcheck([&](auto& v) { return bce_with_logits_loss(v[0], labels); }, x), "bce_with_logits");
  const std::vector<int> targets{0, 4, kIgnoreIndex, 2};
  expect_ok(gradcheck([&](auto& v) { return cross_entropy_loss(v[0], targets); }, x), "cross_entropy");
}

TEST(regression_loss_values) {
  Var p = make_leaf(Matrix(1, 4, {0.0f, 1.0f, -3.0f, 0.5f}), true);
  const Matrix t(1, 4, {0.0f, 0.0f, 0.0f, 0.0f});
  CHECK_NEAR(l1_loss(p, t)->value[0], (0.0 + 1.0 + 3.0 + 0.5) / 4, 1e-6);
  // huber, delta 1: 0, 0.5*1, 1*(3-0.5), 0.5*0.25
  CHECK_NEAR(huber_loss(p, t, 1.0f)->value[0], (0.0 + 0.5 + 2.5 + 0.125) / 4, 1e-6);
  CHECK_THROWS(std::invalid_argument, huber_loss(p, t, 0.0f), "delta must be positive");
}

TEST(gather_rows_op) {
  std::vector<Var> x{param(5, 3)};
  const std::vector<int> rows{4, 0, 4, 2};  // repeats accumulate
  expect_ok(gradcheck(projected([rows](auto& v) { return gather_rows(v[0], rows); }, 4, 3), x), "gather_rows");
  CHECK_THROWS(ShapeError, gather_rows(x[0], {5}), "row 5 at position 0");
}

TEST(cross_entropy_values_and_ignore_index) {
  Var z = make_leaf(Matrix(2, 2, {0.0f, 0.0f, 100.0f, -100.0f}), true);
  Var loss = cross_entropy_loss(z, {1, kIgnoreIndex});
  CHECK_NEAR(loss->value[0], std::log(2.0), 1e-6);  // only the first row counts
  CHECK_THROWS(std::out_of_range, cross_entropy_loss(z, {2, 0}), "target 2 at row 0");
  CHECK_THROWS(ShapeError, cross_entropy_loss(z, {0}), "1 targets");
}

// The fused recurrent nodes are single ops too: check them end to end.
TEST(fused_recurrent_layers) {
  for (CellType cell : {CellType::LSTM, CellType::GRU}) {
    Rng init(5);
    std::unique_ptr<RecurrentLayer> layer;
    if (cell == CellType::LSTM)
      layer = std::make_unique<LSTMLayer>(3, 4, init);
    else
      layer = std::make_unique<GRULayer>(3, 4, init);
    for (auto& b : {layer->bias_ih, layer->bias_hh})
      for (std::size_t i = 0; i < b->value.size(); ++i) b->value[i] = init.uniform(-0.5f, 0.5f);
    const int T = 4, B = 2;
    std::vector<Var> in{param(T * B, 3), layer->weight_ih, layer->weight_hh, layer->bias_ih, layer->bias_hh};
    auto weights = make_leaf(uniform_matrix(T * B, 4, 1.0f, rng));
    RecurrentState start = layer->zero_state(B);
    start.h = uniform_matrix(B, 4, 0.5f, rng);
    if (!start.c.empty()) start.c = uniform_matrix(B, 4, 0.5f, rng);
    auto f = [&](const std::vector<Var>& v) {
      RecurrentState s = start;
      return sum(multiply(layer->forward_sequence(v[0], T, B, s, true), weights));
    };
    expect_ok(gradcheck(f, in), cell == CellType::LSTM ? "lstm_fused" : "gru_fused");
    // Fed with the rows of tokens in a vocabulary's projection (repeats
    // must accumulate into the table's gradient).
    const std::vector<int> tokens{4, 0, 4, 2, 1, 4, 0, 3};
    std::vector<Var> table_in{param(5, 3), layer->weight_ih, layer->weight_hh, layer->bias_ih, layer->bias_hh};
    auto from_tokens = [&](const std::vector<Var>& v) {
      RecurrentState s = start;
      return sum(multiply(layer->forward_projected({vocab_projection(v[0], v[1]), tokens}, T, B, s), weights));
    };
    expect_ok(gradcheck(from_tokens, table_in), cell == CellType::LSTM ? "lstm_fused, tokens" : "gru_fused, tokens");
  }
}

TEST_MAIN()
