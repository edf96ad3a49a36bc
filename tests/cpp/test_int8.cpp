// int8 generation: every kernel this CPU can run computes the exact integer
// sums; the int8 Stepper computes the model with its weights rounded per
// output row, up to the rounding of its inputs; batch rows match batch 1.
#include <cmath>
#include <cstdint>
#include <memory>
#include <tuple>
#include <vector>

#include "base/parallel.hpp"
#include "base/rng.hpp"
#include "base/simd.hpp"
#include "check.hpp"
#include "generate/int8_products.hpp"
#include "generate/stepper.hpp"
#include "nn/model.hpp"

using namespace lmn;

namespace {

constexpr int kLanes = simd::kVecWidth;
constexpr int kVocab = 9, kSteps = 8;

// With `outliers`, one weight in 29 is 6 times the others' range, as in
// trained models: rows rounded to steps of their largest weight then move the
// logits further than the inputs' rounding does, so a test can tell which
// weights were used.
SequenceModel random_model(CellType cell, int embedding, int hidden, bool outliers = false) {
  SequenceModel model({cell, kVocab, hidden, 2, embedding, 0.0f}, 3);
  Rng rng(8);
  for (const auto& p : model.parameters()) {
    for (std::size_t i = 0; i < p->value.size(); ++i) {
      p->value[i] = rng.uniform(-0.6f, 0.6f) / std::sqrt(hidden / 7.0f) * (outliers && i % 29 == 0 ? 6.0f : 1.0f);
    }
  }
  return model;
}

std::vector<int> tokens() { return {3, 0, 8, 7, 1, 5, 5, 2}; }

Matrix reference_logits(const SequenceModel& model) {
  ModelState state = model.zero_state(1);
  Rng unused(0);
  return model.forward(tokens(), kSteps, 1, state, false, unused, false)->value;
}

// The weights an int8 stepper reads (fc.weight, every W_hh, W_ih above the
// first layer), each output row rounded to int8 steps of its max |w| / 127.
// Joined rows [W_ih | W_hh] share one scale.
SequenceModel dequantised(const SequenceModel& model) {
  SequenceModel out = random_model(model.config().cell, model.config().embedding_dim, model.config().hidden_size);
  for (const auto& [name, p] : out.named_parameters()) p->value = model.parameter(name)->value;
  const std::string prefix = cell_name(model.config().cell) + ".";
  const auto round_rows = [](std::vector<Matrix*> parts) {
    for (int r = 0; r < parts[0]->rows(); ++r) {
      float largest = 0.0f;
      for (Matrix* m : parts)
        for (int k = 0; k < m->cols(); ++k) largest = std::max(largest, std::abs((*m)(r, k)));
      const float step = largest / 127.0f;
      for (Matrix* m : parts)
        for (int k = 0; k < m->cols(); ++k) (*m)(r, k) = std::round((*m)(r, k) / step) * step;
    }
  };
  for (int l = 0; l < model.config().num_layers; ++l) {
    Matrix* hh = &out.parameter(prefix + "weight_hh_l" + std::to_string(l))->value;
    Matrix* ih = &out.parameter(prefix + "weight_ih_l" + std::to_string(l))->value;
    if (l == 0) {
      round_rows({hh});
    } else {
      round_rows({ih, hh});
    }
  }
  round_rows({&out.parameter("fc.weight")->value});
  return out;
}

}  // namespace

// Weights in [-127, 127] (the quantiser's range) and any input bytes the
// kernels take ([0, 128]): uniform, or only the extremes (-127/127 weights,
// 0/128 inputs), where a kernel that saturates or overflows would show.
TEST(every_int8_kernel_computes_the_exact_sums) {
  Rng rng(1);
  for (bool extremes : {false, true}) {
    for (int rows : {1, 3, 4}) {
      for (int count : {1, 2, 3, 4, 5, 9}) {
        constexpr int kQuads = 37;
        std::vector<std::int8_t> block(static_cast<std::size_t>(kQuads) * rows * 4 * kLanes);
        for (auto& w : block) {
          w = extremes ? static_cast<std::int8_t>(rng.uniform(0.0f, 1.0f) < 0.5f ? -127 : 127)
                       : static_cast<std::int8_t>(static_cast<int>(rng.uniform(-127.99f, 127.99f)));
        }
        std::vector<std::vector<std::uint8_t>> x(count, std::vector<std::uint8_t>(4 * kQuads));
        std::vector<const std::uint8_t*> xs;
        for (auto& v : x) {
          for (auto& b : v) {
            b = extremes ? static_cast<std::uint8_t>(rng.uniform(0.0f, 1.0f) < 0.5f ? 0 : int8::kMaxInput)
                         : static_cast<std::uint8_t>(rng.uniform(0.0f, int8::kMaxInput + 0.99f));
          }
          xs.push_back(v.data());
        }
        for (int j1 : {kQuads - 1, kQuads}) {  // an odd and an even number of quads
          // expected: the plain definition, quads [3, j1) on top of a start value of 7
          std::vector<std::int32_t> expected(static_cast<std::size_t>(count) * rows * kLanes, 7);
          for (int q = 0; q < count; ++q)
            for (int r = 0; r < rows; ++r)
              for (int u = 0; u < kLanes; ++u)
                for (int j = 3; j < j1; ++j)
                  for (int i = 0; i < 4; ++i)
                    expected[(q * rows + r) * kLanes + u] +=
                        x[q][4 * j + i] * block[((static_cast<std::size_t>(j) * rows + r) * kLanes + u) * 4 + i];
          for (int8::Kernel kernel : int8::available_kernels()) {
            int8::set_kernel(kernel);
            std::vector<std::int32_t> acc(expected.size(), 7);
            int8::block_products(block.data(), rows, xs.data(), count, 3, j1, acc.data());
            CHECK(acc == expected);
          }
        }
      }
    }
  }
  int8::set_kernel(int8::available_kernels().back());
}

// A run of blocks in one call: block b's sums equal those of the block alone,
// at acc + b * count * rows * kLanes (with a gap between the blocks in memory).
TEST(a_run_of_blocks_sums_each_block_as_alone) {
  Rng rng(2);
  constexpr int kQuads = 19, kBlocks = 5;
  for (int rows : {1, 3, 4}) {
    for (int count : {1, 2, 5}) {
      const long block_bytes = static_cast<long>(kQuads) * rows * 4 * kLanes, stride = block_bytes + 64;
      std::vector<std::int8_t> blocks(static_cast<std::size_t>(stride) * kBlocks);
      for (auto& w : blocks) w = static_cast<std::int8_t>(static_cast<int>(rng.uniform(-127.99f, 127.99f)));
      std::vector<std::vector<std::uint8_t>> x(count, std::vector<std::uint8_t>(4 * kQuads));
      std::vector<const std::uint8_t*> xs;
      for (auto& v : x) {
        for (auto& b : v) b = static_cast<std::uint8_t>(rng.uniform(0.0f, int8::kMaxInput + 0.99f));
        xs.push_back(v.data());
      }
      const long per_block = static_cast<long>(count) * rows * kLanes;
      for (int8::Kernel kernel : int8::available_kernels()) {
        int8::set_kernel(kernel);
        std::vector<std::int32_t> expected(per_block * kBlocks, 5), acc(expected.size(), 5);
        for (int b = 0; b < kBlocks; ++b)
          int8::block_products(blocks.data() + b * stride, rows, xs.data(), count, 2, kQuads, &expected[b * per_block]);
        int8::block_products(blocks.data(), stride, kBlocks, rows, xs.data(), count, 2, kQuads, acc.data());
        CHECK(acc == expected);
      }
    }
  }
  int8::set_kernel(int8::available_kernels().back());
}

TEST(int8_stepper_computes_the_rounded_model) {
  for (CellType cell : {CellType::LSTM, CellType::GRU}) {
    for (auto [embedding, hidden, outliers] :
         {std::tuple{0, 7, false}, std::tuple{5, 30, false}, std::tuple{5, 300, false}, std::tuple{0, 7, true},
          std::tuple{5, 30, true}, std::tuple{5, 300, true}}) {
      const SequenceModel model = random_model(cell, embedding, hidden, outliers);
      const Matrix exact = reference_logits(model), expected = reference_logits(dequantised(model));
      const auto weights = std::make_shared<const StepperWeights>(model, WeightPrecision::Int8);
      CHECK(weights->weight_bytes == weights->weight_count);
      std::vector<float> first_kernel;
      for (int8::Kernel kernel : int8::available_kernels()) {
        int8::set_kernel(kernel);
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          Stepper stepper(weights);
          float worst = 0.0f, largest = 0.0f;
          double squares = 0.0, squares_vs_exact = 0.0;
          std::size_t i = 0;
          for (int t = 0; t < kSteps; ++t) {
            const float* logits = stepper.step(tokens()[t]);
            for (int v = 0; v < kVocab; ++v, ++i) {
              worst = std::max(worst, std::abs(logits[v] - expected(t, v)));
              largest = std::max(largest, std::abs(expected(t, v)));
              squares += std::pow(logits[v] - expected(t, v), 2);
              squares_vs_exact += std::pow(logits[v] - exact(t, v), 2);
              // every kernel and thread count: the same logits, bit for bit
              if (first_kernel.size() < i + 1) first_kernel.push_back(logits[v]);
              CHECK(logits[v] == first_kernel[i]);
            }
          }
          // Inputs are rounded to 1/128 of their largest value, so the
          // logits are near the rounded model's. With outliers the weights'
          // rounding outweighs the inputs', so over all logits they are also
          // nearer the rounded model's than the exact one's (without, input
          // rounding is as large: LSTM 300 units, RMS 3.8e-4 against 3.7e-4).
          if (!outliers) CHECK(worst < 0.005f);
          if (outliers) CHECK(worst < 0.025f * largest);  // measured 0.3-2.1% (logits up to 3)
          if (outliers) CHECK(squares < squares_vs_exact);
        }
      }
      set_num_threads(1);
      int8::set_kernel(int8::available_kernels().back());
      // batch rows: bit for bit batch 1
      constexpr int kRows = 7;
      Stepper batch(weights, kRows), alone(weights);
      std::vector<Stepper> singles;
      for (int n = 0; n < kRows; ++n) singles.emplace_back(weights);
      for (int t = 0; t < kSteps; ++t) {
        std::vector<int> feed(kRows);
        for (int n = 0; n < kRows; ++n) feed[n] = (tokens()[t] + n) % kVocab;
        const float* rows = batch.step(feed.data());
        for (int n = 0; n < kRows; ++n) {
          const float* single = singles[n].step(feed[n]);
          for (int v = 0; v < kVocab; ++v) CHECK(rows[n * batch.logits_stride() + v] == single[v]);
        }
      }
    }
  }
}

TEST_MAIN()
