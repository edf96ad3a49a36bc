// Generation's graph-free Stepper against the reference sequence forward:
// float32 weights give the same logits at any thread count; bfloat16
// weights give the logits of the model with its weights rounded.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "base/bfloat16.hpp"
#include "base/parallel.hpp"
#include "check.hpp"
#include "generate/stepper.hpp"
#include "nn/model.hpp"
#include "tensor/gemm.hpp"

using namespace lmn;

namespace {

constexpr int kVocab = 8, kSteps = 6;

SequenceModel random_model(CellType cell, int embedding, int hidden) {
  SequenceModel model({cell, kVocab, hidden, 3, embedding, 0.0f}, 3);
  Rng rng(8);
  for (const auto& p : model.parameters())  // non-zero biases too
    for (std::size_t i = 0; i < p->value.size(); ++i) p->value[i] = rng.uniform(-0.6f, 0.6f) / std::sqrt(hidden / 7.0f);
  return model;
}

std::vector<int> tokens() { return {3, 0, 7, 7, 1, 5}; }

// Logits (kSteps, kVocab) of the reference path, one sequence.
Matrix reference_logits(const SequenceModel& model) {
  ModelState state = model.zero_state(1);
  Rng unused(0);
  return model.forward(tokens(), kSteps, 1, state, false, unused, false)->value;
}

// The configurations: one-hot and embedded input; hidden 300 means many
// lane blocks, a partial last one, and enough weights for two threads.
template <class Check>
void for_each_model(Check check) {
  for (CellType cell : {CellType::LSTM, CellType::GRU})
    for (auto [embedding, hidden] : {std::pair{0, 7}, std::pair{5, 7}, std::pair{5, 300}})
      check(random_model(cell, embedding, hidden));
}

}  // namespace

TEST(stepper_matches_sequence_forward) {
  for_each_model([](const SequenceModel& model) {
    const Matrix logits = reference_logits(model);
    Stepper stepper(model);
    std::vector<float> one_thread;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (int round = 0; round < 2; ++round) {  // reset() starts over from the zero state
        for (int t = 0; t < kSteps; ++t) {
          const float* step_logits = stepper.step(tokens()[t]);
          for (int v = 0; v < kVocab; ++v) {
            CHECK_NEAR(step_logits[v], logits(t, v), 2e-6);
            if (threads == 1 && round == 0) one_thread.push_back(step_logits[v]);
            if (threads == 2) CHECK(step_logits[v] == one_thread[t * kVocab + v]);  // bit for bit
          }
        }
        stepper.reset();
      }
    }
    set_num_threads(1);
    CHECK_THROWS(std::out_of_range, stepper.step(kVocab), "token 8");
  });
}

TEST(batched_rows_are_bit_for_bit_single_rows) {
  // Rows read the weights chunk by chunk (hidden 300: many chunks, and 40
  // rows: two row groups), yet each row's logits are those of a batch-1
  // stepper fed the same tokens, in both precisions and at 1 and 2 threads.
  for (WeightPrecision precision : {WeightPrecision::Float32, WeightPrecision::BFloat16}) {
    for_each_model([&](const SequenceModel& model) {
      const auto weights = std::make_shared<const StepperWeights>(model, precision);
      constexpr int kRows = 40;
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        Stepper batch(weights, kRows);
        std::vector<Stepper> alone;
        for (int n = 0; n < kRows; ++n) alone.emplace_back(weights);
        for (int t = 0; t < kSteps; ++t) {
          std::vector<int> feed(kRows);
          for (int n = 0; n < kRows; ++n) feed[n] = (tokens()[t] + n) % kVocab;
          const float* rows = batch.step(feed.data());
          for (int n = 0; n < kRows; ++n) {
            const float* single = alone[n].step(feed[n]);
            for (int v = 0; v < kVocab; ++v) CHECK(rows[n * batch.logits_stride() + v] == single[v]);
          }
        }
      }
      set_num_threads(1);
    });
  }
}

TEST(bfloat16_rounds_to_nearest_even) {
  const auto round_trip = [](float x) { return to_float(to_bfloat16(x)); };
  CHECK(round_trip(1.0f) == 1.0f);
  CHECK(round_trip(-3.5f) == -3.5f);
  CHECK(round_trip(1.0f + 0x1p-8f) == 1.0f);                       // halfway: down to the even neighbour
  CHECK(round_trip(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);         // halfway: up to the even neighbour
  CHECK(round_trip(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);  // past halfway: up
  CHECK(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
  CHECK(round_trip(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  // pairs: low halves are the even entries, high halves the odd ones
  alignas(64) BFloat16 packed[2 * simd::kVecWidth];
  for (int i = 0; i < 2 * simd::kVecWidth; ++i) packed[i] = to_bfloat16(0.37f * i - 2.0f);
  simd::vfloat low, high;
  simd::load_pairs(packed, low, high);
  for (int i = 0; i < simd::kVecWidth; ++i) {
    CHECK(low[i] == to_float(packed[2 * i]));
    CHECK(high[i] == to_float(packed[2 * i + 1]));
  }
}

TEST(bfloat16_stepper_computes_the_rounded_model) {
  for_each_model([](const SequenceModel& model) {
    // The weights a bfloat16 Stepper reads are rounded; biases and the first
    // layer's input table stay float32.
    const SequenceModel rounded =
        random_model(model.config().cell, model.config().embedding_dim, model.config().hidden_size);
    for (const auto& [name, p] : rounded.named_parameters()) {
      const bool read_rounded = name == "fc.weight" || name.find("weight_hh") != std::string::npos ||
                                (name.find("weight_ih") != std::string::npos && name.back() != '0');
      if (!read_rounded) continue;
      for (std::size_t i = 0; i < p->value.size(); ++i) p->value[i] = to_float(to_bfloat16(p->value[i]));
    }
    const Matrix exact = reference_logits(model), expected = reference_logits(rounded);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      Stepper stepper(model, WeightPrecision::BFloat16);
      float worst_vs_exact = 0.0f;
      for (int t = 0; t < kSteps; ++t) {
        const float* step_logits = stepper.step(tokens()[t]);
        for (int v = 0; v < kVocab; ++v) {
          CHECK_NEAR(step_logits[v], expected(t, v), 2e-6);
          worst_vs_exact = std::max(worst_vs_exact, std::abs(step_logits[v] - exact(t, v)));
        }
      }
      CHECK(worst_vs_exact > 0.0f);   // the rounding is real...
      CHECK(worst_vs_exact < 2e-2f);  // ...and small
    }
    set_num_threads(1);
  });
}

TEST_MAIN()
