// Checkpoints: exact round trip, atomic replacement, and clear errors for
// missing, foreign, truncated and corrupted files.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "check.hpp"
#include "io/checkpoint.hpp"

using namespace lmn;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

TEST(round_trip_keeps_everything) {
  SequenceModel model({CellType::GRU, 6, 5, 2, 3, 0.25f}, 7);
  TrainingState state;
  TrainConfig c;
  c.epochs = 1;
  c.batch_size = 2;
  c.seq_len = 4;
  fit(model, state, c, {{0, 1, 2, 3, 4, 5, 0, 1}}, {});
  save_checkpoint("ckpt_roundtrip.bin", model, state, {{"a", "b", "_", "60", "c", "d"}, "{\"k\": 1}"});
  LoadedCheckpoint loaded = load_checkpoint("ckpt_roundtrip.bin");
  std::remove("ckpt_roundtrip.bin");
  CHECK(loaded.model->config().cell == CellType::GRU && loaded.model->config().num_layers == 2);
  CHECK(loaded.model->config().dropout == 0.25f);
  CHECK(loaded.extras.vocabulary.size() == 6 && loaded.extras.vocabulary[3] == "60");
  CHECK(loaded.extras.metadata == "{\"k\": 1}");
  for (std::size_t i = 0; i < model.parameters().size(); ++i)
    CHECK(max_abs(subtract(model.parameters()[i]->value, loaded.model->parameters()[i]->value)) == 0.0f);
  CHECK(loaded.training.epochs_done == 1);
  CHECK(loaded.training.optimizer && loaded.training.optimizer->steps() == state.optimizer->steps());
  CHECK(loaded.training.optimizer->buffers().size() == state.optimizer->buffers().size());
}

TEST(damaged_files_give_clear_errors) {
  SequenceModel model({CellType::LSTM, 4, 3, 1, 0, 0.0f}, 1);
  save_checkpoint("ckpt_good.bin", model, TrainingState{}, {});
  const std::string good = slurp("ckpt_good.bin");
  CHECK_THROWS(IoError, load_checkpoint("no_such_dir/missing.bin"), "missing.bin");
  spit("ckpt_bad.bin", "hello, this is not a checkpoint at all");
  CHECK_THROWS(CheckpointFormatError, load_checkpoint("ckpt_bad.bin"), "not an LSTMiniNet checkpoint");
  spit("ckpt_bad.bin", good.substr(0, good.size() / 2));
  CHECK_THROWS(CheckpointFormatError, load_checkpoint("ckpt_bad.bin"), "checksum");
  spit("ckpt_bad.bin", good.substr(0, 10));
  CHECK_THROWS(CheckpointFormatError, load_checkpoint("ckpt_bad.bin"), "truncated");
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  spit("ckpt_bad.bin", flipped);
  CHECK_THROWS(CheckpointFormatError, load_checkpoint("ckpt_bad.bin"), "checksum");
  std::string future = good;
  future[8] = 99;
  spit("ckpt_bad.bin", future);
  CHECK_THROWS(CheckpointFormatError, load_checkpoint("ckpt_bad.bin"), "version 99");
  std::remove("ckpt_bad.bin");
  std::remove("ckpt_good.bin");
}

TEST(failed_save_keeps_the_previous_file) {
  SequenceModel model({CellType::LSTM, 4, 3, 1, 0, 0.0f}, 1);
  save_checkpoint("ckpt_keep.bin", model, TrainingState{}, {});
  const std::string before = slurp("ckpt_keep.bin");
  CHECK_THROWS(IoError, save_checkpoint("no_such_dir/ckpt.bin", model, TrainingState{}, {}), "no_such_dir");
  CHECK(slurp("ckpt_keep.bin") == before);
  std::remove("ckpt_keep.bin");
}

TEST(non_finite_weights_are_never_saved) {
  SequenceModel model({CellType::LSTM, 4, 3, 1, 0, 0.0f}, 1);
  save_checkpoint("ckpt_finite.bin", model, TrainingState{}, {});
  const std::string before = slurp("ckpt_finite.bin");
  model.parameter("fc.bias")->value[1] = std::nanf("");
  CHECK_THROWS(std::invalid_argument, save_checkpoint("ckpt_finite.bin", model, TrainingState{}, {}),
               "'fc.bias' contains NaN");
  CHECK(slurp("ckpt_finite.bin") == before);
  std::remove("ckpt_finite.bin");
}

TEST_MAIN()
