#pragma once
// Integer dot products for int8 weights (precision "int8" in stepper.hpp).
//
// Layout: lane blocks as for float32 (kLanes output rows side by side), but
// with the columns in quads: for quad j and register r of a block, kLanes
// 32-bit words, word u holding output row u's weights for columns 4j..4j+3.
// The inputs are unsigned bytes x (a signed int8 value + 128), so one VNNI
// instruction (vpdpbusd) adds 4 products per word with no horizontal sums;
// the caller subtracts 128 * (the row's weight sum) afterwards. Without VNNI
// (AVX2) the products are of the signed values x - 128 instead, which the
// kernel reports so the caller skips that correction. Weights lie in
// [-127, 127] (the AVX2 kernel cannot negate -128).
//
// The kernel is picked at run time from what the CPU can do: AVX-512 VNNI
// (when a register holds a whole lane block), AVX-VNNI, AVX2, or portable
// C++. All compute exact int32 sums, so they agree bit for bit once the
// correction is applied.
#include <cstdint>
#include <string>
#include <vector>

namespace lmn::int8 {

enum class Kernel { Portable, Avx2, AvxVnni, Avx512Vnni };
std::string kernel_name(Kernel kernel);
std::vector<Kernel> available_kernels();  // on this CPU and build, portable first
Kernel active_kernel();                   // the fastest available, unless set_kernel chose another
void set_kernel(Kernel kernel);           // for tests and benchmarks; throws if unavailable

// What a kernel's products multiply the weights by: the input bytes x, or x - 128.
enum class Inputs { Unsigned, Signed };

// For each of `count` inputs x[q] (bytes, 4 per quad) and each of `rows`
// registers r (1, 3 or 4): acc[(q * rows + r) * kLanes + u] += the sum over
// quads [j0, j1) of the 4 products of word u, each of a weight and its byte
// of x (Inputs::Unsigned) or that byte - 128 (Inputs::Signed), as returned.
Inputs block_products(const std::int8_t* block, int rows, const std::uint8_t* const* x, int count, int j0, int j1,
                      std::int32_t* acc);

}  // namespace lmn::int8
