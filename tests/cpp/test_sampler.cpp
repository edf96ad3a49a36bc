// Sampling: greedy, seeded determinism, and that top-k / top-p / temperature
// shape the distribution as specified.
#include <chrono>
#include <cmath>
#include <map>

#include <pthread.h>
#include <sched.h>

#include "base/cpu_info.hpp"
#include "base/parallel.hpp"
#include "check.hpp"
#include "generate/sampler.hpp"
#include "generate/stepper.hpp"
#include "train/thread_tuner.hpp"

using namespace lmn;

namespace {
std::map<int, int> histogram(const float* logits, int V, const SampleConfig& c, int draws) {
  Rng rng(c.seed);
  std::vector<std::pair<float, int>> scratch;
  std::map<int, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[sample_token(logits, V, c, rng, scratch)];
  return counts;
}
}  // namespace

TEST(temperature_zero_is_argmax) {
  const float logits[] = {0.1f, 2.0f, -1.0f, 1.9f};
  SampleConfig c;
  c.temperature = 0.0f;
  CHECK(histogram(logits, 4, c, 20)[1] == 20);
}

TEST(sampling_follows_the_softmax) {
  const float logits[] = {0.0f, std::log(3.0f)};  // probabilities 1/4, 3/4
  SampleConfig c;
  const auto counts = histogram(logits, 2, c, 40000);
  CHECK_NEAR(counts.at(1) / 40000.0, 0.75, 0.01);
  c.temperature = 2.0f;  // p1 ∝ sqrt(3): 0.634
  CHECK_NEAR(histogram(logits, 2, c, 40000).at(1) / 40000.0, std::sqrt(3.0) / (1 + std::sqrt(3.0)), 0.01);
}

TEST(top_k_and_top_p_cut_the_tail) {
  const float logits[] = {3.0f, 2.0f, 1.0f, 0.0f, -1.0f};
  SampleConfig c;
  c.top_k = 2;
  auto counts = histogram(logits, 5, c, 5000);
  CHECK(counts.size() == 2 && counts.count(0) && counts.count(1));
  c.top_k = 0;
  c.top_p = 0.5f;  // p0 = 0.64 already reaches 0.5
  counts = histogram(logits, 5, c, 2000);
  CHECK(counts.size() == 1 && counts.count(0));
  c.top_p = 0.9f;  // 0.64 + 0.23 = 0.87 < 0.9, so three tokens
  counts = histogram(logits, 5, c, 20000);
  CHECK(counts.size() == 3);
}

TEST(generation_is_seeded_and_respects_stop_token) {
  SequenceModel model({CellType::LSTM, 6, 8, 2, 0, 0.0f}, 1);
  SampleConfig c;
  c.length = 50;
  c.seed = 12;
  const auto a = generate(model, {1, 2}, c), b = generate(model, {1, 2}, c);
  CHECK(a == b && a.size() == 50);
  c.seed = 13;
  CHECK(generate(model, {1, 2}, c) != a);
  c.seed = 12;
  c.stop_token = a[10];
  const auto stopped = generate(model, {1, 2}, c);
  CHECK(stopped.size() <= 11 && stopped.back() == a[10]);
}

TEST(generation_is_the_same_at_every_thread_count) {
  // A model large enough for the stepper to split (step_threads), so a team
  // of several threads steps and samples token after token in one region;
  // 20 tokens: thread 0 runs the output layer alone, 300: the team splits it.
  for (auto [cell, vocab] :
       {std::pair{CellType::LSTM, 20}, std::pair{CellType::GRU, 20}, std::pair{CellType::LSTM, 300}}) {
    SequenceModel model({cell, vocab, 64, 2, 8, 0.0f}, 3);
    for (WeightPrecision precision : {WeightPrecision::Float32, WeightPrecision::BFloat16, WeightPrecision::Int8}) {
      auto weights = std::make_shared<const StepperWeights>(model, precision);
      for (int stop_token : {-1, 7}) {  // with 7, rows end early, each on its own
        SampleConfig c;
        c.length = 400;
        c.stop_token = stop_token;
        const std::vector<std::vector<int>> primers = {{1, 2, 3}, {4}, {5, 6, 8, 9, 10}, {11, 12}};
        const std::vector<std::uint64_t> seeds = {1, 2, 3, 4};
        std::vector<std::vector<int>> first;
        for (int threads : {1, 2, 3}) {
          set_num_threads(threads);
          CHECK(Stepper(weights, 4).step_threads() == threads);
          // A thread per group of rows (what Auto chooses for so small a
          // model: 80 KB), or the team splitting each step's weights.
          if (vocab == 20) CHECK(split_rows(*weights, 4, threads) == (threads > 1));
          for (BatchSplit split : {BatchSplit::Rows, BatchSplit::Weights}) {
            set_batch_split(split);
            ThreadTuner::forget_learnt();  // each count starts at the setting
            const auto samples = generate_batch(weights, primers, seeds, c);
            if (first.empty()) first = samples;
            CHECK(samples == first);
          }
          set_batch_split(BatchSplit::Auto);
        }
        set_num_threads(1);
        for (const auto& sample : first) CHECK(stop_token == 7 ? sample.back() == 7 : sample.size() == 400);
      }
    }
  }
}

TEST(batches_of_models_beyond_the_l2_cache_split_weights) {
  // 4.5M weights, 18 MB in float32: each thread reading all of them per
  // token would double the memory traffic of a step.
  SequenceModel model({CellType::LSTM, 20, 512, 3, 8, 0.0f}, 3);
  const StepperWeights weights(model, WeightPrecision::Float32);
  CHECK(weights.weight_bytes > 4 * l2_cache_bytes());
  CHECK(!split_rows(weights, 16, 2));
  set_batch_split(BatchSplit::Rows);
  CHECK(split_rows(weights, 16, 2));
  set_batch_split(BatchSplit::Auto);
  // Between half the L2 and all of it: by rows from 8 rows per thread.
  const RowSplitRule rule = row_split_rule();
  CHECK(rule.any_batch_bytes == l2_cache_bytes() / 2 && rule.large_batch_bytes == l2_cache_bytes());
  CHECK(rule.large_batch_rows == 8);
  const int hidden = static_cast<int>(std::sqrt(0.75 * static_cast<double>(l2_cache_bytes()) / 16.0));
  const StepperWeights mid(SequenceModel({CellType::LSTM, 4, hidden, 1, 4, 0.0f}, 3), WeightPrecision::Float32);
  CHECK(mid.weight_bytes > l2_cache_bytes() / 2 && mid.weight_bytes <= l2_cache_bytes());
  CHECK(split_rows(mid, 16, 2) && !split_rows(mid, 15, 2));
  set_batch_split(BatchSplit::Rows);
  CHECK(!split_rows(weights, 1, 2) && !split_rows(weights, 16, 1));  // nothing to split
  set_batch_split(BatchSplit::Auto);
}

#ifdef _OPENMP
TEST(generation_with_two_threads_on_one_core_is_the_same_and_moves_to_one_thread) {
  // Two team threads pinned to one core (as the scheduler may place them
  // beside a busy process) can only take turns: the call must still finish
  // with the same tokens, and leave the tuner on one thread (the barrier
  // marks the team crowded, test_thread_tuner.cpp; the timing agrees).
  SequenceModel model({CellType::LSTM, 20, 64, 2, 8, 0.0f}, 3);
  auto weights = std::make_shared<const StepperWeights>(model, WeightPrecision::Float32);
  SampleConfig c;
  c.length = 400;
  set_num_threads(1);
  const auto alone = generate_batch(weights, {{1, 2, 3}}, {5}, c);
  set_num_threads(2);
  ThreadTuner::forget_learnt();
  cpu_set_t own[2], one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  int pinned = 0;
  run_team(2, [&](const Team& team) {  // the pool threads the next team reuses
    pthread_getaffinity_np(pthread_self(), sizeof own[team.thread], &own[team.thread]);
    if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0) {
#pragma omp atomic
      ++pinned;
    }
  });
  CHECK(pinned == 2);
  const auto crowded = generate_batch(weights, {{1, 2, 3}}, {5}, c);
  run_team(
      2, [&](const Team& team) { pthread_setaffinity_np(pthread_self(), sizeof own[team.thread], &own[team.thread]); });
  CHECK(crowded == alone);
  CHECK(ThreadTuner(2, TunedWork::Generation).threads() == 1);  // what the call learnt
  // Two rows, a group each at two threads, where one thread was learnt for
  // batches split by rows: that thread steps both rows in one group.
  set_num_threads(1);
  const auto two_alone = generate_batch(weights, {{1, 2, 3}, {4}}, {5, 6}, c);
  set_num_threads(2);
  ThreadTuner(2, TunedWork::GenerationByRows).record_crowded();
  CHECK(ThreadTuner(2, TunedWork::GenerationByRows).threads() == 1);
  CHECK(generate_batch(weights, {{1, 2, 3}, {4}}, {5, 6}, c) == two_alone);
  ThreadTuner::forget_learnt();
  set_num_threads(1);
}
#endif

TEST(rows_regroup_between_blocks_as_they_finish) {
  // Primers 2,000 tokens apart end rows of 3,000 sampled tokens 2,000 steps
  // apart, while the next row samples: between the timed blocks of one
  // call the running rows regroup (finished ones leave; the others move
  // between groups with their states), and every sample still equals the
  // one drawn alone, for both splits.
  SequenceModel model({CellType::LSTM, 20, 64, 2, 8, 0.0f}, 3);
  auto weights = std::make_shared<const StepperWeights>(model, WeightPrecision::Float32);
  SampleConfig c;
  c.length = 3000;
  std::vector<std::vector<int>> primers;
  std::vector<std::uint64_t> seeds;
  for (int n = 0; n < 5; ++n) {
    primers.emplace_back();
    for (int t = 0; t <= 2000 * n; ++t) primers.back().push_back((7 * t + n) % 20);
    seeds.push_back(10 + n);
  }
  std::vector<std::vector<int>> alone;
  for (int n = 0; n < 5; ++n) alone.push_back(generate_batch(weights, {primers[n]}, {seeds[n]}, c)[0]);
  set_num_threads(2);
  for (BatchSplit split : {BatchSplit::Rows, BatchSplit::Weights}) {
    set_batch_split(split);
    ThreadTuner::forget_learnt();
    const auto start = std::chrono::steady_clock::now();
    CHECK(generate_batch(weights, primers, seeds, c) == alone);
    // 11,000 steps (25-40 ms on the Intel Xeon, family 6 model 167) span
    // several 5 ms blocks, so rows did regroup.
    CHECK(std::chrono::steady_clock::now() - start > std::chrono::milliseconds(10));
  }
  set_batch_split(BatchSplit::Auto);
  ThreadTuner::forget_learnt();
  set_num_threads(1);
}

TEST(bad_sampling_arguments_are_named) {
  SequenceModel model({CellType::LSTM, 6, 8, 1, 0, 0.0f}, 1);
  SampleConfig c;
  CHECK_THROWS(std::invalid_argument, generate(model, {}, c), "primer");
  CHECK_THROWS(std::out_of_range, generate(model, {9}, c), "token 9");
  c.temperature = -1.0f;
  CHECK_THROWS(std::invalid_argument, generate(model, {1}, c), "temperature");
  c.temperature = 1.0f;
  c.top_p = 0.0f;
  CHECK_THROWS(std::invalid_argument, generate(model, {1}, c), "top_p");
}

TEST_MAIN()
