#pragma once
// Training and evaluation over token sequences of different lengths.
//
// Each sequence is cut into windows of up to seq_len + 1 tokens (inputs are
// window[0..n), targets window[1..n]), so every position is a next-token
// target once. Windows are shuffled per epoch and stacked into batches,
// short ones padded (the padding is ignored by the loss). Within a batch,
// truncated BPTT runs `truncate` steps at a time, carrying the (detached)
// state from chunk to chunk and taking an optimizer step per chunk. Training
// stopped between two steps (Ctrl-C, a callback) records where it stood, and
// the next fit on the same data and batching goes on from that step.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "nn/model.hpp"
#include "train/batching.hpp"
#include "train/optimizer.hpp"

namespace lmn {

struct TrainConfig {
  int epochs = 10;
  int batch_size = 32;
  int seq_len = 64;
  int truncate = 0;  // 0: backpropagate through the whole window
  OptimizerConfig optimizer;
  float clip_norm = 0.0f;   // 0: off
  float clip_value = 0.0f;  // 0: off
  int lr_step_epochs = 0;   // halve (lr_gamma) every N epochs; 0: constant
  float lr_gamma = 0.5f;
  int patience = 0;          // early stopping on val loss; 0: off
  bool restore_best = true;  // with early stopping, end on the best weights
  std::uint64_t seed = 0;
  bool fused = true;
  // Choose per step between one thread and the thread setting by timing
  // them (thread_tuner.hpp); off: always the setting.
  bool tune_threads = true;
};
void validate_train_config(const TrainConfig& config);

struct EpochStats {
  int epoch = 0;  // 1-based, counting resumed epochs
  double train_loss = 0.0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double tokens_per_sec = 0.0;
  double seconds = 0.0;
  float lr = 0.0f;
};

struct BatchProgress {
  int epoch = 0, batch = 0, batches = 0;
  double loss = 0.0;
  double tokens_per_sec = 0.0;
};
// Called after every batch and after every epoch; returning false stops
// training there (a partly trained epoch is not recorded).
struct FitCallbacks {
  std::function<bool(const BatchProgress&)> on_batch;
  std::function<bool(const EpochStats&)> on_epoch;
};

// The most epochs a model may count (so epochs_done + 1 never overflows).
constexpr int kMaxEpochs = 1 << 30;

// Where a stopped epoch stood. The next fit on the same data with the same
// batch_size, seq_len and truncate goes on from there and ends exactly where
// an uninterrupted run would have; with other data or batching the epoch
// starts again from its first batch.
struct EpochPosition {
  std::uint64_t layout = 0;  // fingerprint of the data and the batching (batching_layout)
  int batch = 0;             // the next batch to train, 0-based (== batches: only the epoch's end is left)
  int step = 0;              // its first time step not yet trained (> 0 only with truncate)
  ModelState carried;        // that batch's state before `step` (empty when step is 0)
  Rng::State dropout_rng{};  // the epoch's dropout stream at that point
  double loss_sum = 0.0;     // the epoch's training loss so far, summed over its tokens
  long tokens = 0;
  double seconds = 0.0;  // time spent on the epoch so far
};

// The best validation loss so far and, with early stopping, its weights.
// It carries over from fit to fit (and through checkpoints) while the
// validation data stay the same, so patience counts every epoch of a run
// that was stopped and resumed, and the best weights kept may come from an
// earlier call.
struct EarlyStopping {
  std::uint64_t validation = 0;  // fingerprint of the validation data it belongs to (0: none)
  double best_val = std::numeric_limits<double>::infinity();
  int best_epoch = 0;  // 1-based; 0: none yet
  int epochs_without_improvement = 0;
  // best_epoch's weights, in parameters() order: taken only by calls with
  // patience and restore_best (else empty, and an early stop keeps the last weights).
  std::vector<Matrix> best_weights;
  bool best_is_current = false;  // no optimizer step since best_weights were taken
};

// Everything beyond the weights that resuming needs.
struct TrainingState {
  std::optional<Optimizer> optimizer;
  int epochs_done = 0;
  std::uint64_t seed = 0;
  std::optional<EpochPosition> position;  // set while an epoch is part done
  EarlyStopping early_stopping;
};

struct FitResult {
  std::vector<EpochStats> history;
  bool interrupted = false;
  bool interrupt_requested = false;  // by the interrupt hook (Ctrl-C), see base/interrupt.hpp
  bool stopped_early = false;
  int best_epoch = 0;  // with validation: the best epoch so far, maybe of an earlier call; else 0
  double best_val_loss = std::numeric_limits<double>::quiet_NaN();
  bool restored_best = false;  // stopped early and went back to best_epoch's weights
  // The loss of the first step of this call (to notice a loss that climbs).
  std::optional<double> first_loss;
  // A part-done epoch this call could not go on with (other data or
  // batching), so it ran that epoch from its first batch, and the batches it had done.
  bool restarted_epoch = false;
  int restarted_after_batches = 0;
  int batches = 0;  // batches per epoch
};

FitResult fit(SequenceModel& model, TrainingState& state, const TrainConfig& config, const Sequences& train,
              const Sequences& val, const FitCallbacks& callbacks = {});

struct EvalResult {
  double loss = 0.0;
  double perplexity = 0.0;
  double accuracy = 0.0;
  long tokens = 0;
};
EvalResult evaluate(const SequenceModel& model, const Sequences& data, int batch_size, int seq_len);

}  // namespace lmn
