#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "base/block_cache.hpp"
#include "base/fingerprint.hpp"
#include "base/interrupt.hpp"
#include "base/parallel.hpp"
#include "train/thread_tuner.hpp"
#include "train/training_task.hpp"

namespace lmn {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Per-epoch generators derive from (seed, epoch) so a resumed run draws
// exactly what an uninterrupted one would have.
std::uint64_t epoch_seed(std::uint64_t seed, int epoch, std::uint64_t stream) {
  return seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(epoch) * 0xD1B54A32D192ED03ULL + stream;
}

void check_sequences(const SequenceModel& model, const Sequences& data, const char* which) {
  for (std::size_t s = 0; s < data.size(); ++s) {
    for (std::size_t i = 0; i < data[s].size(); ++i) {
      const int t = data[s][i];
      if (t < 0 || t >= model.config().vocab_size) {
        throw std::out_of_range(std::string(which) + " sequence " + std::to_string(s) + ", position " +
                                std::to_string(i) + ": token " + std::to_string(t) + " is outside the vocabulary [0, " +
                                std::to_string(model.config().vocab_size) + ")");
      }
    }
  }
}

std::vector<Matrix> snapshot(const std::vector<Var>& params) {
  std::vector<Matrix> values;
  for (const auto& p : params) values.push_back(p->value);
  return values;
}

void restore(const std::vector<Var>& params, const std::vector<Matrix>& values) {
  for (std::size_t i = 0; i < params.size(); ++i) params[i]->value = values[i];
}

}  // namespace

void validate_train_config(const TrainConfig& c) {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  check(c.epochs >= 0, "epochs must be >= 0, got " + std::to_string(c.epochs));
  check(c.batch_size > 0, "batch_size must be positive, got " + std::to_string(c.batch_size));
  check(c.seq_len > 0, "seq_len must be positive, got " + std::to_string(c.seq_len));
  check(c.truncate >= 0, "truncate must be positive (or None), got " + std::to_string(c.truncate));
  check(c.clip_norm >= 0.0f, "clip_norm must be positive (or None)");
  check(c.clip_value >= 0.0f, "clip_value must be positive (or None)");
  check(c.lr_step_epochs >= 0, "lr_step_epochs must be >= 0");
  check(c.lr_gamma > 0.0f, "lr_gamma must be positive");
  check(c.patience >= 0, "patience must be >= 0");
  validate_optimizer_config(c.optimizer);
}

EvalResult evaluate(const SequenceModel& model, const Sequences& data, int batch_size, int seq_len) {
  if (batch_size <= 0 || seq_len <= 0) throw std::invalid_argument("evaluate: batch_size and seq_len must be positive");
  check_sequences(model, data, "evaluation");
  const std::vector<Window> windows = make_windows(data, seq_len);
  if (windows.empty()) throw std::invalid_argument("evaluate: no sequence has two or more tokens");
  NoGradGuard no_grad;
  Rng unused(0);
  double total_loss = 0.0;
  long correct = 0, counted = 0;
  for (std::size_t first = 0; first < windows.size(); first += batch_size) {
    poll_interrupt();
    const Batch batch = make_batch(data, windows, first, batch_size);
    ModelState state = model.zero_state(batch.B);
    const Var logits = model.forward(batch.inputs, batch.T, batch.B, state, false, unused);
    const Var loss = cross_entropy_loss(logits, batch.targets);
    total_loss += static_cast<double>(loss->value[0]) * batch.counted;
    counted += batch.counted;
    const Matrix& z = logits->value;
    for (int r = 0; r < z.rows(); ++r) {
      if (batch.targets[r] == kIgnoreIndex) continue;
      const float* row = z.row(r);
      correct += (std::max_element(row, row + z.cols()) - row) == batch.targets[r];
    }
  }
  EvalResult result;
  result.tokens = counted;
  result.loss = total_loss / counted;
  result.perplexity = std::exp(result.loss);
  result.accuracy = static_cast<double>(correct) / counted;
  return result;
}

namespace {

std::uint64_t fingerprint(const Sequences& data) {
  Fingerprint f;
  f.add(data.size());
  for (const auto& sequence : data) f.add_values(sequence.data(), sequence.size());
  return f.value();
}

// Next-token prediction over token sequences.
class TokenTask final : public TrainingTask {
 public:
  TokenTask(const SequenceModel& model, const Sequences& train, const Sequences& val, int seq_len)
      : model_(model), train_(train), val_(val), windows_(make_windows(train, seq_len)) {
    if (windows_.empty()) throw std::invalid_argument("fit: no training sequence has two or more tokens");
    if (!val.empty() && make_windows(val, seq_len).empty()) {
      throw std::invalid_argument("fit: no validation sequence has two or more tokens");
    }
  }
  std::vector<Var> parameters() const override { return model_.parameters(); }
  std::size_t window_count() const override { return windows_.size(); }
  std::uint64_t data_fingerprint() const override { return fingerprint(train_); }
  bool has_validation() const override { return !val_.empty(); }
  std::uint64_t validation_fingerprint() const override { return fingerprint(val_); }
  void begin_epoch(Rng& shuffle_rng) override {
    // Shuffle a fresh copy: each epoch's order depends only on (seed, epoch).
    order_ = windows_;
    shuffle(order_, shuffle_rng);
  }
  int begin_batch(std::size_t first, int batch_size) override {
    batch_ = make_batch(train_, order_, first, batch_size);
    carried_ = model_.zero_state(batch_.B);
    return batch_.T;
  }
  const ModelState& carried_state() const override { return carried_; }
  void resume_batch_at(int, ModelState carried) override { carried_ = std::move(carried); }
  int batch_rows() const override { return batch_.B; }
  ChunkLoss forward_chunk(int t0, int n, Rng& dropout_rng, bool fused) override {
    const std::vector<int> targets = time_slice(batch_.targets, batch_.B, t0, n);
    const long counted = std::count_if(targets.begin(), targets.end(), [](int t) { return t != kIgnoreIndex; });
    if (counted == 0) return {nullptr, 0, true};  // only padding remains
    const Var logits =
        model_.forward(time_slice(batch_.inputs, batch_.B, t0, n), n, batch_.B, carried_, true, dropout_rng, fused);
    return {cross_entropy_loss(logits, targets), counted, false};
  }
  EvalResult validate(int batch_size, int seq_len) const override {
    return evaluate(model_, val_, batch_size, seq_len);
  }

 private:
  const SequenceModel& model_;
  const Sequences& train_;
  const Sequences& val_;
  std::vector<Window> windows_, order_;
  Batch batch_;
  ModelState carried_;
};

}  // namespace

FitResult fit(SequenceModel& model, TrainingState& state, const TrainConfig& config, const Sequences& train,
              const Sequences& val, const FitCallbacks& callbacks) {
  validate_train_config(config);
  check_sequences(model, train, "training");
  check_sequences(model, val, "validation");
  TokenTask task(model, train, val, config.seq_len);
  return run_training(task, state, config, callbacks);
}

namespace {

int effective_truncate(const TrainConfig& config) {
  return config.truncate > 0 ? std::min(config.truncate, config.seq_len) : config.seq_len;
}

bool same_shapes(const ModelState& a, const ModelState& b) {
  auto same = [](const Matrix& x, const Matrix& y) { return x.rows() == y.rows() && x.cols() == y.cols(); };
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i].h, b[i].h) || !same(a[i].c, b[i].c)) return false;
  }
  return true;
}

// A position that matches the layout yet not the batches is a forged or
// colliding checkpoint, never one this trainer wrote.
[[noreturn]] void position_does_not_fit(int epoch, int batch, int step, const std::string& why) {
  throw std::invalid_argument("the saved position in epoch " + std::to_string(epoch + 1LL) + " (batch " +
                              std::to_string(batch + 1LL) + ", step " + std::to_string(step) +
                              ") does not fit this data: " + why);
}

// What state.position becomes when training stops: nothing before the
// epoch's first step, and no carried state at a batch's start.
std::optional<EpochPosition> position_worth_keeping(std::optional<EpochPosition> p) {
  if (p && p->batch == 0 && p->step == 0) return std::nullopt;
  if (p && p->step == 0) p->carried.clear();
  return p;
}

}  // namespace

std::uint64_t batching_layout(const TrainingTask& task, const TrainConfig& config) {
  return Fingerprint()
      .add(task.data_fingerprint())
      .add(task.window_count())
      .add(static_cast<std::uint64_t>(config.batch_size))
      .add(static_cast<std::uint64_t>(config.seq_len))
      .add(static_cast<std::uint64_t>(effective_truncate(config)))
      .value();
}

FitResult run_training(TrainingTask& task, TrainingState& state, const TrainConfig& config,
                       const FitCallbacks& callbacks) {
  validate_train_config(config);
  if (config.epochs > kMaxEpochs - state.epochs_done) {
    throw std::invalid_argument("epochs: " + std::to_string(state.epochs_done) + " done plus " +
                                std::to_string(config.epochs) + " more exceeds the limit of " +
                                std::to_string(kMaxEpochs));
  }
  const auto params = task.parameters();
  // Resuming keeps the optimizer's moments when the kind matches; the
  // hyper-parameters always come from this call.
  if (state.optimizer && state.optimizer->config().kind == config.optimizer.kind) {
    state.optimizer->reconfigure(config.optimizer);
  } else {
    state.optimizer.emplace(config.optimizer, params);
  }
  Optimizer& optimizer = *state.optimizer;
  const int truncate = effective_truncate(config);
  const bool validate = task.has_validation();
  const std::uint64_t layout = batching_layout(task, config);

  const BlockCacheScope reuse_large_blocks;  // each step frees and asks again for the same big buffers
  FitResult result;
  // The best so far carries over from earlier calls on the same validation data.
  EarlyStopping& stopping = state.early_stopping;
  const std::uint64_t validation_data =
      validate
          ? Fingerprint().add(task.validation_fingerprint()).add(static_cast<std::uint64_t>(config.seq_len)).value()
          : 0;
  if (config.epochs > 0 && stopping.validation != validation_data) {
    stopping = EarlyStopping();
    stopping.validation = validation_data;
  }
  const int batches = static_cast<int>((task.window_count() + config.batch_size - 1) / config.batch_size);
  result.batches = batches;
  ThreadTuner tuner(config.tune_threads ? active_threads() : 1, TunedWork::Training);

  // A part-done epoch goes on where it stopped if the data and the batching are the same.
  std::optional<EpochPosition> resume;
  if (state.position && config.epochs > 0) {
    if (state.position->layout == layout) {
      resume = std::move(state.position);
    } else {
      result.restarted_epoch = true;
      result.restarted_after_batches = state.position->batch;
    }
    state.position.reset();
  }
  if (state.epochs_done == 0 && !resume && !state.position) state.seed = config.seed;
  // Where the current epoch stands before each step: what state.position
  // becomes if training stops inside the epoch.
  std::optional<EpochPosition> here;

  // Ctrl-C (poll_interrupt in the layers and evaluate) ends training
  // between two optimizer steps, as a callback returning false would.
  try {
    for (int e = 0; e < config.epochs && !result.interrupted; ++e) {
      const int epoch = state.epochs_done;  // 0-based across resumes
      const float lr = step_lr(config.optimizer.lr, epoch, config.lr_step_epochs, config.lr_gamma);
      optimizer.set_lr(lr);
      Rng shuffle_rng(epoch_seed(state.seed, epoch, 1));
      Rng dropout_rng(epoch_seed(state.seed, epoch, 2));
      task.begin_epoch(shuffle_rng);

      const auto start = Clock::now();
      double loss_sum = 0.0, seconds_before = 0.0;
      long tokens = 0;
      int first_batch = 0, first_step = 0;
      ModelState first_carried;
      if (resume) {
        if (resume->batch > batches || (resume->batch == batches && resume->step > 0)) {
          position_does_not_fit(epoch, resume->batch, resume->step, std::to_string(batches) + " batches per epoch");
        }
        first_batch = resume->batch;
        first_step = resume->step;
        first_carried = std::move(resume->carried);
        dropout_rng.restore(resume->dropout_rng);
        loss_sum = resume->loss_sum;
        tokens = resume->tokens;
        seconds_before = resume->seconds;
        resume.reset();
      }
      const auto epoch_seconds = [&] { return seconds_before + seconds_since(start); };
      // Updated in place before every step: the carried state's buffers are
      // reused (step 0's stale copy is dropped by position_worth_keeping).
      const auto mark = [&](int b, int t0) {
        EpochPosition& p = here ? *here : here.emplace();
        p.layout = layout;
        p.batch = b;
        p.step = t0;
        if (t0 > 0) p.carried = task.carried_state();
        p.dropout_rng = dropout_rng.state();
        p.loss_sum = loss_sum;
        p.tokens = tokens;
        p.seconds = epoch_seconds();
      };
      for (int b = first_batch; b < batches; ++b) {
        const int T = task.begin_batch(static_cast<std::size_t>(b) * config.batch_size, config.batch_size);
        const int B = task.batch_rows();
        int t_begin = 0;
        if (b == first_batch && first_step > 0) {
          if (first_step >= T)
            position_does_not_fit(epoch, b, first_step, "the batch has " + std::to_string(T) + " steps");
          if (!same_shapes(first_carried, task.carried_state())) {
            position_does_not_fit(epoch, b, first_step, "the carried state's shapes differ from the batch's");
          }
          task.resume_batch_at(first_step, std::move(first_carried));
          t_begin = first_step;
        }
        for (int t0 = t_begin; t0 < T; t0 += truncate) {
          mark(b, t0);
          const int n = std::min(truncate, T - t0);
          const auto step_start = Clock::now();
          std::optional<ThreadLimit> limit;
          if (config.tune_threads) limit.emplace(tuner.threads());
          optimizer.zero_grad();
          const ChunkLoss chunk = task.forward_chunk(t0, n, dropout_rng, config.fused);
          if (chunk.counted == 0) {
            if (chunk.rest_is_padding) break;
            continue;
          }
          const float value = chunk.loss->value[0];
          const std::string where = " in epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1);
          const char* advice = "; the model keeps its weights from before that step (try a lower lr or clip_norm)";
          if (!std::isfinite(value)) {
            throw std::runtime_error("training diverged: loss is " + std::to_string(value) + where + advice);
          }
          if (!result.first_loss) result.first_loss = value;
          backward(chunk.loss);
          if (config.clip_value > 0.0f) clip_grad_value(params, config.clip_value);
          if (config.clip_norm > 0.0f) clip_grad_norm(params, config.clip_norm);
          try {
            optimizer.step();
          } catch (const NonFiniteStep& e) {
            throw std::runtime_error(std::string("training diverged: ") + e.what() + where + advice);
          }
          stopping.best_is_current = false;
          limit.reset();
          tuner.record(seconds_since(step_start), static_cast<long>(B) * n);
          loss_sum += static_cast<double>(value) * chunk.counted;
          tokens += chunk.counted;
        }
        mark(b + 1, 0);
        if (callbacks.on_batch) {
          BatchProgress p{epoch + 1, b + 1, batches, loss_sum / std::max(tokens, 1L),
                          tokens / std::max(epoch_seconds(), 1e-9)};
          if (!callbacks.on_batch(p)) {
            result.interrupted = true;
            break;
          }
        }
      }
      optimizer.zero_grad();
      if (result.interrupted) {  // a partial epoch is not recorded; the next fit goes on from here
        state.position = position_worth_keeping(std::move(here));
        break;
      }
      // The epoch is done once validated: a stop during validation goes on
      // from here, at the epoch's end, and validates again.
      mark(batches, 0);

      EpochStats stats;
      stats.epoch = epoch + 1;
      stats.seconds = epoch_seconds();
      stats.train_loss = loss_sum / std::max(tokens, 1L);
      stats.tokens_per_sec = tokens / std::max(stats.seconds, 1e-9);
      stats.lr = lr;
      if (validate) {
        const EvalResult v = task.validate(config.batch_size, config.seq_len);
        stats.val_loss = v.loss;
        stats.val_accuracy = v.accuracy;
        if (v.loss < stopping.best_val) {
          stopping.best_val = v.loss;
          stopping.best_epoch = stats.epoch;
          stopping.epochs_without_improvement = 0;
          if (config.patience > 0 && config.restore_best) {
            stopping.best_weights = snapshot(params);
            stopping.best_is_current = true;
          } else {
            stopping.best_weights.clear();  // an older best's weights must never be restored as this one's
          }
        } else {
          ++stopping.epochs_without_improvement;
        }
      }
      here.reset();
      ++state.epochs_done;
      result.history.push_back(stats);
      // Decided before the callback: a stop there must not skip early stopping.
      result.stopped_early = validate && config.patience > 0 && stopping.epochs_without_improvement >= config.patience;
      if (callbacks.on_epoch && !callbacks.on_epoch(stats)) result.interrupted = true;
      if (result.stopped_early || result.interrupted) break;
    }
  } catch (const Interrupted&) {
    optimizer.zero_grad();
    state.position = position_worth_keeping(std::move(here));
    result.interrupted = true;
    result.interrupt_requested = true;
  } catch (...) {  // diverged (or out of memory): the weights are those before the step that failed
    optimizer.zero_grad();
    state.position = position_worth_keeping(std::move(here));
    throw;
  }
  if (result.stopped_early && !stopping.best_weights.empty()) {
    restore(params, stopping.best_weights);
    stopping.best_is_current = true;
    result.restored_best = true;
  }
  if (validate && stopping.best_epoch > 0) {
    result.best_epoch = stopping.best_epoch;
    result.best_val_loss = stopping.best_val;
  }
  return result;
}

}  // namespace lmn
