#include "train/regression_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "base/fingerprint.hpp"
#include "base/interrupt.hpp"
#include "train/training_task.hpp"

namespace lmn {

RegressionLoss parse_regression_loss(const std::string& name) {
  if (name == "mse") return RegressionLoss::MSE;
  if (name == "mae" || name == "l1") return RegressionLoss::MAE;
  if (name == "huber") return RegressionLoss::Huber;
  if (name == "bce_with_logits") return RegressionLoss::BCEWithLogits;
  throw std::invalid_argument("unknown loss '" + name + "' (expected 'mse', 'mae', 'huber' or 'bce_with_logits')");
}

Var regression_loss(RegressionLoss kind, const Var& prediction, const Matrix& target) {
  switch (kind) {
    case RegressionLoss::MSE: return mse_loss(prediction, target);
    case RegressionLoss::MAE: return l1_loss(prediction, target);
    case RegressionLoss::Huber: return huber_loss(prediction, target, 1.0f);
    case RegressionLoss::BCEWithLogits: return bce_with_logits_loss(prediction, target);
  }
  throw std::invalid_argument("unknown regression loss");
}

void check_regression_data(const SequenceRegressor& model, const RegressionData& data, bool many_to_one,
                           const char* which) {
  const RegressorConfig& c = model.config();
  for (std::size_t s = 0; s < data.size(); ++s) {
    const Matrix& x = data[s].x;
    const Matrix& y = data[s].y;
    const std::string where = std::string(which) + " sequence " + std::to_string(s);
    if (x.rows() == 0 || x.cols() != c.input_size) {
      throw ShapeError(where + ": inputs " + x.shape_str() + " should be (T > 0, " + std::to_string(c.input_size) +
                       ")");
    }
    const int rows = many_to_one ? 1 : x.rows();
    if (y.rows() != rows || y.cols() != c.output_size) {
      throw ShapeError(where + ": targets " + y.shape_str() + " should be (" + std::to_string(rows) + ", " +
                       std::to_string(c.output_size) + ")" + (many_to_one ? " (many-to-one)" : ""));
    }
    if (!all_finite(x) || !all_finite(y)) throw std::invalid_argument(where + " contains NaN or infinity");
  }
}

namespace {

struct SeqWindow {
  int sequence = 0, start = 0, length = 0;
};

std::vector<SeqWindow> regression_windows(const RegressionData& data, bool many_to_one, int seq_len) {
  std::vector<SeqWindow> windows;
  for (std::size_t s = 0; s < data.size(); ++s) {
    const int T = data[s].x.rows();
    if (many_to_one) {
      windows.push_back({static_cast<int>(s), 0, T});
    } else {
      for (int start = 0; start < T; start += seq_len)
        windows.push_back({static_cast<int>(s), start, std::min(seq_len, T - start)});
    }
  }
  return windows;
}

// A zero-padded, time-major batch; targets listed in time-major row order.
struct RegressionBatch {
  int T = 0, B = 0;
  Matrix inputs;          // (T*B, F)
  std::vector<int> rows;  // grid rows t*B + b that have a target, ascending
  Matrix targets;         // (rows.size(), O)
};

RegressionBatch make_regression_batch(const RegressionData& data, const std::vector<SeqWindow>& windows,
                                      std::size_t first, int batch_size, bool many_to_one) {
  RegressionBatch batch;
  batch.B = static_cast<int>(std::min<std::size_t>(batch_size, windows.size() - first));
  for (int b = 0; b < batch.B; ++b) batch.T = std::max(batch.T, windows[first + b].length);
  // Every sequence pads to the longest of its batch: one long series among
  // many short ones can ask for more grid rows than an int counts.
  const long grid_rows = static_cast<long>(batch.T) * batch.B;
  if (grid_rows > std::numeric_limits<int>::max()) {
    throw std::invalid_argument("a batch of " + std::to_string(batch.B) + " sequences, padded to its longest (" +
                                std::to_string(batch.T) + " steps), needs " + std::to_string(grid_rows) +
                                " rows, more than 2^31 - 1: pass fewer sequences at once (a smaller batch_size)");
  }
  const int F = data[windows[first].sequence].x.cols(), O = data[windows[first].sequence].y.cols();
  batch.inputs = Matrix(batch.T * batch.B, F);
  std::vector<const float*> target_rows;
  for (int t = 0; t < batch.T; ++t) {
    for (int b = 0; b < batch.B; ++b) {
      const SeqWindow& w = windows[first + b];
      if (t >= w.length) continue;
      const RegressionSequence& seq = data[w.sequence];
      const int row = t * batch.B + b;
      std::copy_n(seq.x.row(w.start + t), F, batch.inputs.row(row));
      if (!many_to_one) {
        batch.rows.push_back(row);
        target_rows.push_back(seq.y.row(w.start + t));
      } else if (t == w.length - 1) {
        batch.rows.push_back(row);
        target_rows.push_back(seq.y.row(0));
      }
    }
  }
  batch.targets = Matrix(static_cast<int>(batch.rows.size()), O, Matrix::kUninitialized);
  for (std::size_t i = 0; i < target_rows.size(); ++i) std::copy_n(target_rows[i], O, batch.targets.row(i));
  return batch;
}

void shuffle_windows(std::vector<SeqWindow>& windows, Rng& rng) {
  for (std::size_t i = windows.size(); i > 1; --i) std::swap(windows[i - 1], windows[rng.below(i)]);
}

std::uint64_t fingerprint(const RegressionData& data, const RegressionSetup& setup) {
  Fingerprint f;
  f.add(data.size()).add(setup.many_to_one).add(static_cast<std::uint64_t>(setup.loss));
  for (const auto& sequence : data) {
    for (const Matrix* m : {&sequence.x, &sequence.y}) {
      f.add(static_cast<std::uint64_t>(m->rows())).add(static_cast<std::uint64_t>(m->cols()));
      f.add_values(m->data(), static_cast<std::size_t>(m->rows()) * m->cols());
    }
  }
  return f.value();
}

class RegressionTask final : public TrainingTask {
 public:
  RegressionTask(const SequenceRegressor& model, const RegressionSetup& setup, const RegressionData& train,
                 const RegressionData& val, int seq_len)
      : model_(model),
        setup_(setup),
        train_(train),
        val_(val),
        windows_(regression_windows(train, setup.many_to_one, seq_len)) {
    if (windows_.empty()) throw std::invalid_argument("fit: no training sequences");
  }
  std::vector<Var> parameters() const override { return model_.parameters(); }
  std::size_t window_count() const override { return windows_.size(); }
  std::uint64_t data_fingerprint() const override { return fingerprint(train_, setup_); }
  bool has_validation() const override { return !val_.empty(); }
  std::uint64_t validation_fingerprint() const override { return fingerprint(val_, setup_); }
  void begin_epoch(Rng& shuffle_rng) override {
    order_ = windows_;
    shuffle_windows(order_, shuffle_rng);
  }
  int begin_batch(std::size_t first, int batch_size) override {
    batch_ = make_regression_batch(train_, order_, first, batch_size, setup_.many_to_one);
    carried_ = model_.zero_state(batch_.B);
    next_target_ = 0;
    return batch_.T;
  }
  const ModelState& carried_state() const override { return carried_; }
  void resume_batch_at(int t0, ModelState carried) override {
    carried_ = std::move(carried);
    // The targets before step t0 were trained: go on from the first at or after it.
    const auto& rows = batch_.rows;
    next_target_ = std::lower_bound(rows.begin(), rows.end(), t0 * batch_.B) - rows.begin();
  }
  int batch_rows() const override { return batch_.B; }
  ChunkLoss forward_chunk(int t0, int n, Rng& dropout_rng, bool fused) override {
    const int B = batch_.B, first_row = t0 * B, end_row = (t0 + n) * B;
    if (next_target_ == batch_.rows.size()) return {nullptr, 0, true};  // only padding remains
    // The targets of this chunk are the next run of the ascending row list.
    std::size_t end = next_target_;
    while (end < batch_.rows.size() && batch_.rows[end] < end_row) ++end;
    const Var x = make_leaf(Matrix(n * B, batch_.inputs.cols(), batch_.inputs.row(first_row)));
    if (end == next_target_) {
      // Many-to-one: no sequence ends here; only move the state on.
      NoGradGuard no_grad;
      const std::vector<int> none;
      model_.forward(x, n, B, carried_, true, dropout_rng, &none, fused);
      return {nullptr, 0, false};
    }
    std::vector<int> rows;
    for (std::size_t i = next_target_; i < end; ++i) rows.push_back(batch_.rows[i] - first_row);
    const Matrix targets(static_cast<int>(end - next_target_), batch_.targets.cols(),
                         batch_.targets.row(static_cast<int>(next_target_)));
    next_target_ = end;
    const Var out = model_.forward(x, n, B, carried_, true, dropout_rng, &rows, fused);
    return {regression_loss(setup_.loss, out, targets), static_cast<long>(rows.size()), false};
  }
  EvalResult validate(int batch_size, int seq_len) const override {
    return evaluate(model_, setup_, val_, batch_size, seq_len);
  }

 private:
  const SequenceRegressor& model_;
  RegressionSetup setup_;
  const RegressionData& train_;
  const RegressionData& val_;
  std::vector<SeqWindow> windows_, order_;
  RegressionBatch batch_;
  ModelState carried_;
  std::size_t next_target_ = 0;
};

}  // namespace

FitResult fit(SequenceRegressor& model, TrainingState& state, const TrainConfig& config, const RegressionSetup& setup,
              const RegressionData& train, const RegressionData& val, const FitCallbacks& callbacks) {
  validate_train_config(config);
  check_regression_data(model, train, setup.many_to_one, "training");
  check_regression_data(model, val, setup.many_to_one, "validation");
  RegressionTask task(model, setup, train, val, config.seq_len);
  return run_training(task, state, config, callbacks);
}

EvalResult evaluate(const SequenceRegressor& model, const RegressionSetup& setup, const RegressionData& data,
                    int batch_size, int seq_len) {
  if (batch_size <= 0 || seq_len <= 0) throw std::invalid_argument("evaluate: batch_size and seq_len must be positive");
  check_regression_data(model, data, setup.many_to_one, "evaluation");
  const std::vector<SeqWindow> windows = regression_windows(data, setup.many_to_one, seq_len);
  if (windows.empty()) throw std::invalid_argument("evaluate: no sequences");
  NoGradGuard no_grad;
  Rng unused(0);
  double total = 0.0;
  long counted = 0;
  for (std::size_t first = 0; first < windows.size(); first += batch_size) {
    poll_interrupt();
    const RegressionBatch batch = make_regression_batch(data, windows, first, batch_size, setup.many_to_one);
    ModelState state = model.zero_state(batch.B);
    const Var out = model.forward(make_leaf(batch.inputs), batch.T, batch.B, state, false, unused, &batch.rows);
    total += static_cast<double>(regression_loss(setup.loss, out, batch.targets)->value[0]) * batch.rows.size();
    counted += static_cast<long>(batch.rows.size());
  }
  EvalResult result;
  result.tokens = counted;
  result.loss = total / static_cast<double>(counted);
  result.perplexity = std::numeric_limits<double>::quiet_NaN();
  result.accuracy = std::numeric_limits<double>::quiet_NaN();
  return result;
}

Var batch_loss(const SequenceRegressor& model, const RegressionSetup& setup, const RegressionData& data, bool fused) {
  check_regression_data(model, data, setup.many_to_one, "batch");
  if (data.empty()) throw std::invalid_argument("batch_loss: no sequences");
  std::vector<SeqWindow> windows;
  for (std::size_t s = 0; s < data.size(); ++s) windows.push_back({static_cast<int>(s), 0, data[s].x.rows()});
  const RegressionBatch batch =
      make_regression_batch(data, windows, 0, static_cast<int>(data.size()), setup.many_to_one);
  ModelState state = model.zero_state(batch.B);
  Rng unused(0);
  const Var out = model.forward(make_leaf(batch.inputs), batch.T, batch.B, state, false, unused, &batch.rows, fused);
  return regression_loss(setup.loss, out, batch.targets);
}

std::vector<Matrix> predict(const SequenceRegressor& model, const std::vector<Matrix>& inputs, bool many_to_one,
                            int batch_size) {
  if (batch_size <= 0) throw std::invalid_argument("predict: batch_size must be positive");
  const int F = model.config().input_size, O = model.config().output_size;
  // Targets are not needed: stand-ins of the right shape let the batching code place the outputs.
  RegressionData data;
  for (std::size_t s = 0; s < inputs.size(); ++s) {
    if (inputs[s].rows() == 0 || inputs[s].cols() != F) {
      throw ShapeError("predict: sequence " + std::to_string(s) + " has shape " + inputs[s].shape_str() +
                       ", expected (T > 0, " + std::to_string(F) + ")");
    }
    data.push_back({inputs[s], Matrix(many_to_one ? 1 : inputs[s].rows(), O)});
  }
  std::vector<SeqWindow> windows;
  for (std::size_t s = 0; s < data.size(); ++s) windows.push_back({static_cast<int>(s), 0, data[s].x.rows()});
  // Longest first, so a batch pads its sequences to similar lengths (in the
  // order given, one long series padded every other one of its batch).
  std::stable_sort(windows.begin(), windows.end(),
                   [](const SeqWindow& a, const SeqWindow& b) { return a.length > b.length; });
  NoGradGuard no_grad;
  Rng unused(0);
  std::vector<Matrix> outputs(data.size());
  for (std::size_t first = 0; first < windows.size(); first += batch_size) {
    poll_interrupt();
    const RegressionBatch batch = make_regression_batch(data, windows, first, batch_size, many_to_one);
    ModelState state = model.zero_state(batch.B);
    const Matrix out =
        model.forward(make_leaf(batch.inputs), batch.T, batch.B, state, false, unused, &batch.rows)->value;
    for (int b = 0; b < batch.B; ++b) {
      outputs[windows[first + b].sequence] = Matrix(many_to_one ? 1 : windows[first + b].length, O);
    }
    for (std::size_t i = 0; i < batch.rows.size(); ++i) {
      const int t = batch.rows[i] / batch.B, b = batch.rows[i] % batch.B;
      std::copy_n(out.row(static_cast<int>(i)), O, outputs[windows[first + b].sequence].row(many_to_one ? 0 : t));
    }
  }
  return outputs;
}

Matrix forecast(const SequenceRegressor& model, const Matrix& history, int steps,
                const std::vector<float>& feedback_scale, const std::vector<float>& feedback_shift) {
  const int F = model.config().input_size, O = model.config().output_size;
  if (O != F) {
    throw std::invalid_argument("forecast feeds outputs back as inputs, so output_size (" + std::to_string(O) +
                                ") must equal input_size (" + std::to_string(F) + ")");
  }
  if (history.rows() == 0 || history.cols() != F) {
    throw ShapeError("forecast: history " + history.shape_str() + " should be (T > 0, " + std::to_string(F) + ")");
  }
  if (steps < 0) throw std::invalid_argument("forecast: steps must be >= 0, got " + std::to_string(steps));
  if (static_cast<int>(feedback_scale.size()) != F || static_cast<int>(feedback_shift.size()) != F) {
    throw std::invalid_argument("forecast: feedback scale and shift need " + std::to_string(F) + " values each");
  }
  NoGradGuard no_grad;
  Rng unused(0);
  ModelState state = model.zero_state(1);
  const int T = history.rows();
  const std::vector<int> last{T - 1}, only{0};
  Matrix y = model.forward(make_leaf(history), T, 1, state, false, unused, &last)->value;
  Matrix out(steps, O);
  for (int s = 0; s < steps; ++s) {
    std::copy_n(y.data(), O, out.row(s));
    if (s + 1 == steps) break;
    poll_interrupt();
    Matrix x(1, F);
    for (int j = 0; j < F; ++j) x[j] = y[j] * feedback_scale[j] + feedback_shift[j];
    y = model.forward(make_leaf(std::move(x)), 1, 1, state, false, unused, &only)->value;
  }
  return out;
}

}  // namespace lmn
