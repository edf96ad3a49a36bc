// Generation's graph-free Stepper against the reference sequence forward:
// float32 weights give the same logits at any thread count; bfloat16
// weights and inputs give products of the rounded values, and logits near
// those of the model with its weights rounded.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "base/bfloat16.hpp"
#include "base/cpu_info.hpp"
#include "base/parallel.hpp"
#include "base/rng.hpp"
#include "check.hpp"
#include "generate/bf16_products.hpp"
#include "generate/lane_products.hpp"
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
  // Hidden 300 is ~7 MB of float32 weights, beyond a core's L2 even split
  // over two threads, so its rows also ask for the next chunk ahead
  // (block_products in stepper.cpp).
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

TEST(rows_carry_their_state_to_another_stepper) {
  // generate_batch regroups rows mid-way: a row taken into another Stepper
  // (here after an odd number of steps, so the two read opposite buffers)
  // goes on exactly as in the one it left, in every precision.
  for (WeightPrecision precision : {WeightPrecision::Float32, WeightPrecision::BFloat16, WeightPrecision::Int8}) {
    for_each_model([&](const SequenceModel& model) {
      const auto weights = std::make_shared<const StepperWeights>(model, precision);
      Stepper three(weights, 3), two(weights, 2);
      const auto feed = [](int t, int n) { return (tokens()[t] + 3 * n) % kVocab; };
      for (int t = 0; t < 3; ++t) {
        const int rows[] = {feed(t, 0), feed(t, 1), feed(t, 2)};
        three.step(rows);
      }
      two.take_row(0, three, 2);
      two.take_row(1, three, 0);
      for (int t = 3; t < kSteps; ++t) {
        const int rows[] = {feed(t, 0), feed(t, 1), feed(t, 2)}, moved[] = {rows[2], rows[0]};
        const float* stayed = three.step(rows);
        const float* carried = two.step(moved);
        for (int v = 0; v < kVocab; ++v) {
          CHECK(carried[v] == stayed[2 * three.logits_stride() + v]);
          CHECK(carried[two.logits_stride() + v] == stayed[v]);
        }
      }
      CHECK_THROWS(std::out_of_range, two.take_row(2, three, 0), "row 2 of 2");
      Stepper other(std::make_shared<const StepperWeights>(model, precision), 2);
      CHECK_THROWS(std::invalid_argument, other.take_row(0, three, 0), "different weights");
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

namespace {

// Every bfloat16 kernel this CPU runs, 1 input at a time and as many at
// once as it takes (R, then fewer for the last), over two chunks of pairs
// (the second longer than the portable kernel's span of 64 pairs and ending
// in a partial group of chains): sums of the rounded weights times the
// inputs rounded to bfloat16, and the same bits whatever the kernel (two
// multiply-adds per pair in the instruction's order) and the count.
template <int Rows>
void check_bfloat16_products() {
  constexpr int kLanes = simd::kVecWidth, kPairs = 137, kSplit = 64, N = 17;  // N: more than any kernel takes
  Rng rng(Rows);
  std::vector<BFloat16> block(static_cast<std::size_t>(kPairs) * Rows * 2 * kLanes);
  for (auto& w : block) w = to_bfloat16(rng.uniform(-1.0f, 1.0f));
  std::vector<float> x[N];
  std::vector<std::uint32_t> words[N];
  for (int q = 0; q < N; ++q) {
    for (int k = 0; k < 2 * kPairs; ++k) x[q].push_back(rng.uniform(-1.0f, 1.0f));
    words[q].resize(kPairs);
    bf16::round_pairs(x[q].data(), 2 * kPairs, words[q].data());
    for (int p = 0; p < kPairs; ++p) {
      CHECK(words[q][p] == (to_bfloat16(x[q][2 * p]).bits | std::uint32_t{to_bfloat16(x[q][2 * p + 1]).bits} << 16));
    }
  }
  std::vector<float> first;  // the first kernel's sums, 1 input at a time
  const std::vector<bf16::Kernel> kernels = bf16::available_kernels();
  for (std::size_t mode = 0; mode <= kernels.size(); ++mode) {  // each kernel alone, then the default choice
    if (mode < kernels.size()) {
      bf16::set_kernel(kernels[mode]);
    } else {
      bf16::use_default_kernels();
    }
    for (bool one_at_a_time : {true, false}) {
      for (int q0 = 0, taken = 0; q0 < N; q0 += taken) {
        const int count = one_at_a_time ? 1 : N - q0;
        lanes::Partials<Rows> sums[N] = {};
        const std::uint32_t* xs[N];
        lanes::Partials<Rows>* sum_ptrs[N];
        for (int q = 0; q < count; ++q) xs[q] = words[q0 + q].data(), sum_ptrs[q] = &sums[q];
        taken = bf16::accumulate<Rows>(block.data(), xs, count, 0, kSplit, sum_ptrs);
        CHECK(taken >= 1 && taken <= count);
        if (!one_at_a_time && q0 == 0) CHECK(taken > 1);  // several at once
        CHECK(bf16::accumulate<Rows>(block.data(), xs, taken, kSplit, kPairs, sum_ptrs) == taken);
        for (int q = 0; q < taken; ++q) {
          simd::vfloat total[Rows];
          lanes::total<Rows>(sums[q], total);
          for (int r = 0; r < Rows; ++r) {
            for (int u = 0; u < kLanes; ++u) {
              double expected = 0.0, unrounded = 0.0;
              for (int k = 0; k < 2 * kPairs; ++k) {
                const double w = to_float(block[((k / 2 * Rows + r) * kLanes + u) * 2 + k % 2]);
                expected += w * to_float(to_bfloat16(x[q0 + q][k]));
                unrounded += w * x[q0 + q][k];
              }
              CHECK_NEAR(total[r][u], expected, 2e-5);
              CHECK(std::abs(expected - unrounded) > 0.0);
              const std::size_t i = ((q0 + q) * Rows + r) * kLanes + u;
              if (first.size() <= i) first.resize(i + 1, std::numeric_limits<float>::quiet_NaN());
              if (std::isnan(first[i])) first[i] = total[r][u];
              CHECK(total[r][u] == first[i]);
            }
          }
        }
      }
    }
  }
}

}  // namespace

TEST(bfloat16_products_round_weights_and_inputs) {
  check_bfloat16_products<1>();
  check_bfloat16_products<3>();
  check_bfloat16_products<4>();
}

TEST(bfloat16_stepper_computes_the_rounded_model) {
  for_each_model([](const SequenceModel& model) {
    // The weights a bfloat16 Stepper reads are rounded, and so are the
    // inputs of its products; biases and the first layer's input table stay
    // float32. The rounded inputs are the difference from the model with
    // rounded weights (bfloat16_products_round_weights_and_inputs holds the
    // products to them exactly).
    const SequenceModel rounded =
        random_model(model.config().cell, model.config().embedding_dim, model.config().hidden_size);
    for (const auto& [name, p] : rounded.named_parameters()) {
      const bool read_rounded = name == "fc.weight" || name.find("weight_hh") != std::string::npos ||
                                (name.find("weight_ih") != std::string::npos && name.back() != '0');
      if (!read_rounded) continue;
      for (std::size_t i = 0; i < p->value.size(); ++i) p->value[i] = to_float(to_bfloat16(p->value[i]));
    }
    const Matrix exact = reference_logits(model), expected = reference_logits(rounded);
    const auto weights = std::make_shared<const StepperWeights>(model, WeightPrecision::BFloat16);
    std::vector<float> first;
    for (bf16::Kernel kernel : bf16::available_kernels()) {
      bf16::set_kernel(kernel);
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        Stepper stepper(weights);
        float worst_vs_exact = 0.0f;
        for (int t = 0; t < kSteps; ++t) {
          const float* step_logits = stepper.step(tokens()[t]);
          for (int v = 0; v < kVocab; ++v) {
            CHECK_NEAR(step_logits[v], expected(t, v), 3e-3);
            worst_vs_exact = std::max(worst_vs_exact, std::abs(step_logits[v] - exact(t, v)));
            // every kernel and thread count: the same logits, bit for bit
            const std::size_t i = static_cast<std::size_t>(t) * kVocab + v;
            if (first.size() <= i) first.push_back(step_logits[v]);
            CHECK(step_logits[v] == first[i]);
          }
        }
        CHECK(worst_vs_exact > 0.0f);   // the rounding is real...
        CHECK(worst_vs_exact < 2e-2f);  // ...and small
      }
    }
    bf16::use_default_kernels();
    set_num_threads(1);
  });
}

TEST(bfloat16_batches_go_to_the_portable_kernel_where_the_instruction_is_slow) {
  // Intel's cores issue vdpbf16ps once per two cycles, two FMAs per cycle:
  // there it serves one input, and several go to the portable kernel.
  const bf16::Kernel fastest = bf16::available_kernels().back();
  const bool intel = cpu_info().vendor == "GenuineIntel";
  CHECK(bf16::active_kernel() == fastest);
  CHECK(bf16::batch_kernel() == (intel ? bf16::Kernel::Portable : fastest));
  bf16::set_kernel(fastest);  // a kernel set is used for every count
  CHECK(bf16::active_kernel() == fastest && bf16::batch_kernel() == fastest);
  bf16::set_kernel(bf16::Kernel::Portable);
  CHECK(bf16::active_kernel() == bf16::Kernel::Portable && bf16::batch_kernel() == bf16::Kernel::Portable);
  bf16::use_default_kernels();
  CHECK(bf16::active_kernel() == fastest);
  CHECK(bf16::batch_kernel() == (intel ? bf16::Kernel::Portable : fastest));
}

TEST_MAIN()
