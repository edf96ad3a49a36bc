#pragma once
// Generation: the whole per-token loop runs here, graph-free.
#include <cstdint>
#include <memory>
#include <vector>

#include "generate/stepper.hpp"
#include "nn/model.hpp"

namespace lmn {

struct SampleConfig {
  int length = 100;          // tokens to generate after the primer
  float temperature = 1.0f;  // 0: greedy (argmax)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off (nucleus sampling below 1)
  std::uint64_t seed = 0;
  int stop_token = -1;  // stop after sampling it; -1: never
  WeightPrecision precision = WeightPrecision::Float32;
};
void validate_sample_config(const SampleConfig& config, int vocab_size);

// Feeds the primer (at least one token), then samples `length` tokens.
// Returns only the new tokens. The first form builds the stepper weights
// in config.precision; the second reuses built ones (stepper_cache.hpp).
std::vector<int> generate(const SequenceModel& model, const std::vector<int>& primer, const SampleConfig& config);
std::vector<int> generate(std::shared_ptr<const StepperWeights> weights, const std::vector<int>& primer,
                          const SampleConfig& config);

// Samples primers.size() sequences in one pass (a batched Stepper: each
// weight read serves every row). Row i feeds primers[i] and draws from its
// own random stream Rng(seeds[i]), so it is exactly the sequence generate()
// gives for primers[i] with config.seed = seeds[i]; config.seed is unused.
// A row ends at `length` tokens or at its stop token, on its own. Threads
// share the rows (split_rows) or each step's weights.
std::vector<std::vector<int>> generate_batch(std::shared_ptr<const StepperWeights> weights,
                                             const std::vector<std::vector<int>>& primers,
                                             const std::vector<std::uint64_t>& seeds, const SampleConfig& config);

// How generate_batch's threads share a batch: each thread a group of rows
// of its own, reading every weight, with no meeting per token (the weights
// must stay in each core's L2: see RowSplitRule), or every step split by
// weights. Rows, or Weights, for every batch: for tests and benchmarks. One
// choice for the process.
enum class BatchSplit { Auto, Rows, Weights };
void set_batch_split(BatchSplit split);
// Auto's rule on this CPU: weights of up to any_batch_bytes go by rows at
// any batch (half the L2 per core: each thread reads every weight per token,
// as cheap as its share while they stay in L2 beside the rest), up to
// large_batch_bytes (the whole L2) from large_batch_rows rows per thread
// (Intel Xeon family 6 model 167, char LSTM bfloat16, 1.7 MB of a 2 MB L2:
// 8 rows per thread 1.3x the weight split, 4 rows 0.94x).
struct RowSplitRule {
  long any_batch_bytes, large_batch_bytes;
  int large_batch_rows;
};
RowSplitRule row_split_rule();
// Whether `rows` rows on `threads` threads go by rows.
bool split_rows(const StepperWeights& weights, int rows, int threads);

// The seed of sample `index` of a batch drawn with `seed`: a SplitMix64
// hash of both, kept below 2^63. generate() with it draws that sample alone.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t index);

// Picks a token from one row of logits with temperature, top-k and top-p.
int sample_token(const float* logits, int vocab_size, const SampleConfig& config, Rng& rng,
                 std::vector<std::pair<float, int>>& scratch);

}  // namespace lmn
