#pragma once
// What the shared epoch loop (run_training in trainer.cpp) needs from one
// kind of model and data: token sequences (trainer.cpp) or real-valued
// sequences (regression_trainer.cpp). The loop owns everything else: the
// learning-rate schedule, per-epoch shuffling, truncated BPTT chunking,
// clipping, optimizer steps, thread tuning, validation, early stopping,
// callbacks and interruption.
#include <cstddef>
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
  virtual bool has_validation() const = 0;
  // Shuffles this epoch's window order.
  virtual void begin_epoch(Rng& shuffle_rng) = 0;
  // Stacks windows [first, first + batch_size) of the order into the
  // current batch, with a zero state; returns its number of steps T.
  virtual int begin_batch(std::size_t first, int batch_size) = 0;
  virtual int batch_rows() const = 0;
  // Forward over steps [t0, t0 + n) of the current batch from the carried state.
  virtual ChunkLoss forward_chunk(int t0, int n, Rng& dropout_rng, bool fused) = 0;
  // Loss (and accuracy, NaN where it has no meaning) on the validation data.
  virtual EvalResult validate(int batch_size, int seq_len) const = 0;
};

FitResult run_training(TrainingTask& task, TrainingState& state, const TrainConfig& config,
                       const FitCallbacks& callbacks);

}  // namespace lmn
