#pragma once
// Generation: the whole per-token loop runs here, graph-free.
#include <cstdint>
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
// Returns only the new tokens.
std::vector<int> generate(const SequenceModel& model, const std::vector<int>& primer, const SampleConfig& config);

// Picks a token from one row of logits with temperature, top-k and top-p.
int sample_token(const float* logits, int vocab_size, const SampleConfig& config, Rng& rng,
                 std::vector<std::pair<float, int>>& scratch);

}  // namespace lmn
