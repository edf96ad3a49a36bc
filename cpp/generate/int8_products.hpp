#pragma once
// Integer dot products for int8 weights (precision "int8" in stepper.hpp).
//
// Layout: lane blocks as for float32 (kLanes output rows side by side), but
// with the columns in quads: for quad j and register r of a block, kLanes
// 32-bit words, word u holding output row u's weights for columns 4j..4j+3.
// The inputs are unsigned bytes x in [0, kMaxInput] (a signed value in
// [-64, 64], + 64), so one VNNI instruction (vpdpbusd) adds 4 products per
// word with no horizontal sums; the caller subtracts 64 * (the row's weight
// sum) afterwards. Weights lie in [-127, 127]. Inputs of 7 bits (and one
// value) are what AVX2 needs: its vpmaddubsw adds pairs of products into 16
// bits, saturating, and 2 * 128 * 127 fits where 2 * 255 * 127 would not.
// The bench's two quality models, trained once, lost +0.024% (melodies) and
// +0.071% (text) of held-out loss in int8 against float32 with them, +0.016%
// and +0.039% with 8-bit inputs, for which the AVX2 kernel needed a vpsignb
// per 32 products (Zen 3: the large LSTM sampled 7,600-7,700 tokens/s with
// 16 samples per pass, 10,300-11,700 without).
//
// The kernel is picked at run time from what the CPU can do: AVX-512 VNNI
// (when a register holds a whole lane block), AVX-VNNI, AVX2, or portable
// C++. All compute the same exact int32 sums.
#include <cstdint>
#include <string>
#include <vector>

namespace lmn::int8 {

enum class Kernel { Portable, Avx2, AvxVnni, Avx512Vnni };
std::string kernel_name(Kernel kernel);
std::vector<Kernel> available_kernels();  // on this CPU and build, portable first
Kernel active_kernel();                   // the fastest available, unless set_kernel chose another
void set_kernel(Kernel kernel);           // for tests and benchmarks; throws if unavailable

constexpr int kInputOffset = 64;  // input byte = signed input value + kInputOffset
constexpr int kMaxInput = 2 * kInputOffset;

// For each of `count` inputs x[q] (bytes, 4 per quad, each in [0, kMaxInput])
// and each of `rows` registers r (1, 3 or 4): acc[(q * rows + r) * kLanes + u]
// += the sum over quads [j0, j1) of the 4 products of word u, each of a
// weight and its byte of x.
void block_products(const std::int8_t* block, int rows, const std::uint8_t* const* x, int count, int j0, int j1,
                    std::int32_t* acc);

// The same for `blocks` lane blocks `stride` bytes apart, block b's sums at
// acc + b * count * rows * kLanes: one call for a run of blocks (at one
// input, the call and dispatch per block were a tenth of an int8 step).
void block_products(const std::int8_t* first_block, long stride, int blocks, int rows, const std::uint8_t* const* x,
                    int count, int j0, int j1, std::int32_t* acc);

}  // namespace lmn::int8
