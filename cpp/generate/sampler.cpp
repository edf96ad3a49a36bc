#include "generate/sampler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "base/interrupt.hpp"
#include "base/parallel.hpp"
#include "generate/stepper.hpp"
#include "train/thread_tuner.hpp"

namespace lmn {

namespace {
// Tokens per timed block: long enough to time (tens of microseconds at
// least), short enough to switch soon.
constexpr std::size_t kTunedTokens = 256;
}  // namespace

void validate_sample_config(const SampleConfig& c, int vocab_size) {
  if (c.length < 0) throw std::invalid_argument("length must be >= 0, got " + std::to_string(c.length));
  if (!(c.temperature >= 0.0f) || !std::isfinite(c.temperature)) {
    throw std::invalid_argument("temperature must be >= 0, got " + std::to_string(c.temperature));
  }
  if (c.top_k < 0) throw std::invalid_argument("top_k must be positive (or None), got " + std::to_string(c.top_k));
  if (!(c.top_p > 0.0f && c.top_p <= 1.0f)) {
    throw std::invalid_argument("top_p must be in (0, 1], got " + std::to_string(c.top_p));
  }
  if (c.stop_token >= vocab_size) {
    throw std::out_of_range("stop token " + std::to_string(c.stop_token) + " is outside the vocabulary [0, " +
                            std::to_string(vocab_size) + ")");
  }
}

int sample_token(const float* logits, int V, const SampleConfig& c, Rng& rng,
                 std::vector<std::pair<float, int>>& scratch) {
  if (c.temperature == 0.0f) return static_cast<int>(std::max_element(logits, logits + V) - logits);
  // Candidates (logit, token). Top-k and top-p need them sorted, best first,
  // to cut the tail; plain sampling keeps vocabulary order (no sort: it was
  // a quarter of a small model's generation time).
  scratch.clear();
  for (int v = 0; v < V; ++v) scratch.emplace_back(logits[v], v);
  const int k = c.top_k > 0 ? std::min(c.top_k, V) : V;
  if (k < V || c.top_p < 1.0f) {
    std::partial_sort(scratch.begin(), scratch.begin() + k, scratch.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    scratch.resize(k);
  }
  float top = scratch[0].first;
  for (const auto& candidate : scratch) top = std::max(top, candidate.first);
  double total = 0.0;
  for (auto& [weight, token] : scratch) {
    weight = std::exp((weight - top) / c.temperature);
    total += weight;
  }
  if (c.top_p < 1.0f) {
    double kept = 0.0;
    std::size_t n = 0;
    while (n < scratch.size() && kept < c.top_p * total) kept += scratch[n++].first;
    scratch.resize(std::max<std::size_t>(n, 1));
    total = kept > 0.0 ? kept : scratch[0].first;
  }
  double u = rng.uniform_double() * total;
  for (const auto& [weight, token] : scratch) {
    u -= weight;
    if (u < 0.0) return token;
  }
  return scratch.back().second;  // rounding left u a hair above zero
}

std::vector<int> generate(const SequenceModel& model, const std::vector<int>& primer, const SampleConfig& config) {
  const int V = model.config().vocab_size;
  validate_sample_config(config, V);
  if (primer.empty()) throw std::invalid_argument("generate: the primer needs at least one token");
  model.check_tokens(primer);
  Rng rng(config.seed);
  Stepper stepper(model, config.precision);
  std::vector<std::pair<float, int>> scratch;
  scratch.reserve(V);
  for (std::size_t i = 0; i + 1 < primer.size(); ++i) stepper.step(primer[i]);
  // Grows as tokens come (no reserve: `length` may be far more than anyone
  // waits for; Ctrl-C stops the loop).
  std::vector<int> out;
  int current = primer.back();
  // Tokens go in timed blocks: with a core busy elsewhere the stepper's
  // per-layer barriers stall as training's do, and the tuner then samples
  // on one thread (the tokens are the same either way).
  ThreadTuner tuner(active_threads(), TunedWork::Generation);
  bool stopped = false;
  while (static_cast<int>(out.size()) < config.length && !stopped) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t before = out.size();
    {
      ThreadLimit limit(tuner.threads());
      const std::size_t block_end = std::min<std::size_t>(config.length, before + kTunedTokens);
      while (out.size() < block_end && !stopped) {
        poll_interrupt();
        current = sample_token(stepper.step(current), V, config, rng, scratch);
        out.push_back(current);
        stopped = current == config.stop_token;
      }
    }
    tuner.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                 static_cast<long>(out.size() - before));
  }
  return out;
}

}  // namespace lmn
