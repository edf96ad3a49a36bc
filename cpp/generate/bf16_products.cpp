#include "generate/bf16_products.hpp"

#include <atomic>
#include <bit>
#include <cstring>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/cpu_info.hpp"
#include "base/simd.hpp"

namespace lmn::bf16 {

namespace {

constexpr int kLanes = simd::kVecWidth;

// The float halves of an input word: column 2p's value, column 2p + 1's.
inline float low_half(std::uint32_t word) { return std::bit_cast<float>(word << 16); }
inline float high_half(std::uint32_t word) { return std::bit_cast<float>(word & 0xffff0000u); }

// Two multiply-adds per pair of columns, odd column first: the reference
// the instruction is held to. The inputs are widened to floats a span at a
// time first, so each multiply-add broadcasts straight from memory
// (widening inside the loop cost Zen 4 at x86-64-v3 ~10% more at batch 1).
// One input runs its chains side by side; several run one chain after
// another, so a pair's widened weights serve every input (the same order
// of sums either way: lane_products.hpp).
template <int Rows, int R>
void portable_pairs(const BFloat16* block, const std::uint32_t* const* x, int p, int p1,
                    lanes::Partials<Rows>* const* sums) {
  constexpr int C = lanes::kChains<Rows>;
  constexpr int kSpan = 64;  // pairs widened at a time: a multiple of every chain count
  constexpr int kChainsAtOnce = R == 1 ? C : 1;
  float even[R][kSpan], odd[R][kSpan];
  const auto column = [block](int pair) { return block + static_cast<long>(pair) * Rows * 2 * kLanes; };
  for (int s0 = p; s0 < p1; s0 += kSpan) {
    const int s1 = p1 - s0 < kSpan ? p1 : s0 + kSpan;  // only the last span can end in a partial group
    const int whole = s0 + (s1 - s0) / C * C;
    for (int q = 0; q < R; ++q) {
      for (int j = s0; j < s1; ++j) even[q][j - s0] = low_half(x[q][j]), odd[q][j - s0] = high_half(x[q][j]);
    }
    // Chains [c0, c0 + kChainsAtOnce) of the span: all of them for one input.
    for (int c0 = 0; c0 < C; c0 += kChainsAtOnce) {
      simd::vfloat s[R][kChainsAtOnce][Rows];
      for (int q = 0; q < R; ++q)
        for (int c = 0; c < kChainsAtOnce; ++c)
          for (int r = 0; r < Rows; ++r) s[q][c][r] = sums[q]->part[c0 + c][r];
      const auto add_pair = [&](int pair, int c) {
        for (int r = 0; r < Rows; ++r) {
          simd::vfloat low, high;
          simd::load_pairs(column(pair) + r * 2 * kLanes, low, high);
          for (int q = 0; q < R; ++q) {
            s[q][c][r] = simd::fma(odd[q][pair - s0], high, s[q][c][r]);
            s[q][c][r] = simd::fma(even[q][pair - s0], low, s[q][c][r]);
          }
        }
      };
      for (int j = s0; j < whole; j += C)
        for (int c = 0; c < kChainsAtOnce; ++c) add_pair(j + c0 + c, c);
      if (c0 == 0)
        for (int j = whole; j < s1; ++j) add_pair(j, 0);
      for (int q = 0; q < R; ++q)
        for (int c = 0; c < kChainsAtOnce; ++c)
          for (int r = 0; r < Rows; ++r) sums[q]->part[c0 + c][r] = s[q][c][r];
    }
  }
}

#if defined(__x86_64__)
// AVX512_BF16: one vdpbf16ps per register of weights and input, the input
// word broadcast. Built only where a register holds a whole lane block.
template <int Rows, int R, int C>
LMN_TARGET("avx512f,avx512bf16")
__attribute__((always_inline)) inline void avx512bf16_pair(const BFloat16* block, const std::uint32_t* const* x,
                                                           int pair, int c, __m512 (&s)[R][C][Rows]) {
  const BFloat16* column = block + static_cast<long>(pair) * Rows * 2 * kLanes;
  __m512bh inputs[R];
  for (int q = 0; q < R; ++q) inputs[q] = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[q][pair]));
  for (int r = 0; r < Rows; ++r) {
    const __m512bh weights = (__m512bh)_mm512_loadu_si512(column + r * 2 * kLanes);
    for (int q = 0; q < R; ++q) s[q][c][r] = _mm512_dpbf16_ps(s[q][c][r], weights, inputs[q]);
  }
}

template <int Rows, int R>
LMN_TARGET("avx512f,avx512bf16")
void avx512bf16_pairs(const BFloat16* block, const std::uint32_t* const* x, int p, int p1,
                      lanes::Partials<Rows>* const* sums) {
  if constexpr (kLanes == 16) {
    constexpr int C = lanes::kChains<Rows>;
    __m512 s[R][C][Rows];
    for (int q = 0; q < R; ++q)
      for (int c = 0; c < C; ++c)
        for (int r = 0; r < Rows; ++r) std::memcpy(&s[q][c][r], &sums[q]->part[c][r], sizeof(__m512));
    for (; p + C <= p1; p += C)
      for (int c = 0; c < C; ++c) avx512bf16_pair<Rows, R, C>(block, x, p + c, c, s);
    for (; p < p1; ++p) avx512bf16_pair<Rows, R, C>(block, x, p, 0, s);
    for (int q = 0; q < R; ++q)
      for (int c = 0; c < C; ++c)
        for (int r = 0; r < Rows; ++r) std::memcpy(&sums[q]->part[c][r], &s[q][c][r], sizeof(__m512));
  }
}
#endif

// Inputs per call, as many as the registers hold: for AVX512_BF16 every
// chain's sums of each (R * chains * Rows of 32 registers, less spares);
// for the portable kernel one chain's sums of each, its two broadcast
// inputs, and a pair of widened weights (R * (Rows + 2) + 2 of 32 or 16).
template <int Rows>
constexpr int kAvx512Inputs = 24 / (lanes::kChains<Rows> * Rows);
template <int Rows>
constexpr int kPortableInputs = (simd::kVecBytes == 64 ? 32 - 2 : 16 - 2) / (Rows + 2);

Kernel fastest() {
  static const Kernel kernel = available_kernels().back();  // once: the products ask on every call
  return kernel;
}

// Whether vdpbf16ps also serves several inputs at once. Intel's cores issue
// it once per two cycles (8-cycle latency) against two FMAs per cycle (a
// microbenchmark on a Xeon, family 6 model 167), so there the portable
// kernel, which widens a register of weights once and then runs two FMAs
// per input, is as fast at one input and faster at several: 16 samples per
// pass sampled 20-30% faster with it (large LSTM 7,537 -> 9,725 tokens/s,
// char GRU 67,850 -> 87,984, one thread).
bool instruction_serves_batches() { return !intel_cpu(); }

// The kernel set_kernel forced, or -1 for the defaults.
std::atomic<int>& forced() {
  static std::atomic<int> kernel{-1};
  return kernel;
}

// The kernel for `count` inputs waiting.
Kernel kernel_for(int count) { return count > 1 ? batch_kernel() : active_kernel(); }

}  // namespace

std::string kernel_name(Kernel kernel) { return kernel == Kernel::Avx512Bf16 ? "avx512_bf16" : "portable"; }

std::vector<Kernel> available_kernels() {
  std::vector<Kernel> out{Kernel::Portable};
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (kLanes == 16 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16"))
    out.push_back(Kernel::Avx512Bf16);
#endif
  return out;
}

Kernel active_kernel() {
  const int k = forced().load(std::memory_order_relaxed);
  return k >= 0 ? static_cast<Kernel>(k) : fastest();
}

Kernel batch_kernel() {
  const int k = forced().load(std::memory_order_relaxed);
  if (k >= 0) return static_cast<Kernel>(k);
  return instruction_serves_batches() ? fastest() : Kernel::Portable;
}

void set_kernel(Kernel kernel) {
  for (Kernel k : available_kernels()) {
    if (k == kernel) {
      forced().store(static_cast<int>(kernel));
      return;
    }
  }
  throw std::invalid_argument("bfloat16 kernel " + kernel_name(kernel) + " is not available on this CPU or build");
}

void use_default_kernels() { forced().store(-1); }

void round_pairs(const float* x, int count, std::uint32_t* words) {
  for (int j = 0; j < count / 2; ++j)
    words[j] = to_bfloat16(x[2 * j]).bits | static_cast<std::uint32_t>(to_bfloat16(x[2 * j + 1]).bits) << 16;
}

template <int Rows>
int accumulate(const BFloat16* block, const std::uint32_t* const* x, int count, int p, int p1,
               lanes::Partials<Rows>* const* sums) {
#if defined(__x86_64__)
  if (kernel_for(count) == Kernel::Avx512Bf16) {
    constexpr int R = kAvx512Inputs<Rows>;
    if (count < R) {
      avx512bf16_pairs<Rows, 1>(block, x, p, p1, sums);
      return 1;
    }
    avx512bf16_pairs<Rows, R>(block, x, p, p1, sums);
    return R;
  }
#endif
  return lanes::at_most<kPortableInputs<Rows>>(count, [&]<int R>() { portable_pairs<Rows, R>(block, x, p, p1, sums); });
}

template int accumulate<1>(const BFloat16*, const std::uint32_t* const*, int, int, int, lanes::Partials<1>* const*);
template int accumulate<3>(const BFloat16*, const std::uint32_t* const*, int, int, int, lanes::Partials<3>* const*);
template int accumulate<4>(const BFloat16*, const std::uint32_t* const*, int, int, int, lanes::Partials<4>* const*);

}  // namespace lmn::bf16
