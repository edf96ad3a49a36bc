#include "generate/stepper_loss.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "base/interrupt.hpp"

namespace lmn {

StepperLoss stepper_loss(std::shared_ptr<const StepperWeights> weights, const std::vector<std::vector<int>>& sequences,
                         int batch) {
  const int V = weights->V;
  std::vector<const std::vector<int>*> todo;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    for (int token : sequences[i]) {
      if (token < 0 || token >= V) {
        throw std::out_of_range("sequence " + std::to_string(i) + " has token " + std::to_string(token) +
                                ", outside the vocabulary [0, " + std::to_string(V) + ")");
      }
    }
    if (sequences[i].size() >= 2) todo.push_back(&sequences[i]);
  }
  if (todo.empty()) throw std::invalid_argument("generation_loss: no sequence has two or more tokens");
  // Longest first, so the sequences stepping together have similar lengths.
  std::stable_sort(todo.begin(), todo.end(), [](auto* a, auto* b) { return a->size() > b->size(); });
  StepperLoss out;
  double total = 0.0;
  for (std::size_t first = 0; first < todo.size(); first += batch) {
    const int N = static_cast<int>(std::min<std::size_t>(batch, todo.size() - first));
    Stepper stepper(weights, N);
    const std::size_t steps = todo[first]->size() - 1;
    std::vector<int> feed(N);
    for (std::size_t t = 0; t < steps; ++t) {
      poll_interrupt();
      for (int n = 0; n < N; ++n) {
        const auto& s = *todo[first + n];
        feed[n] = t < s.size() ? s[t] : 0;  // finished rows idle on token 0
      }
      const float* logits = stepper.step(feed.data());
      for (int n = 0; n < N; ++n) {
        const auto& s = *todo[first + n];
        if (t + 1 >= s.size()) continue;
        const float* row = logits + static_cast<long>(n) * stepper.logits_stride();
        const float top = *std::max_element(row, row + V);
        double sum = 0.0;
        for (int v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - top));
        total += std::log(sum) + top - row[s[t + 1]];
        ++out.tokens;
      }
    }
  }
  out.loss = total / static_cast<double>(out.tokens);
  return out;
}

}  // namespace lmn
