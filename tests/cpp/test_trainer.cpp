// Training end to end: learning a pattern, batching of ragged sequences,
// truncated BPTT, determinism, early stopping, and exact resume (at an
// epoch's end, between batches and inside a batch).
#include <cstdio>
#include <utility>

#include "base/interrupt.hpp"
#include "check.hpp"
#include "io/checkpoint.hpp"
#include "stop_at_hook_call.hpp"
#include "train/trainer.hpp"

using namespace lmn;

namespace {

Sequences repeating_pattern(int count, int length) {
  Sequences data;
  for (int s = 0; s < count; ++s) {
    std::vector<int> seq;
    for (int i = 0; i < length; ++i) seq.push_back((i + s) % 5);
    data.push_back(seq);
  }
  return data;
}

TrainConfig small_config(int epochs) {
  TrainConfig c;
  c.epochs = epochs;
  c.batch_size = 4;
  c.seq_len = 16;
  c.optimizer.lr = 0.02f;
  c.clip_norm = 5.0f;
  c.seed = 9;
  return c;
}

std::vector<Matrix> weights(const SequenceModel& m) {
  std::vector<Matrix> w;
  for (const auto& p : m.parameters()) w.push_back(p->value);
  return w;
}

bool identical(const std::vector<Matrix>& a, const std::vector<Matrix>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (max_abs(subtract(a[i], b[i])) != 0.0f) return false;
  return true;
}

}  // namespace

TEST(windows_cover_every_target_once) {
  const Sequences data{{1, 2, 3, 4, 5, 6, 7}, {1}, {4, 4}};
  const auto windows = make_windows(data, 3);
  // 6 pairs -> windows of 3 + 3; 0 pairs -> none; 1 pair -> one of 1
  CHECK(windows.size() == 3);
  const Batch b = make_batch(data, windows, 0, 8);
  CHECK(b.B == 3 && b.T == 3 && b.counted == 7);
  CHECK(b.inputs[0 * 3 + 1] == 4 && b.targets[0 * 3 + 1] == 5);  // second window starts at 4
  CHECK(b.targets[1 * 3 + 2] == kIgnoreIndex);                   // padding of the short window
}

TEST(lstm_learns_a_repeating_pattern_to_near_zero_loss) {
  SequenceModel model({CellType::LSTM, 5, 32, 1, 0, 0.0f}, 1);
  TrainingState state;
  const FitResult r = fit(model, state, small_config(40), repeating_pattern(8, 64), {});
  CHECK(r.history.front().train_loss > 1.0);
  CHECK(r.history.back().train_loss < 0.05);
  CHECK(evaluate(model, repeating_pattern(2, 40), 4, 16).accuracy > 0.99);
}

TEST(gru_learns_with_truncated_bptt) {
  SequenceModel model({CellType::GRU, 5, 32, 2, 8, 0.0f}, 1);
  TrainingState state;
  TrainConfig c = small_config(40);
  c.truncate = 4;
  const FitResult r = fit(model, state, c, repeating_pattern(8, 64), {});
  CHECK(r.history.back().train_loss < 0.05);
}

TEST(training_is_deterministic_for_a_seed) {
  SequenceModel a({CellType::LSTM, 5, 16, 2, 4, 0.2f}, 3), b({CellType::LSTM, 5, 16, 2, 4, 0.2f}, 3);
  TrainingState sa, sb;
  fit(a, sa, small_config(3), repeating_pattern(6, 50), {});
  fit(b, sb, small_config(3), repeating_pattern(6, 50), {});
  CHECK(identical(weights(a), weights(b)));
}

TEST(resume_from_checkpoint_continues_exactly) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 4, 0.3f};
  TrainConfig c = small_config(4);
  c.lr_step_epochs = 2;
  const Sequences data = repeating_pattern(6, 50);
  SequenceModel straight(config, 5);
  TrainingState s1;
  fit(straight, s1, c, data, {});

  SequenceModel first(config, 5);
  TrainingState s2;
  c.epochs = 2;
  fit(first, s2, c, data, {});
  const std::string path = "resume_test.ckpt";
  save_checkpoint(path, first, s2, {});
  LoadedCheckpoint loaded = load_checkpoint(path);
  std::remove(path.c_str());
  CHECK(loaded.training.epochs_done == 2);
  const FitResult rest = fit(*loaded.model, loaded.training, c, data, {});
  CHECK(rest.history.front().epoch == 3);
  CHECK(identical(weights(straight), weights(*loaded.model)));
}

// The model and its training state saved and loaded again (state replaced).
std::unique_ptr<SequenceModel> through_a_checkpoint(const SequenceModel& model, TrainingState& state) {
  const std::string path = "trainer_test.ckpt";
  save_checkpoint(path, model, state, {});
  LoadedCheckpoint file = load_checkpoint(path);
  std::remove(path.c_str());
  state = std::move(file.training);
  return std::move(file.model);
}

// A run stopped inside an epoch and fitted again, through a checkpoint when
// `via_file`, ends on the same weights and epoch losses as one never stopped.
void check_resumed_run_matches(const TrainConfig& c, const Sequences& data, const SequenceModel& straight,
                               const FitResult& all, SequenceModel& stopped, TrainingState& state, bool via_file) {
  CHECK(state.position.has_value());
  std::unique_ptr<SequenceModel> loaded;
  SequenceModel* model = &stopped;
  if (via_file) {
    const int step = state.position->step;
    loaded = through_a_checkpoint(stopped, state);
    CHECK(state.position.has_value() && state.position->step == step);
    model = loaded.get();
  }
  const int epoch = state.epochs_done;
  TrainConfig rest = c;
  rest.epochs = c.epochs - epoch;
  const FitResult r = fit(*model, state, rest, data, {});
  CHECK(!state.position.has_value());
  CHECK(r.restarted_after_batches == 0);
  CHECK(r.history.front().epoch == epoch + 1);
  CHECK(r.history.front().train_loss == all.history[epoch].train_loss);
  CHECK(identical(weights(straight), weights(*model)));
}

TEST(a_stop_between_batches_resumes_at_the_next_batch_exactly) {
  const ModelConfig config{CellType::LSTM, 5, 16, 2, 4, 0.3f};  // dropout: its stream resumes too
  const TrainConfig c = small_config(2);
  const Sequences data = repeating_pattern(16, 50);  // 64 windows: 16 batches an epoch
  SequenceModel straight(config, 5);
  TrainingState s1;
  const FitResult all = fit(straight, s1, c, data, {});
  // After batch 1, 9 and 16 (the last: only the epoch's end is left) of epoch 1, and batch 5 of epoch 2.
  for (const int stop_after : {1, 9, 16, 21}) {
    for (const bool via_file : {false, true}) {
      SequenceModel model(config, 5);
      TrainingState state;
      int calls = 0;
      FitCallbacks callbacks;
      callbacks.on_batch = [&](const BatchProgress&) { return ++calls != stop_after; };
      const FitResult first = fit(model, state, c, data, {}, callbacks);
      CHECK(first.interrupted && state.epochs_done == (stop_after - 1) / 16);
      CHECK(state.position && state.position->batch == (stop_after - 1) % 16 + 1 && state.position->step == 0);
      check_resumed_run_matches(c, data, straight, all, model, state, via_file);
    }
  }
}

TEST(a_stop_inside_a_truncated_batch_resumes_at_its_next_step_exactly) {
  // Ctrl-C (the interrupt hook) lands wherever the clock says; every place
  // must resume exactly, and at least one must fall inside a batch.
  const ModelConfig config{CellType::GRU, 5, 48, 2, 4, 0.2f};
  TrainConfig c = small_config(2);
  c.seq_len = 48;
  c.truncate = 6;                                     // 8 optimizer steps a batch
  const Sequences data = repeating_pattern(48, 400);  // long enough for the hook's 50 ms between calls
  SequenceModel straight(config, 5);
  TrainingState s1;
  const FitResult all = fit(straight, s1, c, data, {});
  int inside_a_batch = 0;
  for (int call = 2; call < 12 && inside_a_batch < 2; ++call) {
    SequenceModel model(config, 5);
    TrainingState state;
    const FitResult first = [&] {
      const test::StopAtHookCall stop(call);
      return fit(model, state, c, data, {});
    }();
    if (!first.interrupted) break;  // the run ended before the hook said stop
    CHECK(first.interrupt_requested);
    if (state.position->step > 0) {
      ++inside_a_batch;
      CHECK(state.position->carried.size() == 2 && state.position->carried[0].h.rows() == c.batch_size);
    }
    check_resumed_run_matches(c, data, straight, all, model, state, call % 2 == 0);
  }
  CHECK(inside_a_batch > 0);
}

TEST(after_a_diverged_step_fit_again_goes_on_from_that_step) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 4, 0.2f};
  const TrainConfig c = small_config(1);
  const Sequences data = repeating_pattern(16, 50);
  SequenceModel straight(config, 5), model(config, 5);
  TrainingState s1, state;
  const FitResult all = fit(straight, s1, c, data, {});
  // A weight turned NaN after batch 3 makes batch 4's loss NaN.
  Var poisoned = model.parameters()[1];
  float kept = 0.0f;
  FitCallbacks callbacks;
  callbacks.on_batch = [&](const BatchProgress& p) {
    if (p.batch == 3) kept = std::exchange(poisoned->value[0], std::nanf(""));
    return true;
  };
  CHECK_THROWS(std::runtime_error, fit(model, state, c, data, {}, callbacks), "epoch 1, batch 4");
  CHECK(state.position && state.position->batch == 3 && state.position->step == 0);
  poisoned->value[0] = kept;
  check_resumed_run_matches(c, data, straight, all, model, state, false);
}

TEST(a_stopped_epoch_restarts_when_the_data_or_batching_differ) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 4, 0.0f};
  TrainConfig c = small_config(1);
  const Sequences data = repeating_pattern(16, 50);
  SequenceModel fresh(config, 5), model(config, 5);
  TrainingState fresh_state, state;
  int calls = 0;
  FitCallbacks callbacks;
  callbacks.on_batch = [&](const BatchProgress&) { return ++calls != 3; };
  fit(model, state, c, data, {}, callbacks);
  CHECK(state.position && state.position->batch == 3);
  // fit(epochs=0) keeps the position; a smaller batch does not fit it.
  TrainConfig none = c;
  none.epochs = 0;
  fit(model, state, none, data, {});
  CHECK(state.position.has_value());
  TrainConfig other = c;
  other.batch_size = 2;
  const FitResult r = fit(model, state, other, data, {});
  CHECK(r.restarted_after_batches == 3 && r.batches == 32);
  CHECK(r.history.size() == 1 && r.history.front().epoch == 1 && !state.position);
  // The restarted epoch draws what a first epoch with that batching draws: only the weights differ.
  const FitResult f = fit(fresh, fresh_state, other, data, {});
  CHECK(r.history.front().train_loss != f.history.front().train_loss);
  // Other data: the same.
  callbacks.on_batch = [&](const BatchProgress&) { return false; };
  fit(model, state, c, data, {}, callbacks);
  CHECK(state.position && state.position->batch == 1);
  const FitResult r2 = fit(model, state, c, repeating_pattern(16, 51), {});
  CHECK(r2.restarted_epoch && r2.restarted_after_batches == 1);
  // Inside the first batch (0 batches done, some steps): still a part-done epoch that restarts.
  fit(model, state, c, data, {}, callbacks);
  state.position->batch = 0;
  state.position->step = 4;
  const FitResult r3 = fit(model, state, c, repeating_pattern(16, 51), {});
  CHECK(r3.restarted_epoch && r3.restarted_after_batches == 0);
}

TEST(validation_and_early_stopping_restore_the_best_weights) {
  SequenceModel model({CellType::LSTM, 5, 16, 1, 0, 0.0f}, 2);
  TrainingState state;
  TrainConfig c = small_config(30);
  c.optimizer.lr = 0.5f;  // large steps make the validation loss wander
  c.patience = 2;
  Sequences val{{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2}};  // a different pattern: val rises as train falls
  const FitResult r = fit(model, state, c, repeating_pattern(8, 40), val);
  CHECK(r.stopped_early);
  CHECK(r.history.size() < 30);
  double best = 1e9;
  for (const auto& e : r.history) best = std::min(best, e.val_loss);
  CHECK_NEAR(evaluate(model, val, c.batch_size, c.seq_len).loss, best, 1e-5);
}

// Patience and the best weights carry over a stop and resume (through a
// checkpoint too): the run stops early at the same epoch and ends on the
// same best weights as one never stopped.
TEST(early_stopping_counts_across_a_stop_and_resume) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 0, 0.0f};
  TrainConfig c = small_config(30);
  c.optimizer.lr = 0.5f;  // large steps make the validation loss wander
  c.patience = 2;
  const Sequences train = repeating_pattern(8, 40), val{{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2}};
  SequenceModel straight(config, 2);
  TrainingState s1;
  const FitResult all = fit(straight, s1, c, train, val);
  CHECK(all.stopped_early && all.best_epoch < static_cast<int>(all.history.size()));
  const int batches = all.batches;
  // Stopped in the epoch after the best one, where patience has begun to count.
  for (const bool via_file : {false, true}) {
    SequenceModel model(config, 2);
    TrainingState state;
    int calls = 0;
    FitCallbacks callbacks;
    callbacks.on_batch = [&](const BatchProgress&) { return ++calls != all.best_epoch * batches + 1; };
    fit(model, state, c, train, val, callbacks);
    CHECK(state.epochs_done == all.best_epoch && state.early_stopping.best_epoch == all.best_epoch);
    std::unique_ptr<SequenceModel> loaded;
    SequenceModel* resumed = &model;
    if (via_file) {
      loaded = through_a_checkpoint(model, state);
      resumed = loaded.get();
      CHECK(state.early_stopping.best_epoch == all.best_epoch && !state.early_stopping.best_is_current);
    }
    TrainConfig rest = c;
    rest.epochs = c.epochs - state.epochs_done;
    const FitResult r = fit(*resumed, state, rest, train, val);
    CHECK(r.stopped_early && r.best_epoch == all.best_epoch && r.best_val_loss == all.best_val_loss);
    CHECK(state.epochs_done == static_cast<int>(all.history.size()));
    CHECK(identical(weights(straight), weights(*resumed)));
  }
  // Other validation data start the count afresh.
  const FitResult other = fit(straight, s1, small_config(1), train, {{0, 1, 2, 3}});
  CHECK(other.best_epoch == s1.epochs_done && s1.early_stopping.epochs_without_improvement == 0);
}

// A stop requested by the epoch callback in the epoch that runs out of
// patience still stops early and goes back to the best weights.
TEST(a_stop_in_the_last_patient_epoch_still_restores_the_best) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 0, 0.0f};
  TrainConfig c = small_config(30);
  c.optimizer.lr = 0.5f;
  c.patience = 2;
  const Sequences train = repeating_pattern(8, 40), val{{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2}};
  SequenceModel straight(config, 2), model(config, 2);
  TrainingState s1, state;
  const FitResult all = fit(straight, s1, c, train, val);
  CHECK(all.stopped_early && all.restored_best);
  FitCallbacks callbacks;
  callbacks.on_epoch = [&](const EpochStats& e) { return e.epoch != static_cast<int>(all.history.size()); };
  const FitResult r = fit(model, state, c, train, val, callbacks);
  CHECK(r.interrupted && r.stopped_early && r.restored_best && r.history.size() == all.history.size());
  CHECK(identical(weights(straight), weights(model)));
}

// The best weights are those of best_epoch or none: a call without
// patience that finds a better epoch drops an earlier call's best weights.
TEST(best_weights_never_outlive_their_epoch) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 0, 0.0f};
  TrainConfig c = small_config(1);
  c.patience = 5;
  const Sequences train = repeating_pattern(8, 40), val = repeating_pattern(2, 30);
  SequenceModel model(config, 2);
  TrainingState state;
  fit(model, state, c, train, val);
  CHECK(state.early_stopping.best_epoch == 1 && !state.early_stopping.best_weights.empty());
  c.patience = 0;
  fit(model, state, c, train, val);  // the pattern is learnt: validation improves
  CHECK(state.early_stopping.best_epoch == 2 && state.early_stopping.best_weights.empty());
  const std::vector<Matrix> last = weights(model);
  c.patience = 1;
  c.optimizer.lr = 1e-30f;  // steps too small to move a weight: no better epoch, so it stops at once
  const FitResult r = fit(model, state, c, train, val);
  CHECK(r.stopped_early && !r.restored_best && r.best_epoch == 2);
  CHECK(identical(last, weights(model)));  // the last weights, not epoch 1's
}

// Ctrl-C during the validation after an epoch's last batch: the epoch is
// not done until validated, so the next fit validates it and goes on.
TEST(a_stop_during_validation_validates_that_epoch_again) {
  const ModelConfig config{CellType::LSTM, 5, 16, 1, 0, 0.0f};
  TrainConfig c = small_config(2);
  c.patience = 3;
  const Sequences train = repeating_pattern(8, 40), val = repeating_pattern(16, 200);  // validation polls often
  SequenceModel straight(config, 2), model(config, 2);
  TrainingState s1, state;
  const FitResult all = fit(straight, s1, c, train, val);
  FitCallbacks callbacks;
  callbacks.on_batch = [](const BatchProgress& p) {
    if (p.epoch == 1 && p.batch == p.batches) set_interrupt_hook([] { return true; });
    return true;
  };
  const FitResult first = fit(model, state, c, train, val, callbacks);
  set_interrupt_hook(nullptr);
  CHECK(first.interrupt_requested && first.history.empty());
  CHECK(state.epochs_done == 0 && state.position && state.position->batch == all.batches);
  const FitResult rest = fit(model, state, c, train, val);
  CHECK(rest.history.size() == 2 && rest.history[0].val_loss == all.history[0].val_loss);
  CHECK(rest.history[1].train_loss == all.history[1].train_loss && rest.best_epoch == all.best_epoch);
  CHECK(identical(weights(straight), weights(model)));
}

TEST(progress_callback_can_stop_between_batches) {
  SequenceModel model({CellType::LSTM, 5, 8, 1, 0, 0.0f}, 2);
  TrainingState state;
  int calls = 0;
  FitCallbacks callbacks;
  callbacks.on_batch = [&](const BatchProgress&) { return ++calls < 3; };
  const FitResult r = fit(model, state, small_config(5), repeating_pattern(16, 40), {}, callbacks);
  CHECK(r.interrupted);
  CHECK(calls == 3);
  CHECK(r.history.empty());
  CHECK(state.epochs_done == 0);
  CHECK(state.position && state.position->batch == 3);
}

TEST(epoch_callback_sees_each_epoch_and_can_stop) {
  SequenceModel model({CellType::LSTM, 5, 8, 1, 0, 0.0f}, 2);
  TrainingState state;
  std::vector<int> seen;
  FitCallbacks callbacks;
  callbacks.on_epoch = [&](const EpochStats& e) {
    seen.push_back(e.epoch);
    return e.epoch < 2;
  };
  const FitResult r = fit(model, state, small_config(5), repeating_pattern(4, 20), {}, callbacks);
  CHECK((seen == std::vector<int>{1, 2}));
  CHECK(r.interrupted && r.history.size() == 2 && state.epochs_done == 2);
}

TEST(bad_training_input_is_named) {
  SequenceModel model({CellType::LSTM, 5, 8, 1, 0, 0.0f}, 2);
  TrainingState state;
  CHECK_THROWS(std::out_of_range, fit(model, state, small_config(1), {{0, 1, 7}}, {}),
               "training sequence 0, position 2: token 7");
  CHECK_THROWS(std::invalid_argument, fit(model, state, small_config(1), {{1}, {}}, {}), "two or more");
  TrainConfig c = small_config(1);
  c.batch_size = 0;
  CHECK_THROWS(std::invalid_argument, fit(model, state, c, {{0, 1}}, {}), "batch_size");
}

TEST(divergence_is_reported_not_hidden) {
  SequenceModel model({CellType::LSTM, 5, 8, 1, 0, 0.0f}, 2);
  model.parameters()[0]->value[0] = std::nanf("");
  TrainingState state;
  CHECK_THROWS(std::runtime_error, fit(model, state, small_config(1), repeating_pattern(2, 20), {}),
               "training diverged");
}

TEST_MAIN()
