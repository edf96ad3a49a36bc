#pragma once
// What the shared epoch loop (run_training in trainer.cpp) needs from one
// kind of model and data: token sequences (trainer.cpp) or real-valued
// sequences (regression_trainer.cpp). The loop owns everything else: the
// learning-rate schedule, per-epoch shuffling, truncated BPTT chunking,
// clipping, optimizer steps, thread tuning, validation, early stopping,
// callbacks, interruption, and going on with an epoch that was stopped.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "train/trainer.hpp"

namespace lmn {

// One chunk's forward pass: the mean loss over `counted` targets. counted
// == 0 means no optimizer step; `rest_is_padding` then ends the batch.
struct ChunkLoss {
  Var loss;
  long counted = 0;
  bool rest_is_padding = false;
};

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual std::vector<Var> parameters() const = 0;
  virtual std::size_t window_count() const = 0;
  // Tells whether a stopped epoch was on the same training data.
  virtual std::uint64_t data_fingerprint() const = 0;
  virtual bool has_validation() const = 0;
  // Tells whether an earlier best validation loss was measured on the same data.
  virtual std::uint64_t validation_fingerprint() const = 0;
  // Shuffles this epoch's window order.
  virtual void begin_epoch(Rng& shuffle_rng) = 0;
  // Stacks windows [first, first + batch_size) of the order into the
  // current batch, with a zero state; returns its number of steps T.
  virtual int begin_batch(std::size_t first, int batch_size) = 0;
  virtual int batch_rows() const = 0;
  // The current batch's carried state, and going on with the batch from
  // step t0 with the state carried there (resuming a stopped epoch).
  virtual const ModelState& carried_state() const = 0;
  virtual void resume_batch_at(int t0, ModelState carried) = 0;
  // Forward over steps [t0, t0 + n) of the current batch from the carried state.
  virtual ChunkLoss forward_chunk(int t0, int n, Rng& dropout_rng, bool fused) = 0;
  // Loss (and accuracy, NaN where it has no meaning) on the validation data.
  virtual EvalResult validate(int batch_size, int seq_len) const = 0;
};

FitResult run_training(TrainingTask& task, TrainingState& state, const TrainConfig& config,
                       const FitCallbacks& callbacks);

// The fingerprint an EpochPosition is valid for: the data and how it is cut into batches.
std::uint64_t batching_layout(const TrainingTask& task, const TrainConfig& config);

}  // namespace lmn
