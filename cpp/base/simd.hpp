#pragma once
// One SIMD register of floats as a GCC vector type: the compiler emits
// AVX-512, AVX or SSE instructions for whichever the build targets, so the
// kernels have no intrinsics and a portable fallback for free (fma below is
// the one exception).
#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

// Compiles a kernel for instructions beyond the build's level; it runs
// only where CPUID reports them. The emulated-AVX-512 test core compiles it
// at its own level, each such instruction modelled in C++
// (tests/cpp/avx512_emulation.hpp).
#if defined(LSTMININET_EMULATE_AVX512)
#define LMN_TARGET(isa)
#else
#define LMN_TARGET(isa) __attribute__((target(isa)))
#endif

namespace lmn::simd {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif
constexpr int kVecWidth = kVecBytes / 4;

using vfloat = float __attribute__((vector_size(kVecBytes)));

inline vfloat load(const float* p) {
  vfloat v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(float* p, vfloat v) { std::memcpy(p, &v, sizeof v); }
// x * v + acc, rounded once where the build has FMA (x86-64-v3 and up),
// else twice. Spelled out because loops that must agree bit for bit (a
// batched product and the same rows alone) cannot rely on the optimizer
// contracting both alike: at -O2 with sanitizers GCC left one as a
// multiply and an add.
inline vfloat fma(float x, vfloat v, vfloat acc) {
#if defined(__AVX512F__)
  return (vfloat)_mm512_fmadd_ps(_mm512_set1_ps(x), (__m512)v, (__m512)acc);
#elif defined(__FMA__) && defined(__AVX__)
  return (vfloat)_mm256_fmadd_ps(_mm256_set1_ps(x), (__m256)v, (__m256)acc);
#else
  return x * v + acc;
#endif
}

// Makes the compiler hold v in a register. A register of weights that
// several multiply-adds share is otherwise folded into each of them as a
// memory operand, one load per use: at 3 uses a batched step on Zen 4 ran
// as many loads as multiply-adds. (Not in the emulated AVX-512 build: no
// register holds 16 floats there.)
template <class Vector>
inline void keep_in_register([[maybe_unused]] Vector& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(LSTMININET_EMULATE_AVX512)
  asm("" : "+v"(v));
#endif
}

}  // namespace lmn::simd
