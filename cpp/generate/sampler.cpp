#include "generate/sampler.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "base/cpu_info.hpp"
#include "base/fast_math.hpp"
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

std::atomic<BatchSplit>& batch_split_setting() {
  static std::atomic<BatchSplit> setting{BatchSplit::Auto};
  return setting;
}

// Rows of the batch that step together in one Stepper.
struct RowGroup {
  RowGroup(std::shared_ptr<const StepperWeights> weights, std::vector<int> batch_rows)
      : rows(std::move(batch_rows)), stepper(std::move(weights), static_cast<int>(rows.size())), feed(rows.size()) {}
  std::vector<int> rows;  // the batch's row of each Stepper row
  Stepper stepper;
  std::vector<int> feed;
};

// The per-token loop of generate_batch over one group of all rows (the
// team splits each step's weights) or one group per thread. Between timed
// blocks the rows regroup: finished rows leave (a row that drew its stop
// token no longer costs a step), and groups follow the thread count the
// tuner picks (beside a busy process, one thread stepping two groups of 8
// rows read every weight twice per token: char LSTM int8 81-85% of the
// speed of one group of 16; Intel Xeon, family 6 model 167).
class RowSampler {
 public:
  RowSampler(const std::vector<std::vector<int>>& primers, const std::vector<std::uint64_t>& seeds,
             const SampleConfig& config, int V, std::vector<std::vector<int>>& out)
      : primers_(primers), config_(config), V_(V), out_(out), steps_(primers.size(), 0), done_(primers.size(), 0) {
    for (std::uint64_t seed : seeds) rngs_.emplace_back(seed);
  }

  // One Stepper for every row, each step split over a team by weights.
  void run_shared(const std::shared_ptr<const StepperWeights>& weights);
  // Up to `threads` Steppers of consecutive rows, a group's steps on one thread.
  void run_groups(const std::shared_ptr<const StepperWeights>& weights, int threads);

 private:
  // `count` groups of the running rows in batch order, each row carrying
  // its state over from the group that stepped it so far (none at first).
  void regroup(std::vector<RowGroup>& groups, int count, const std::shared_ptr<const StepperWeights>& weights) const {
    std::vector<int> running;
    for (int n = 0; n < static_cast<int>(done_.size()); ++n)
      if (!done_[n]) running.push_back(n);
    const int rows = static_cast<int>(running.size());
    count = std::min(count, rows);
    std::vector<RowGroup> next;
    next.reserve(count);
    for (int g = 0; g < count; ++g) {
      next.emplace_back(weights,
                        std::vector<int>(running.begin() + rows * g / count, running.begin() + rows * (g + 1) / count));
    }
    // Where each row stands now: (group, Stepper row).
    std::vector<std::pair<int, int>> at(done_.size(), {-1, -1});
    for (int g = 0; g < static_cast<int>(groups.size()); ++g)
      for (int i = 0; i < static_cast<int>(groups[g].rows.size()); ++i) at[groups[g].rows[i]] = {g, i};
    for (RowGroup& group : next) {
      for (int i = 0; i < static_cast<int>(group.rows.size()); ++i) {
        const auto [g, from] = at[group.rows[i]];
        if (g >= 0) group.stepper.take_row(i, groups[g].stepper, from);
      }
    }
    groups = std::move(next);
  }
  // Whether groups still hold a finished row, or number other than `count`.
  bool needs_regroup(const std::vector<RowGroup>& groups, int count) const {
    int rows = 0;
    for (const RowGroup& group : groups) rows += static_cast<int>(group.rows.size());
    const int running = running_rows();
    return rows != running || static_cast<int>(groups.size()) != std::min(count, running);
  }
  int running_rows() const { return static_cast<int>(std::count(done_.begin(), done_.end(), 0)); }
  // A row's step t feeds its primer's token t, then its last sampled one.
  void set_feed(RowGroup& g) const {
    for (std::size_t i = 0; i < g.rows.size(); ++i) {
      const int n = g.rows[i];
      g.feed[i] = steps_[n] < primers_[n].size() ? primers_[n][steps_[n]] : out_[n].back();
    }
  }
  // Samples the logits of the group's rows that sample at this step (from
  // step (its primer's length - 1) on until it is done; a finished row
  // keeps stepping, its logits unused, until the next regroup), then counts
  // the step. Returns whether any row of the group still runs. The outputs
  // grow as tokens come (no reserve: `length` may be far more than anyone
  // waits for; Ctrl-C stops the loop).
  bool sample(RowGroup& g, const float* logits, std::vector<std::pair<float, int>>& scratch) {
    const int stride = g.stepper.logits_stride();
    bool any = false;
    for (std::size_t i = 0; i < g.rows.size(); ++i) {
      const int n = g.rows[i];
      if (!done_[n] && steps_[n] + 1 >= primers_[n].size()) {
        const int token = sample_token(logits + static_cast<long>(i) * stride, V_, config_, rngs_[n], scratch);
        out_[n].push_back(token);
        if (token == config_.stop_token || static_cast<int>(out_[n].size()) == config_.length) done_[n] = 1;
      }
      ++steps_[n];
      any = any || !done_[n];
    }
    return any;
  }

  const std::vector<std::vector<int>>& primers_;
  const SampleConfig& config_;
  const int V_;
  std::vector<std::vector<int>>& out_;
  std::vector<Rng> rngs_;
  std::vector<std::size_t> steps_;  // per row: steps taken
  std::vector<char> done_;          // per row (a thread writes only its group's)
};

void RowSampler::run_shared(const std::shared_ptr<const StepperWeights>& weights) {
  const int N = static_cast<int>(primers_.size());
  std::vector<RowGroup> groups;
  regroup(groups, 1, weights);
  std::vector<std::pair<float, int>> scratch;
  scratch.reserve(V_);
  // Steps go in timed blocks: with a core busy elsewhere the stepper's
  // per-layer barriers stall as training's do, and the tuner then samples
  // on one thread (the tokens are the same either way). Blocks end by the
  // clock, so their tokens vary: a step's size for the tuner is the work of
  // one token, rows x weights.
  ThreadTuner tuner(groups[0].stepper.step_threads(), TunedWork::Generation,
                    static_cast<long>(N) * weights->weight_count);
  std::exception_ptr failure;  // Ctrl-C (or no memory) inside a team: rethrown after it
  while (running_rows() > 0 && !failure) {
    if (needs_regroup(groups, 1)) regroup(groups, 1, weights);
    RowGroup& all = groups[0];
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
            more = logits == nullptr || sample(all, logits, scratch);
            more = more && std::chrono::steady_clock::now() - start < kBlockTime && !team.crowded();
            if (more) poll_interrupt();
          } catch (...) {
            failure = std::current_exception();
            more = false;
          }
          if (more) {
            set_feed(all);
            stepped += static_cast<long>(all.rows.size());
          }
        }
        team.barrier();  // `more` and the feed are set
        if (!more) {
          if (team.thread == 0) crowded = team.crowded();
          return;
        }
        logits = all.stepper.step(all.feed.data(), team);
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
}

void RowSampler::run_groups(const std::shared_ptr<const StepperWeights>& weights, int threads) {
  const int N = static_cast<int>(primers_.size());
  std::vector<RowGroup> groups;
  // As run_shared's blocks, but a thread steps its group token after token
  // with no meeting until the block's end (a group's rows need nothing from
  // another's), and ends by its own clock.
  ThreadTuner tuner(threads, TunedWork::GenerationByRows, static_cast<long>(N) * weights->weight_count);
  std::vector<std::exception_ptr> failures(threads);
  std::vector<std::vector<std::pair<float, int>>> scratch(threads);  // each thread's for sample_token
  for (auto& candidates : scratch) candidates.reserve(V_);
  std::atomic<bool> failed{false};
  while (running_rows() > 0 && !failed.load()) {
    if (needs_regroup(groups, tuner.threads())) regroup(groups, tuner.threads(), weights);
    const auto start = std::chrono::steady_clock::now();
    std::atomic<long> stepped{0};
    run_team(static_cast<int>(groups.size()), [&](const Team& team) {
      RowGroup& rows = groups[team.thread];
      long steps = 0;
      try {
        for (bool more = true; more;) {
          set_feed(rows);
          more = sample(rows, rows.stepper.step(rows.feed.data(), Team{0, 1, nullptr}), scratch[team.thread]);
          steps += static_cast<long>(rows.rows.size());
          if (team.thread == 0) poll_interrupt();
          more =
              more && std::chrono::steady_clock::now() - start < kBlockTime && !failed.load(std::memory_order_relaxed);
        }
      } catch (...) {
        failures[team.thread] = std::current_exception();
        failed = true;
      }
      stepped += steps;
    });
    tuner.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), stepped.load());
  }
  for (const auto& failure : failures)
    if (failure) std::rethrow_exception(failure);
}

}  // namespace

void set_batch_split(BatchSplit split) { batch_split_setting() = split; }

bool split_rows(const StepperWeights& weights, int rows, int threads) {
  if (rows < 2 || threads < 2) return false;
  switch (batch_split_setting().load()) {
    case BatchSplit::Weights: return false;
    case BatchSplit::Rows: return true;
    default: {
      const RowSplitRule rule = row_split_rule();
      return weights.weight_bytes <= rule.any_batch_bytes ||
             (weights.weight_bytes <= rule.large_batch_bytes && rows >= rule.large_batch_rows * threads);
    }
  }
}

RowSplitRule row_split_rule() {
  const long l2 = l2_cache_bytes();
  return {l2 / 2, l2, 8};
}

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
  const int k = c.top_k > 0 ? std::min(c.top_k, V) : V;
  if (k == V && c.top_p >= 1.0f) {
    // Every token, in vocabulary order: the weights in one SIMD loop (libm's
    // expf, a call per token, was a fifth of a melody model's generation
    // of 16 samples), the total in four running sums (one chain of 38-65
    // dependent additions took as long again), both the same on every
    // level that fuses multiply-adds.
    thread_local std::vector<float> weights;
    weights.resize(V);
    float top = logits[0];
    for (int v = 1; v < V; ++v) top = std::max(top, logits[v]);
    float* w = weights.data();
#pragma omp simd
    for (int v = 0; v < V; ++v) w[v] = fast::exp((logits[v] - top) / c.temperature);
    double sums[4] = {};
    for (int v = 0; v < V; ++v) sums[v % 4] += w[v];
    double u = rng.uniform_double() * ((sums[0] + sums[1]) + (sums[2] + sums[3]));
    for (int v = 0; v < V; ++v) {
      u -= w[v];
      if (u < 0.0) return v;
    }
    return V - 1;  // rounding left u a hair above zero
  }
  // Candidates (logit, token), sorted best first to cut the tail.
  scratch.clear();
  for (int v = 0; v < V; ++v) scratch.emplace_back(logits[v], v);
  std::partial_sort(scratch.begin(), scratch.begin() + k, scratch.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  scratch.resize(k);
  const float top = scratch[0].first;  // sorted: the largest
  double total = 0.0;
  for (auto& [weight, token] : scratch) {
    weight = fast::exp((weight - top) / c.temperature);
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
  RowSampler rows(primers, seeds, config, V, out);
  const int threads = active_threads();
  if (split_rows(*weights, N, threads)) {
    rows.run_groups(weights, std::min(threads, N));
  } else {
    rows.run_shared(weights);
  }
  return out;
}

}  // namespace lmn
