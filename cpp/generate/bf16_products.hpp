#pragma once
// bfloat16 products for generation (precision "bfloat16" in stepper.hpp):
// weights and the products' inputs rounded to bfloat16, sums in float32.
//
// Layout: the float32 lane blocks with their columns in pairs (paired_
// bfloat16 in stepper.cpp): for pair p and register r, kLanes 32-bit words,
// word u holding output row u's weights for columns 2p (low half) and 2p + 1
// (high half). An input row is one such word per pair. AVX512_BF16's
// vdpbf16ps adds both products of a pair of words to a float32 lane: first
// the odd column's, then the even one's, each rounded once (the product of
// two bfloat16 values is exact in float32), so one instruction does the
// work of two multiply-adds and the two shifts that widen the weights. The
// portable kernel does the same with two multiply-adds in that order, so
// the kernels agree bit for bit wherever the build fuses multiply-adds
// (x86-64-v3 and up; checked in tests/cpp/test_stepper.cpp).
//
// Partial sums as for float32 (lane_products.hpp): kChains<Rows> per
// register; chain c takes the pairs p + c, p + c + kChains, ... from the
// range's first pair; pairs past the last whole group go to chain 0.
#include <cstdint>
#include <string>
#include <vector>

#include "base/bfloat16.hpp"
#include "generate/lane_products.hpp"

namespace lmn::bf16 {

enum class Kernel { Portable, Avx512Bf16 };
std::string kernel_name(Kernel kernel);
std::vector<Kernel> available_kernels();  // on this CPU and build, portable first
Kernel active_kernel();                   // for one input: the fastest available, unless set_kernel chose another
Kernel batch_kernel();                    // for several inputs at once: portable where the instruction is slow
void set_kernel(Kernel kernel);           // one kernel for all, for tests and benchmarks; throws if unavailable
void use_default_kernels();               // undoes set_kernel

// x[0, count) (count even) rounded to bfloat16 two by two: words[j] holds
// x[2j] in its low half and x[2j + 1] in its high half.
void round_pairs(const float* x, int count, std::uint32_t* words);

// Adds pairs [p, p1) of a block times the words x[q] to sums[q] for the
// first of `count` inputs, as many at once as the active kernel takes (each
// register of weights read once serves them all); returns how many (at
// least one). p - (the range's first pair) is a multiple of
// kChains<Rows>. Rows: 1, 3 or 4.
template <int Rows>
int accumulate(const BFloat16* block, const std::uint32_t* const* x, int count, int p, int p1,
               lanes::Partials<Rows>* const* sums);

}  // namespace lmn::bf16
