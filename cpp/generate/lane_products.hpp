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
// stay in L1 and run every batch row over a chunk before the next one, a
// few rows at a time sharing each register of weights: the sums, and so
// the logits, are bit for bit those of one row alone.
#include "base/simd.hpp"

namespace lmn::lanes {

constexpr int kLanes = simd::kVecWidth;

template <int Rows>
constexpr int kChains = Rows >= 4 ? 2 : 8 / Rows;

// Rows that share each register of weights: as many as the registers hold
// (accumulators R * chains * Rows), 32 registers with AVX-512, 16 below.
// (Every Rows here gives at least one.)
template <int Rows>
constexpr int kRowsAtOnce = (simd::kVecBytes == 64 ? 24 : 12) / (kChains<Rows> * Rows);

template <int Rows>
struct Partials {
  simd::vfloat part[kChains<Rows>][Rows];
};

// Adds columns [k, k1) of a float32 block times x[q] to sums[q], for R
// inputs at once (each weight register loaded once serves all R). k - (the
// range's first column) must be a multiple of kChains<Rows>; columns past
// the last whole group of chains go to chain 0. Each input's sums are the
// same whatever R.
template <int Rows, int R = 1>
inline void accumulate(const float* block, const float* const* x, int k, int k1, Partials<Rows>* const* sums) {
  constexpr int C = kChains<Rows>;
  simd::vfloat p[R][C][Rows];
  for (int q = 0; q < R; ++q)
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < Rows; ++r) p[q][c][r] = sums[q]->part[c][r];
  for (; k + C <= k1; k += C) {
    for (int c = 0; c < C; ++c) {
      const float* column = block + static_cast<long>(k + c) * Rows * kLanes;
      for (int r = 0; r < Rows; ++r) {
        simd::vfloat weights = simd::load(column + r * kLanes);
        if constexpr (R > 1) simd::keep_in_register(weights);
        for (int q = 0; q < R; ++q) p[q][c][r] += x[q][k + c] * weights;
      }
    }
  }
  for (; k < k1; ++k) {
    const float* column = block + static_cast<long>(k) * Rows * kLanes;
    for (int r = 0; r < Rows; ++r) {
      const simd::vfloat weights = simd::load(column + r * kLanes);
      for (int q = 0; q < R; ++q) p[q][0][r] += x[q][k] * weights;
    }
  }
  for (int q = 0; q < R; ++q)
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < Rows; ++r) sums[q]->part[c][r] = p[q][c][r];
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
