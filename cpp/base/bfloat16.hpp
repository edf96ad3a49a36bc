#pragma once
// bfloat16: a float's sign, exponent and top 7 mantissa bits, so half the
// bytes and about 3 significant digits. Used only for the opt-in
// low-precision copy of the weights that generation reads (stepper.hpp):
// a batch-1 step is bound by reading weights, so half the bytes is close to
// twice the speed. The products round their inputs too and sum in float32
// (generate/bf16_products.hpp).
#include <bit>
#include <cstdint>
#include <cstring>

#include "base/simd.hpp"

namespace lmn {

struct BFloat16 {
  std::uint16_t bits = 0;
};

// Rounds to nearest, ties to even; NaN stays NaN.
inline BFloat16 to_bfloat16(float x) {
  const std::uint32_t b = std::bit_cast<std::uint32_t>(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((b >> 16) | 0x40u)};
  return {static_cast<std::uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16)};
}

inline float to_float(BFloat16 x) { return std::bit_cast<float>(static_cast<std::uint32_t>(x.bits) << 16); }

namespace simd {

// Two registers of floats from kVecWidth 32-bit words that each pair two
// bfloat16 values: the low halves and the high halves. One shift and one
// mask, no shuffles (widening with zero-extension was measured slower than
// reading float32), on one load (GCC folded it into the mask as a second).
inline void load_pairs(const BFloat16* p, vfloat& low, vfloat& high) {
  using vbits = std::uint32_t __attribute__((vector_size(kVecBytes)));
  vbits words;
  std::memcpy(&words, p, sizeof words);
  keep_in_register(words);
  const vbits low_bits = words << 16, high_bits = words & 0xffff0000u;
  std::memcpy(&low, &low_bits, sizeof low);
  std::memcpy(&high, &high_bits, sizeof high);
}

}  // namespace simd
}  // namespace lmn
