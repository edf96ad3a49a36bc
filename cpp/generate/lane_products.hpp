#pragma once
// The stepper's products in "lane blocks": kLanes output rows side by side,
// one register per input column, so no horizontal sums are needed. A block
// holds Rows such registers per column (the gates of kLanes hidden units),
// column by column, and the loops read it as one sequential stream.
//
// A product keeps kChains<Rows> partial sums per register (enough
// independent multiply-add chains to hide the FMA latency); chain c takes
// the columns k0 + c, k0 + c + kChains, ... The partial sums live in the
// caller's Partials, so a batched step can cut the columns into chunks that
// stay in L1 and run every batch row over a chunk before the next one: the
// sums, and so the logits, are bit for bit those of one row alone.
#include "base/bfloat16.hpp"
#include "base/simd.hpp"

namespace lmn::lanes {

constexpr int kLanes = simd::kVecWidth;

template <int Rows>
constexpr int kChains = Rows >= 4 ? 2 : 8 / Rows;

template <int Rows>
struct Partials {
  simd::vfloat part[kChains<Rows>][Rows];
};

// Adds columns [k, k1) of a float32 block times x. k - (the range's first
// column) must be a multiple of kChains<Rows>; columns past the last whole
// group of chains go to chain 0.
template <int Rows>
inline void accumulate(const float* block, const float* x, int k, int k1, Partials<Rows>& sums) {
  constexpr int C = kChains<Rows>;
  Partials<Rows> p = sums;
  for (; k + C <= k1; k += C) {
    for (int c = 0; c < C; ++c) {
      const float xk = x[k + c];
      const float* column = block + static_cast<long>(k + c) * Rows * kLanes;
      for (int r = 0; r < Rows; ++r) p.part[c][r] += xk * simd::load(column + r * kLanes);
    }
  }
  for (; k < k1; ++k) {
    const float* column = block + static_cast<long>(k) * Rows * kLanes;
    for (int r = 0; r < Rows; ++r) p.part[0][r] += x[k] * simd::load(column + r * kLanes);
  }
  sums = p;
}

// The same for a bfloat16 block whose columns come in pairs (see
// paired_bfloat16 in stepper.cpp); k and k1 are even. Chain c takes the
// same columns as above; a last odd pair goes to chains 0 and 1.
template <int Rows>
inline void accumulate(const BFloat16* block, const float* x, int k, int k1, Partials<Rows>& sums) {
  constexpr int C = kChains<Rows>;
  Partials<Rows> p = sums;
  const auto add_pair = [&](int k, simd::vfloat* even, simd::vfloat* odd) {
    const BFloat16* pair = block + static_cast<long>(k) * Rows * kLanes;
    for (int r = 0; r < Rows; ++r) {
      simd::vfloat low, high;
      simd::load_pairs(pair + 2 * r * kLanes, low, high);
      even[r] += x[k] * low;
      odd[r] += x[k + 1] * high;
    }
  };
  for (; k + C <= k1; k += C)
    for (int c = 0; c < C; c += 2) add_pair(k + c, p.part[c], p.part[c + 1]);
  for (; k < k1; k += 2) add_pair(k, p.part[0], p.part[1]);
  sums = p;
}

// The registers' totals: the chains summed in order.
template <int Rows>
inline void total(const Partials<Rows>& sums, simd::vfloat* acc) {
  for (int r = 0; r < Rows; ++r) {
    acc[r] = sums.part[0][r];
    for (int c = 1; c < kChains<Rows>; ++c) acc[r] += sums.part[c][r];
  }
}

}  // namespace lmn::lanes
