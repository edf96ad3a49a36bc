#pragma once
// Vectorisable exp, sigmoid and tanh for the fused kernels. libm's scalar
// calls cost more than the GEMMs at our sizes; these inline versions let the
// compiler process a whole SIMD register of gates at once. Accuracy: exp is
// within ~2 ulp over the float range, sigmoid and tanh within ~1e-7
// absolute (tests/cpp/test_fast_math.cpp). The reference path keeps libm.
// Always inlined: a call GCC left out of line (its inlining budget for a
// grown stepper.cpp ran out) kept the loop around it from being vectorised,
// and the stepper's cell update ran at half speed (so also gate_math.hpp's).
#include <bit>
#include <cmath>
#include <cstdint>

namespace lmn::fast {

// a * b + c, rounded once where the build has FMA: one instruction in the
// vectorised loops, not a multiply and an add (ISO C++ mode does not fuse
// them by itself); elsewhere rounded twice.
inline float madd(float a, float b, float c) {
#if defined(__FMA__)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

[[gnu::always_inline]] inline float exp(float x) {
  // e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2) / 2.
  // Plain comparisons (not std::clamp's references) keep the loop vectorisable.
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // Round to nearest by adding and removing 1.5 * 2^23 (std::floor does not
  // vectorise with GCC under default flags).
  constexpr float kRound = 12582912.0f;
  const float n = madd(x, 1.44269504088896341f, kRound) - kRound;
  // ln 2 split in two (Cody-Waite) so r keeps full precision.
  const float r = madd(n, 2.12194440e-4f, madd(n, -0.693359375f, x));
  // Taylor series of e^r to degree 7: truncation below 5e-9 for |r| <= 0.35.
  float p = 1.0f / 5040.0f;
  p = madd(p, r, 1.0f / 720.0f);
  p = madd(p, r, 1.0f / 120.0f);
  p = madd(p, r, 1.0f / 24.0f);
  p = madd(p, r, 1.0f / 6.0f);
  p = madd(p, r, 0.5f);
  p = madd(p, r, 1.0f);
  p = madd(p, r, 1.0f);
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

[[gnu::always_inline]] inline float sigmoid(float x) { return 1.0f / (1.0f + fast::exp(-x)); }

[[gnu::always_inline]] inline float tanh(float x) { return madd(2.0f, fast::sigmoid(2.0f * x), -1.0f); }

}  // namespace lmn::fast
