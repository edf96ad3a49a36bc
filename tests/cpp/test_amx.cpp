// AMX tiles (amx_products.hpp), where this CPU and build have them: int8
// tiles compute the exact integer sums; bfloat16 tiles the products to
// float32 rounding, and each input's sums whatever the inputs beside it.
// Elsewhere the kernels refuse to run and say why.
#include <cmath>
#include <cstdint>
#include <vector>

#include "base/bfloat16.hpp"
#include "base/rng.hpp"
#include "check.hpp"
#include "generate/amx_products.hpp"
#include "generate/int8_products.hpp"

using namespace lmn;

namespace {

constexpr int kLanes = 16;                // a tile row of 32-bit sums
constexpr int kWords = 37, kBlocks = 3;   // word columns: two whole tiles from column 3, and 2 more
constexpr int kGap = 64, kInputGap = 12;  // bytes between blocks and between inputs, beyond their own

}  // namespace

TEST(without_tiles_the_kernels_say_why) {
  if (amx::enabled()) {
    CHECK(amx::unavailable_reason().empty());
    return;
  }
  std::int32_t acc[kLanes] = {};
  std::int8_t weights[4 * kLanes] = {};
  std::uint8_t x[4] = {};
  CHECK_THROWS(std::logic_error, amx::int8_products(weights, 0, 1, 1, x, 4, 1, 0, 1, acc), "not enabled");
}

// Weights in [-127, 127] and input bytes in [0, 128] (the quantiser's
// ranges), uniform or only the extremes; blocks apart and inputs apart in
// memory; counts past one tile of 16 inputs; a first column inside a tile.
TEST(int8_tiles_compute_the_exact_sums) {
  if (!amx::enabled()) return;  // (the test above checks why)
  Rng rng(4);
  for (bool extremes : {false, true}) {
    for (int rows : {1, 3, 4}) {
      for (int count : {1, 2, 7, 16, 17, 35}) {
        const long block_bytes = static_cast<long>(kWords) * rows * 4 * kLanes, stride = block_bytes + kGap;
        std::vector<std::int8_t> blocks(static_cast<std::size_t>(stride) * kBlocks);
        for (auto& w : blocks) {
          w = extremes ? static_cast<std::int8_t>(rng.uniform(0.0f, 1.0f) < 0.5f ? -127 : 127)
                       : static_cast<std::int8_t>(static_cast<int>(rng.uniform(-127.99f, 127.99f)));
        }
        const long x_stride = 4 * kWords + kInputGap;
        std::vector<std::uint8_t> x(static_cast<std::size_t>(x_stride) * count);
        for (auto& b : x) {
          b = extremes ? static_cast<std::uint8_t>(rng.uniform(0.0f, 1.0f) < 0.5f ? 0 : int8::kMaxInput)
                       : static_cast<std::uint8_t>(rng.uniform(0.0f, int8::kMaxInput + 0.99f));
        }
        // the plain definition, columns [3, kWords)
        std::vector<std::int32_t> expected(static_cast<std::size_t>(kBlocks) * count * rows * kLanes, 0);
        for (int b = 0; b < kBlocks; ++b)
          for (int n = 0; n < count; ++n)
            for (int r = 0; r < rows; ++r)
              for (int u = 0; u < kLanes; ++u)
                for (int j = 3; j < kWords; ++j)
                  for (int i = 0; i < 4; ++i)
                    expected[((static_cast<long>(b) * count + n) * rows + r) * kLanes + u] +=
                        x[n * x_stride + 4 * j + i] * blocks[b * stride + ((j * rows + r) * kLanes + u) * 4 + i];
        std::vector<std::int32_t> acc(expected.size(), 7);  // overwritten, not added to
        amx::int8_products(blocks.data(), stride, kBlocks, rows, x.data(), x_stride, count, 3, kWords, acc.data());
        CHECK(acc == expected);
      }
    }
  }
}

// bfloat16: within float32 rounding of the exact sums (the tile adds in its
// own order), and bit for bit the same for an input alone or in a batch
// (what keeps a sample of a batch the sample drawn alone).
TEST(bfloat16_tiles_sum_the_rounded_products_alike_for_any_batch) {
  if (!amx::enabled()) return;
  Rng rng(5);
  for (int rows : {1, 3, 4}) {
    for (int count : {2, 16, 19}) {
      const long block_len = static_cast<long>(kWords) * rows * 2 * kLanes, stride = block_len + kGap;
      std::vector<BFloat16> blocks(static_cast<std::size_t>(stride) * kBlocks);
      for (auto& w : blocks) w = to_bfloat16(rng.uniform(-1.0f, 1.0f));
      const long x_stride = kWords + kInputGap / 4;  // words
      std::vector<std::uint32_t> x(static_cast<std::size_t>(x_stride) * count);
      for (auto& word : x) {
        word = static_cast<std::uint32_t>(to_bfloat16(rng.uniform(-2.0f, 2.0f)).bits) |
               static_cast<std::uint32_t>(to_bfloat16(rng.uniform(-2.0f, 2.0f)).bits) << 16;
      }
      const auto half = [&](long n, int j, int i) {
        return to_float(BFloat16{static_cast<std::uint16_t>(x[n * x_stride + j] >> (16 * i))});
      };
      const long per_block = static_cast<long>(count) * rows * kLanes;
      std::vector<float> acc(per_block * kBlocks, 0.5f);  // overwritten, not added to
      amx::bf16_products(blocks.data(), stride, kBlocks, rows, x.data(), x_stride, count, 3, kWords, acc.data());
      for (int b = 0; b < kBlocks; ++b) {
        for (int n = 0; n < count; ++n) {
          for (int r = 0; r < rows; ++r) {
            for (int u = 0; u < kLanes; ++u) {
              double exact = 0.0, magnitude = 0.0;
              for (int j = 3; j < kWords; ++j) {
                for (int i = 0; i < 2; ++i) {
                  const double p =
                      double(half(n, j, i)) * to_float(blocks[b * stride + ((j * rows + r) * kLanes + u) * 2 + i]);
                  exact += p, magnitude += std::abs(p);
                }
              }
              const float got = acc[b * per_block + (static_cast<long>(n) * rows + r) * kLanes + u];
              CHECK(std::abs(got - exact) <= 1e-6 * magnitude);
            }
          }
        }
        // the last input alone: the same bits as in the batch
        std::vector<float> alone(rows * kLanes, 0.5f);
        amx::bf16_products(blocks.data() + b * stride, 0, 1, rows, x.data() + (count - 1) * x_stride, x_stride, 1, 3,
                           kWords, alone.data());
        for (int i = 0; i < rows * kLanes; ++i) CHECK(alone[i] == acc[b * per_block + (count - 1) * rows * kLanes + i]);
      }
    }
  }
}

TEST(no_columns_store_zero_sums) {
  // A GRU's first layer has no input columns: its input part's sums are
  // zero, stored like any others over what the buffer held.
  if (!amx::enabled()) return;
  std::vector<std::int8_t> weights(4 * kLanes * 3 * 16);
  std::vector<std::uint8_t> x(64 * 5);
  std::vector<std::int32_t> sums(2 * 5 * 3 * kLanes, 7);
  amx::int8_products(weights.data(), 4 * kLanes * 3, 2, 3, x.data(), 64, 5, 4, 4, sums.data());
  CHECK(sums == std::vector<std::int32_t>(sums.size(), 0));
  std::vector<BFloat16> bf16_weights(2 * kLanes * 3 * 16);
  std::vector<std::uint32_t> words(16 * 5);
  std::vector<float> bf16_sums(2 * 5 * 3 * kLanes, 0.5f);
  amx::bf16_products(bf16_weights.data(), 2 * kLanes * 3, 2, 3, words.data(), 16, 5, 0, 0, bf16_sums.data());
  CHECK(bf16_sums == std::vector<float>(bf16_sums.size(), 0.0f));
}

TEST_MAIN()
