#pragma once
// The checkpoint file, version 2. Little-endian, in this order:
//   magic "LMNCKPT1" | u32 version
//   config: u32 cell, i32 vocab, i32 hidden, i32 layers, i32 embedding, f32 dropout
//     (a sequence regressor: u32 2 + cell, i32 output_size, i32 hidden,
//     i32 layers, i32 input_size, f32 dropout; the rest is the same)
//   vocabulary: u32 count, then strings (u32 length + UTF-8 bytes)
//   metadata: string (free-form JSON written by the Python layer)
//   tensors: u32 count, then (name, i32 rows, i32 cols, f32 data)
//   training: i32 epochs_done, u64 seed, u8 has_optimizer, then the optimizer
//     (u32 kind, 7 x f32 hyper-parameters, i64 steps, u32 count, matrices)
//   position (version 2; version 1 files end before it and load without
//     one): u8 has_position, then u64 layout, i32 batch, i32 step,
//     4 x u64 dropout stream, f64 loss_sum, i64 tokens, f64 seconds,
//     i32 rows of the carried state (0 at step 0), then per layer h and c
//     (matrices; a GRU's c is 0 x 0). See EpochPosition in train/trainer.hpp.
//   early stopping (version 2; version 1 loads with none): u64 validation,
//     f64 best_val (infinity while best_epoch is 0), i32 best_epoch,
//     i32 epochs_without_improvement, u8 best weights (0: none, 1: the
//     weights above, 2: stored: then one matrix per tensor in tensor order).
//     See EarlyStopping in train/trainer.hpp.
//   u64 FNV-1a checksum of every byte before it
// Written atomically (io/atomic_file.hpp), so a crash mid-save never
// destroys the previous checkpoint; temporary files of writers that died
// are removed by the next save. Weights and optimizer state are finite
// (save refuses NaN and infinity); a target that exists and is not a
// regular file (a directory, a device) is refused.
#include <stdexcept>
#include <string>
#include <vector>

#include "io/io_error.hpp"
#include "nn/model.hpp"
#include "nn/regressor.hpp"
#include "train/trainer.hpp"

namespace lmn {

// The bytes are not a valid checkpoint (maps to ValueError).
class CheckpointFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr std::uint32_t kCheckpointVersion = 2;  // writes 2, reads 1 and 2

struct CheckpointExtras {
  std::vector<std::string> vocabulary;
  std::string metadata;
};

void save_checkpoint(const std::string& path, const SequenceModel& model, const TrainingState& training,
                     const CheckpointExtras& extras);

void save_checkpoint(const std::string& path, const SequenceRegressor& model, const TrainingState& training,
                     const CheckpointExtras& extras);

template <class Net>
struct LoadedCheckpointOf {
  std::unique_ptr<Net> model;
  TrainingState training;
  CheckpointExtras extras;
};
using LoadedCheckpoint = LoadedCheckpointOf<SequenceModel>;
using LoadedRegressorCheckpoint = LoadedCheckpointOf<SequenceRegressor>;
// Each throws CheckpointFormatError naming the other loader when the file holds the other kind of model.
LoadedCheckpoint load_checkpoint(const std::string& path);
LoadedRegressorCheckpoint load_regressor_checkpoint(const std::string& path);

}  // namespace lmn
