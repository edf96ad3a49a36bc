#include "train/batching.hpp"

#include <algorithm>
#include <utility>

namespace lmn {

std::vector<Window> make_windows(const Sequences& data, int seq_len) {
  std::vector<Window> windows;
  for (std::size_t s = 0; s < data.size(); ++s) {
    const int pairs = static_cast<int>(data[s].size()) - 1;  // input/target pairs
    for (int start = 0; start < pairs; start += seq_len)
      windows.push_back({static_cast<int>(s), start, std::min(seq_len, pairs - start)});
  }
  return windows;
}

Batch make_batch(const Sequences& data, const std::vector<Window>& windows, std::size_t first, int batch_size) {
  Batch batch;
  batch.B = static_cast<int>(std::min<std::size_t>(batch_size, windows.size() - first));
  for (int b = 0; b < batch.B; ++b) batch.T = std::max(batch.T, windows[first + b].length);
  batch.inputs.assign(static_cast<std::size_t>(batch.T) * batch.B, 0);
  batch.targets.assign(batch.inputs.size(), kIgnoreIndex);
  for (int b = 0; b < batch.B; ++b) {
    const Window& w = windows[first + b];
    const std::vector<int>& seq = data[w.sequence];
    for (int t = 0; t < w.length; ++t) {
      batch.inputs[static_cast<std::size_t>(t) * batch.B + b] = seq[w.start + t];
      batch.targets[static_cast<std::size_t>(t) * batch.B + b] = seq[w.start + t + 1];
    }
    batch.counted += w.length;
  }
  return batch;
}

void shuffle(std::vector<Window>& windows, Rng& rng) {
  for (std::size_t i = windows.size(); i > 1; --i) std::swap(windows[i - 1], windows[rng.below(i)]);
}

std::vector<int> time_slice(const std::vector<int>& v, int B, int t0, int n) {
  return {v.begin() + static_cast<long>(t0) * B, v.begin() + static_cast<long>(t0 + n) * B};
}

}  // namespace lmn
