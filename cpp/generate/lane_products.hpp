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
// with one chain at a time: R * Rows sums, R broadcast inputs and the
// weights, of 32 registers with AVX-512, 16 below. (On AVX2 a fourth row
// of 3 gates spilled a sum to the stack: 0.6x the speed.)
template <int Rows>
constexpr int kRowsAtOnce = (simd::kVecBytes == 64 ? 32 - 1 : 16 - 1) / (Rows + 1);

// Runs f.template operator()<n>() for n = the most inputs, at most R, of
// the `count` (>= 1) waiting, and returns n: a group's last inputs go
// together too, with a kernel compiled for their number.
template <int R, class F>
inline int at_most(int count, F&& f) {
  if constexpr (R > 1) {
    if (count < R) return at_most<R - 1>(count, f);
  }
  f.template operator()<R>();
  return R;
}

template <int Rows>
struct Partials {
  simd::vfloat part[kChains<Rows>][Rows];
};

// Cache lines [first, last) of each column `ahead` floats on (a later chunk
// of the block), asked for as accumulate reads the column.
struct Prefetch {
  long ahead = 0;
  int first = 0, last = 0;
};

// Adds columns [k, k1) of a float32 block times x[q] to sums[q], for R
// inputs at once (each weight register loaded once serves all R). k - (the
// range's first column) must be a multiple of kChains<Rows>; columns past
// the last whole group of chains go to chain 0. Each input's sums are the
// same whatever R: one input runs its chains side by side (they hide the
// multiply-add latency); several run one chain after another (the rows
// hide it), so the registers hold R rows' sums of one chain, not every
// chain's sums of fewer rows (at 16 registers, 4 gates and 2 chains left
// room for one row: each weight was loaded again for every row).
template <int Rows, int R = 1>
inline void accumulate(const float* block, const float* const* x, int k, int k1, Partials<Rows>* const* sums,
                       Prefetch prefetch = {}) {
  constexpr int C = kChains<Rows>;
  const auto column = [block](int j) { return block + static_cast<long>(j) * Rows * kLanes; };
  const auto fetch_ahead = [&](int j) {
    const char* later = reinterpret_cast<const char*>(column(j) + prefetch.ahead);
    for (int line = prefetch.first; line < prefetch.last; ++line) __builtin_prefetch(later + 64 * line, 0, 3);
  };
  const int whole = k + (k1 - k) / C * C;  // the end of the whole groups
  if constexpr (R == 1) {
    simd::vfloat p[C][Rows];
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < Rows; ++r) p[c][r] = sums[0]->part[c][r];
    const float* in = x[0];
    for (int j = k; j < whole; j += C)
      for (int c = 0; c < C; ++c) {
        fetch_ahead(j + c);
        for (int r = 0; r < Rows; ++r) p[c][r] = simd::fma(in[j + c], simd::load(column(j + c) + r * kLanes), p[c][r]);
      }
    for (int j = whole; j < k1; ++j) {
      fetch_ahead(j);
      for (int r = 0; r < Rows; ++r) p[0][r] = simd::fma(in[j], simd::load(column(j) + r * kLanes), p[0][r]);
    }
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < Rows; ++r) sums[0]->part[c][r] = p[c][r];
  } else {
    for (int c = 0; c < C; ++c) {
      simd::vfloat p[R][Rows];
      for (int q = 0; q < R; ++q)
        for (int r = 0; r < Rows; ++r) p[q][r] = sums[q]->part[c][r];
      const auto add = [&](int j) {
        fetch_ahead(j);
        for (int r = 0; r < Rows; ++r) {
          simd::vfloat weights = simd::load(column(j) + r * kLanes);
          simd::keep_in_register(weights);
          for (int q = 0; q < R; ++q) p[q][r] = simd::fma(x[q][j], weights, p[q][r]);
        }
      };
      for (int j = k + c; j < whole; j += C) add(j);
      if (c == 0)
        for (int j = whole; j < k1; ++j) add(j);
      for (int q = 0; q < R; ++q)
        for (int r = 0; r < Rows; ++r) sums[q]->part[c][r] = p[q][r];
    }
  }
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
