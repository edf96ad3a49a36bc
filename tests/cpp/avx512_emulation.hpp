#pragma once
// AVX-512 modelled on AVX2, to test the x86-64-v4 code on CPUs without it.
//
// CMake's LSTMININET_EMULATE_AVX512 builds one more core, "v4emu", at
// x86-64-v3 with this header force-included into every source (-include).
// That core takes the AVX-512 paths: 16-float vectors (GCC splits each into
// two AVX registers), the 8-row GEMM tile, the 16-lane weight layouts, and
// the kernels CPUID picks on a CPU with AVX-512 VNNI, AVX512_BF16 and
// AVX-VNNI, whose instructions are computed below lane by lane as Intel's
// manual defines them. It tests our code's logic, not GCC's AVX-512 code
// generation: that needs an AVX-512 CPU (the v4 core's own tests run there).
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include <immintrin.h>

#if defined(__AVX512F__) || !defined(__AVX2__) || !defined(__FMA__)
#error "avx512_emulation.hpp models AVX-512 for an AVX2 + FMA build"
#endif

// base/simd.hpp and cpu_info.cpp test this for the 512-bit paths.
#define __AVX512F__ 1

namespace lmn_emulated {

// Inlined, as the instructions are: called, each 16-float argument goes
// through memory (the AVX2 calling convention): generation ran 5x slower.
#define LMN_EMULATED inline __attribute__((always_inline))

template <class To, class From>
LMN_EMULATED To bits_as(const From& from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

LMN_EMULATED __m512 set1_ps(float x) {
  __m512 v;
  for (int i = 0; i < 16; ++i) v[i] = x;
  return v;
}

// One rounding per lane, as vfmadd231ps.
LMN_EMULATED __m512 fmadd_ps(__m512 a, __m512 b, __m512 c) {
  __m512 out;
  for (int i = 0; i < 16; ++i) out[i] = __builtin_fmaf(a[i], b[i], c[i]);
  return out;
}

LMN_EMULATED __m512i set1_epi32(int x) {
  std::int32_t lanes[16];
  for (std::int32_t& lane : lanes) lane = x;
  return bits_as<__m512i>(lanes);
}

LMN_EMULATED __m512i loadu_si512(const void* p) {
  __m512i v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

LMN_EMULATED void storeu_si512(void* p, __m512i v) { std::memcpy(p, &v, sizeof v); }

// vpdpbusd: each 32-bit lane of acc plus its four products of an unsigned
// byte of u and a signed byte of s, wrapping (no saturation).
template <class Vector>
LMN_EMULATED Vector dpbusd(Vector acc, Vector u, Vector s) {
  constexpr int kLanes = sizeof(Vector) / 4;
  std::uint32_t sums[kLanes];
  std::uint8_t u_bytes[4 * kLanes];
  std::int8_t s_bytes[4 * kLanes];
  std::memcpy(sums, &acc, sizeof sums);
  std::memcpy(u_bytes, &u, sizeof u_bytes);
  std::memcpy(s_bytes, &s, sizeof s_bytes);
  for (int i = 0; i < kLanes; ++i) {
    std::int32_t products = 0;
    for (int k = 0; k < 4; ++k) products += u_bytes[4 * i + k] * s_bytes[4 * i + k];
    sums[i] += static_cast<std::uint32_t>(products);
  }
  return bits_as<Vector>(sums);
}
LMN_EMULATED __m512i dpbusd_512(__m512i acc, __m512i u, __m512i s) { return dpbusd(acc, u, s); }
LMN_EMULATED __m256i dpbusd_256(__m256i acc, __m256i u, __m256i s) { return dpbusd(acc, u, s); }

// vdpbf16ps: each float lane of acc plus the products of its pair of
// bfloat16 values in a and b, the odd one first, each sum rounded (a
// product of two bfloat16 values is exact in a float).
LMN_EMULATED __m512 dpbf16_ps(__m512 acc, __m512bh a, __m512bh b) {
  float sums[16];
  std::uint16_t a_bits[32], b_bits[32];
  std::memcpy(sums, &acc, sizeof sums);
  std::memcpy(a_bits, &a, sizeof a_bits);
  std::memcpy(b_bits, &b, sizeof b_bits);
  const auto widen = [](std::uint16_t bits) { return bits_as<float>(static_cast<std::uint32_t>(bits) << 16); };
  for (int i = 0; i < 16; ++i) {
    const float odd = widen(a_bits[2 * i + 1]) * widen(b_bits[2 * i + 1]);
    const float even = widen(a_bits[2 * i]) * widen(b_bits[2 * i]);
    sums[i] = (sums[i] + odd) + even;
  }
  return bits_as<__m512>(sums);
}

// The CPU "has" the extensions modelled here; any other is asked of it.
inline bool models(const char* feature) {
  for (const char* modelled : {"avx512f", "avx512bw", "avx512vnni", "avx512bf16", "avxvnni"})
    if (std::strcmp(feature, modelled) == 0) return true;
  return false;
}

}  // namespace lmn_emulated
#undef LMN_EMULATED

#define _mm512_set1_ps lmn_emulated::set1_ps
#define _mm512_fmadd_ps lmn_emulated::fmadd_ps
#define _mm512_set1_epi32 lmn_emulated::set1_epi32
#define _mm512_loadu_si512 lmn_emulated::loadu_si512
#define _mm512_storeu_si512 lmn_emulated::storeu_si512
#define _mm512_dpbusd_epi32 lmn_emulated::dpbusd_512
#define _mm256_dpbusd_avx_epi32 lmn_emulated::dpbusd_256
#define _mm512_dpbf16_ps lmn_emulated::dpbf16_ps
// A macro does not expand inside itself: the inner name is the builtin.
#define __builtin_cpu_supports(feature) (lmn_emulated::models(feature) || __builtin_cpu_supports(feature))
