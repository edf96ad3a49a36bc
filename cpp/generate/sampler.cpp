#include "generate/sampler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "base/interrupt.hpp"
#include "base/parallel.hpp"
#include "generate/stepper.hpp"
#include "train/thread_tuner.hpp"

namespace lmn {

namespace {
// Steps go to the thread tuner in blocks of this much time: long enough to
// time, short enough that a block at a losing thread count costs little
// (beside a busy process a step of a two-thread team can take milliseconds
// instead of microseconds; blocks of 256 steps made the first generate()
// there several times slower than one thread).
constexpr auto kBlockTime = std::chrono::milliseconds(5);

// As Python prints it (inf, nan, -1, 0.5), not std::to_string's "-1.000000".
std::string format_float(float v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(v));
  return text;
}
}  // namespace

void validate_sample_config(const SampleConfig& c, int vocab_size) {
  if (c.length < 0) throw std::invalid_argument("length must be >= 0, got " + std::to_string(c.length));
  if (!(c.temperature >= 0.0f) || !std::isfinite(c.temperature)) {
    throw std::invalid_argument("temperature must be a finite number >= 0, got " + format_float(c.temperature));
  }
  if (c.top_k < 0) throw std::invalid_argument("top_k must be positive (or None), got " + std::to_string(c.top_k));
  if (!(c.top_p > 0.0f && c.top_p <= 1.0f)) {
    throw std::invalid_argument("top_p must be in (0, 1], got " + format_float(c.top_p));
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

std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t index) {
  const auto mix = [](std::uint64_t z) {  // SplitMix64's finalizer
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  return mix(mix(seed) + index) >> 1;
}

std::vector<int> generate(const SequenceModel& model, const std::vector<int>& primer, const SampleConfig& config) {
  return generate(std::make_shared<const StepperWeights>(model, config.precision), primer, config);
}

std::vector<int> generate(std::shared_ptr<const StepperWeights> weights, const std::vector<int>& primer,
                          const SampleConfig& config) {
  return generate_batch(std::move(weights), {primer}, {config.seed}, config)[0];
}

std::vector<std::vector<int>> generate_batch(std::shared_ptr<const StepperWeights> weights,
                                             const std::vector<std::vector<int>>& primers,
                                             const std::vector<std::uint64_t>& seeds, const SampleConfig& config) {
  const int V = weights->V;
  validate_sample_config(config, V);
  if (primers.empty()) throw std::invalid_argument("generate: no primers (a batch needs at least one sample)");
  if (seeds.size() != primers.size()) {
    throw std::invalid_argument("generate: " + std::to_string(seeds.size()) + " seeds for " +
                                std::to_string(primers.size()) + " primers");
  }
  const int N = static_cast<int>(primers.size());
  for (int n = 0; n < N; ++n) {
    if (primers[n].empty()) {
      throw std::invalid_argument("generate: primer " + std::to_string(n) + " needs at least one token");
    }
    for (int token : primers[n]) {
      if (token < 0 || token >= V) {
        throw std::out_of_range("generate: primer " + std::to_string(n) + " has token " + std::to_string(token) +
                                ", outside the vocabulary [0, " + std::to_string(V) + ")");
      }
    }
  }
  std::vector<std::vector<int>> out(N);
  if (config.length == 0) return out;
  std::vector<Rng> rngs;
  for (int n = 0; n < N; ++n) rngs.emplace_back(seeds[n]);
  Stepper stepper(std::move(weights), N);
  const int stride = stepper.logits_stride();
  std::vector<std::pair<float, int>> scratch;
  scratch.reserve(V);
  // Step t feeds row n its primer's token t, then its last sampled one; a
  // row samples from step (its primer's length - 1) on until it is done,
  // and a finished row keeps stepping (its logits unused) while others run.
  // The outputs grow as tokens come (no reserve: `length` may be far more
  // than anyone waits for; Ctrl-C stops the loop).
  std::vector<int> feed(N);
  std::vector<char> done(N, 0);
  int running = N;
  std::size_t t = 0;
  // Steps go in timed blocks: with a core busy elsewhere the stepper's
  // per-layer barriers stall as training's do, and the tuner then samples
  // on one thread (the tokens are the same either way). Blocks end by the
  // clock, so their tokens vary: a step's size for the tuner is the work of
  // one token, rows x weights.
  ThreadTuner tuner(stepper.step_threads(), TunedWork::Generation,
                    static_cast<long>(N) * stepper.weights().weight_count);
  // Samples step t's logits for the rows that sample at t.
  const auto sample_rows = [&](const float* logits) {
    for (int n = 0; n < N; ++n) {
      if (done[n] || t + 1 < primers[n].size()) continue;
      const int token = sample_token(logits + static_cast<long>(n) * stride, V, config, rngs[n], scratch);
      out[n].push_back(token);
      if (token == config.stop_token || static_cast<int>(out[n].size()) == config.length) {
        done[n] = 1;
        --running;
      }
    }
    ++t;
  };
  std::exception_ptr failure;  // Ctrl-C (or no memory) inside a team: rethrown after it
  while (running > 0 && !failure) {
    const auto start = std::chrono::steady_clock::now();
    long stepped = 0;  // row steps: the tuner's measure of work
    bool more = true, crowded = false;
    // One team for the whole block: a parallel region per token cost more
    // than a small model's step (1.3 us to start and end one on the Zen 3
    // VM). Thread 0 samples, decides and feeds; the others wait for it. A
    // crowded team (two of its threads on one core, parallel.hpp) ends the
    // block at once, and the tuner moves to one thread.
    run_team(tuner.threads(), [&](const Team& team) {
      const float* logits = nullptr;  // of the last step, not yet sampled
      for (;;) {
        if (team.thread == 0) {
          try {
            if (logits) sample_rows(logits);
            more = running > 0 && std::chrono::steady_clock::now() - start < kBlockTime && !team.crowded();
            if (more) poll_interrupt();
          } catch (...) {
            failure = std::current_exception();
            more = false;
          }
          for (int n = 0; more && n < N; ++n) feed[n] = t < primers[n].size() ? primers[n][t] : out[n].back();
          if (more) stepped += N;
        }
        team.barrier();  // `more` and the feed are set
        if (!more) {
          if (team.thread == 0) crowded = team.crowded();
          return;
        }
        logits = stepper.step(feed.data(), team);
      }
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (crowded) {
      tuner.record_crowded();
    } else {
      tuner.record(seconds, stepped);
    }
  }
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace lmn
