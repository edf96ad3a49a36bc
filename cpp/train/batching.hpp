#pragma once
// From token sequences of different lengths to training batches: each
// sequence is cut into windows of up to seq_len input/target pairs, and
// windows are stacked, time-major and padded, into batches.
#include <cstddef>
#include <vector>

#include "base/rng.hpp"
#include "ops/ops.hpp"

namespace lmn {

using Sequences = std::vector<std::vector<int>>;

// A batch in time-major layout, padded; targets of padding are kIgnoreIndex.
struct Batch {
  int T = 0, B = 0;
  std::vector<int> inputs, targets;  // (T*B), element [t*B + b]
  long counted = 0;                  // targets that are not padding
};
struct Window {
  int sequence = 0, start = 0, length = 0;  // `length` input/target pairs
};
std::vector<Window> make_windows(const Sequences& data, int seq_len);
Batch make_batch(const Sequences& data, const std::vector<Window>& windows, std::size_t first, int batch_size);
// Shuffles windows in place (Fisher-Yates with our own RNG: the same order on every platform).
void shuffle(std::vector<Window>& windows, Rng& rng);
// The tokens of steps [t0, t0 + n) of a time-major batch.
std::vector<int> time_slice(const std::vector<int>& v, int B, int t0, int n);

}  // namespace lmn
