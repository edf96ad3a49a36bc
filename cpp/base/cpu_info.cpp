#include "base/cpu_info.hpp"

#include <cstring>

#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "base/simd.hpp"

namespace lmn {

CpuInfo cpu_info() {
  CpuInfo info;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    const unsigned words[3] = {b, d, c};  // the vendor string's order
    info.vendor.assign(reinterpret_cast<const char*>(words), sizeof words);
  }
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    const int base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    info.family = base_family == 0xf ? base_family + static_cast<int>((a >> 20) & 0xff) : base_family;
    info.model = base_family >= 0x6 ? base_model + static_cast<int>(((a >> 16) & 0xf) << 4) : base_model;
  }
  char brand[49] = {};
  if (__get_cpuid_max(0x80000000u, nullptr) >= 0x80000004u) {
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002u + leaf, &a, &b, &c, &d);
      const unsigned words[4] = {a, b, c, d};
      std::memcpy(brand + 16 * leaf, words, 16);
    }
  }
  info.brand = brand;
  info.brand.erase(0, info.brand.find_first_not_of(' '));
  info.brand.erase(info.brand.find_last_not_of(' ') + 1);
  __builtin_cpu_init();
  const auto has = [&](bool supported, const char* name) {
    if (supported) info.features.emplace_back(name);
  };
  has(__builtin_cpu_supports("sse4.2"), "sse4.2");
  has(__builtin_cpu_supports("avx"), "avx");
  has(__builtin_cpu_supports("avx2"), "avx2");
  has(__builtin_cpu_supports("fma"), "fma");
  has(__builtin_cpu_supports("avx512f"), "avx512f");
  has(__builtin_cpu_supports("avx512bw"), "avx512bw");
  has(__builtin_cpu_supports("avx512vnni"), "avx512_vnni");
  has(__builtin_cpu_supports("avx512bf16"), "avx512_bf16");
  has(__builtin_cpu_supports("avxvnni"), "avx_vnni");
#endif
  return info;
}

bool intel_cpu() {
  static const bool intel = cpu_info().vendor == "GenuineIntel";
  return intel;
}

long l2_cache_bytes() {
  // Read once: glibc reads it from CPUID, which a hypervisor traps, and the
  // stepper asks at every layer of every step.
  static const long bytes = [] {
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (reported > 0) return reported;
#endif
    return 1L << 20;
  }();
  return bytes;
}

BuildInfo build_info() {
  BuildInfo info;
#if defined(__clang__)
  info.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info.compiler = std::string("g++ ") + __VERSION__;
#else
  info.compiler = "unknown";
#endif
#if defined(LSTMININET_EMULATE_AVX512)
  info.simd = "AVX-512 modelled on AVX2 (a test build)";
#elif defined(__AVX512F__)
  info.simd = "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
  info.simd = "AVX2+FMA";
#elif defined(__AVX__)
  info.simd = "AVX";
#elif defined(__SSE4_2__)
  info.simd = "SSE4.2";
#elif defined(__SSE2__)
  info.simd = "SSE2";
#else
  info.simd = "generic";
#endif
  info.simd_floats = simd::kVecWidth;
#ifdef LSTMININET_ISA_LEVEL
  info.isa_level = LSTMININET_ISA_LEVEL;
#else
  info.isa_level = "generic";
#endif
  info.native = info.isa_level == "native";
#ifdef LSTMININET_ISA_FLAGS
  info.flags = LSTMININET_ISA_FLAGS;
#endif
#ifdef _OPENMP
  info.openmp = _OPENMP;
#endif
  return info;
}

}  // namespace lmn
