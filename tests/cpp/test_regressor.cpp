// The sequence regressor: finite differences through the float input path
// (inputs, every parameter, padded variable-length batches), padding that
// changes nothing, training, the checkpoint round trip, and resuming an
// epoch stopped inside a truncated batch.
#include <cstdio>

#include "autodiff/gradcheck.hpp"
#include "check.hpp"
#include "io/checkpoint.hpp"
#include "nn/regressor.hpp"
#include "stop_at_hook_call.hpp"
#include "tensor/init.hpp"
#include "train/regression_trainer.hpp"

using namespace lmn;

namespace {

Rng rng(77);

void randomize_biases(const SequenceRegressor& model) {
  for (const auto& [name, var] : model.named_parameters())
    if (name.find("bias") != std::string::npos)
      for (std::size_t i = 0; i < var->value.size(); ++i) var->value[i] = rng.uniform(-0.5f, 0.5f);
}

RegressionData random_sequences(const std::vector<int>& lengths, int F, int O, bool many_to_one) {
  RegressionData data;
  for (int T : lengths)
    data.push_back({uniform_matrix(T, F, 1.0f, rng), uniform_matrix(many_to_one ? 1 : T, O, 1.0f, rng)});
  return data;
}

}  // namespace

// Gradients with respect to the inputs and every parameter, through a
// padded grid (B = 3 sequences of lengths 4, 2, 3) where only the valid
// rows reach the loss, as variable-length training does.
TEST(regressors_start_from_torch_nn_weights) {
  // InitScheme::Torch (chosen by benchmarks/timeseries.py): weights and biases U(+-1/sqrt(H)); the linear
  // layer's fan-in is H too.
  SequenceRegressor model({CellType::LSTM, 3, 16, 2, 2, 0.0f}, 3);
  for (const auto& [name, param] : model.named_parameters()) {
    CHECK(max_abs(param->value) <= 0.25f);
    CHECK(max_abs(param->value) > (param->value.size() >= 32 ? 0.2f : 0.0f));  // biases too: none left at zero
  }
}

TEST(input_path_gradcheck) {
  for (CellType cell : {CellType::LSTM, CellType::GRU}) {
    for (bool fused : {true, false}) {
      SequenceRegressor model({cell, 3, 4, 2, 2, 0.0f}, 11);
      randomize_biases(model);
      const int T = 4, B = 3;
      const std::vector<int> lengths{4, 2, 3};
      std::vector<int> rows;
      for (int t = 0; t < T; ++t)
        for (int b = 0; b < B; ++b)
          if (t < lengths[b]) rows.push_back(t * B + b);
      const Matrix target = uniform_matrix(static_cast<int>(rows.size()), 2, 1.0f, rng);
      std::vector<Var> in{make_leaf(uniform_matrix(T * B, 3, 1.0f, rng), true)};
      for (const auto& p : model.parameters()) in.push_back(p);
      auto f = [&](const std::vector<Var>& v) {
        ModelState s = model.zero_state(B);
        Rng unused(0);
        return mse_loss(model.forward(v[0], T, B, s, false, unused, &rows, fused), target);
      };
      const GradCheckResult r = gradcheck(f, in);
      if (!r.ok) check::fail(__FILE__, __LINE__, cell_name(cell) + (fused ? " fused: " : " reference: ") + r.worst);
    }
  }
}

// A sequence's loss and gradients must not depend on the padding around it:
// the batch loss over sequences of lengths 5, 2, 4 equals the mean of the
// per-sequence losses weighted by their target counts.
TEST(padding_changes_nothing) {
  for (bool many_to_one : {false, true}) {
    SequenceRegressor model({CellType::LSTM, 2, 5, 2, 3, 0.0f}, 3);
    randomize_biases(model);
    const RegressionData data = random_sequences({5, 2, 4}, 2, 3, many_to_one);
    const RegressionSetup setup{many_to_one, RegressionLoss::MSE};
    const float together = batch_loss(model, setup, data)->value[0];
    double weighted = 0.0, count = 0.0;
    for (const auto& seq : data) {
      const double n = seq.y.rows();
      weighted += n * batch_loss(model, setup, {seq})->value[0];
      count += n;
    }
    CHECK_NEAR(together, weighted / count, 1e-6);
    // predict() gives each sequence what it gets alone.
    std::vector<Matrix> inputs;
    for (const auto& seq : data) inputs.push_back(seq.x);
    const auto outs = predict(model, inputs, many_to_one, 8);
    for (std::size_t s = 0; s < data.size(); ++s) {
      const auto alone = predict(model, {data[s].x}, many_to_one, 1);
      CHECK(outs[s].same_shape(alone[0]));
      for (std::size_t i = 0; i < alone[0].size(); ++i) CHECK_NEAR(outs[s][i], alone[0][i], 1e-6);
    }
  }
}

// One-step-ahead prediction of a sine wave: the loss must fall far below
// the variance of the signal (0.5), with truncated BPTT and short windows.
TEST(training_learns_a_sine) {
  RegressionData data;
  for (int s = 0; s < 8; ++s) {
    Matrix x(60, 1), y(60, 1);
    for (int t = 0; t < 60; ++t) {
      x[t] = std::sin(0.3f * (t + 7 * s));
      y[t] = std::sin(0.3f * (t + 1 + 7 * s));
    }
    data.push_back({x, y});
  }
  SequenceRegressor model({CellType::GRU, 1, 16, 1, 1, 0.0f}, 5);
  TrainingState state;
  TrainConfig config;
  config.epochs = 60;
  config.batch_size = 8;
  config.seq_len = 30;
  config.truncate = 10;
  config.optimizer.lr = 0.01f;
  const FitResult r = fit(model, state, config, {false, RegressionLoss::MSE}, data, {});
  CHECK(r.history.size() == 60);
  CHECK(r.history.back().train_loss < 0.01);
  CHECK(r.history.back().train_loss < r.history.front().train_loss / 10);
  // Forecasting continues the wave for a few steps.
  Matrix history(30, 1);
  for (int t = 0; t < 30; ++t) history[t] = std::sin(0.3f * t);
  const Matrix ahead = forecast(model, history, 3, {1.0f}, {0.0f});
  for (int k = 0; k < 3; ++k) CHECK_NEAR(ahead[k], std::sin(0.3f * (30 + k)), 0.15);
}

TEST(bad_data_is_named) {
  SequenceRegressor model({CellType::LSTM, 2, 4, 1, 1, 0.0f}, 0);
  TrainingState state;
  const RegressionData wrong_width{{Matrix(3, 3), Matrix(3, 1)}};
  CHECK_THROWS(ShapeError, fit(model, state, {}, {}, wrong_width, {}), "training sequence 0: inputs (3, 3)");
  const RegressionData short_targets{{Matrix(3, 2), Matrix(2, 1)}};
  CHECK_THROWS(ShapeError, fit(model, state, {}, {}, short_targets, {}), "targets (2, 1) should be (3, 1)");
  RegressionData nan{{Matrix(3, 2), Matrix(3, 1)}};
  nan[0].x[1] = std::nanf("");
  CHECK_THROWS(std::invalid_argument, fit(model, state, {}, {}, nan, {}), "NaN");
  CHECK_THROWS(std::invalid_argument,
               forecast(SequenceRegressor({CellType::LSTM, 2, 4, 1, 3, 0.0f}, 0), Matrix(2, 2), 1, {1, 1}, {0, 0}),
               "output_size (3) must equal input_size (2)");
  CHECK_THROWS(std::invalid_argument, parse_regression_loss("hinge"), "unknown loss 'hinge'");
}

TEST(checkpoint_round_trip) {
  SequenceRegressor model({CellType::GRU, 3, 5, 2, 2, 0.25f}, 9);
  TrainingState state;
  TrainConfig config;
  config.epochs = 1;
  fit(model, state, config, {}, random_sequences({6, 4}, 3, 2, false), {});
  const std::string path = "test_regressor_checkpoint.bin";
  save_checkpoint(path, model, state, {{}, "{\"x\": 1}"});
  const LoadedRegressorCheckpoint loaded = load_regressor_checkpoint(path);
  const RegressorConfig& c = loaded.model->config();
  CHECK(c.cell == CellType::GRU && c.input_size == 3 && c.hidden_size == 5 && c.num_layers == 2 && c.output_size == 2 &&
        c.dropout == 0.25f);
  CHECK(loaded.extras.metadata == "{\"x\": 1}");
  CHECK(loaded.training.epochs_done == 1 && loaded.training.optimizer.has_value());
  for (const auto& [name, var] : model.named_parameters()) {
    const Matrix& got = loaded.model->parameter(name)->value;
    CHECK(got.same_shape(var->value));
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == var->value[i]);
  }
  CHECK_THROWS(CheckpointFormatError, load_checkpoint(path), "holds a sequence regressor");
  std::remove(path.c_str());
}

// Many-to-one with truncation: a batch's targets sit at its sequences'
// ends, so going on inside a batch must skip exactly those already trained.
TEST(a_stop_inside_a_batch_resumes_exactly) {
  std::vector<int> lengths;
  for (int s = 0; s < 192; ++s) lengths.push_back(40 + 37 * s % 260);  // a run of ~0.5 s: the hook comes every 50 ms
  const RegressionData data = random_sequences(lengths, 3, 2, true);
  const RegressorConfig net{CellType::LSTM, 3, 32, 2, 2, 0.2f};
  TrainConfig config;
  config.epochs = 2;
  config.batch_size = 8;
  config.seq_len = 300;
  config.truncate = 25;
  const RegressionSetup setup{true, RegressionLoss::MSE};
  SequenceRegressor straight(net, 4);
  TrainingState straight_state;
  const FitResult all = fit(straight, straight_state, config, setup, data, {});
  int inside_a_batch = 0;
  for (int call = 2; call < 12 && inside_a_batch < 2; ++call) {
    SequenceRegressor model(net, 4);
    TrainingState state;
    const FitResult first = [&] {
      const test::StopAtHookCall stop(call);
      return fit(model, state, config, setup, data, {});
    }();
    if (!first.interrupted) break;  // the run ended before the hook said stop
    CHECK(state.position.has_value());
    inside_a_batch += state.position->step > 0;
    const int epoch = state.epochs_done;
    TrainConfig rest = config;
    rest.epochs = config.epochs - epoch;
    const FitResult r = fit(model, state, rest, setup, data, {});
    CHECK(r.history.front().train_loss == all.history[epoch].train_loss);
    for (const auto& [name, var] : straight.named_parameters()) {
      CHECK(max_abs(subtract(model.parameter(name)->value, var->value)) == 0.0f);
    }
  }
  CHECK(inside_a_batch > 0);
}

TEST_MAIN()
