#pragma once
// What the kernels were compiled for, and what the CPU running them can do:
// for show_config(), and so a user sees when a portable build leaves
// AVX-512 unused.
#include <string>
#include <vector>

namespace lmn {

struct CpuInfo {
  std::string vendor;                 // CPUID's vendor string ("GenuineIntel", "AuthenticAMD"; empty elsewhere)
  std::string brand;                  // the CPU's own name ("AMD EPYC 9B45", "Intel(R) Xeon(R) ...")
  int family = 0, model = 0;          // x86 display family and model (0 elsewhere)
  std::vector<std::string> features;  // of those the kernels could use: avx2, fma, avx512f, ...
};
CpuInfo cpu_info();
// Whether the CPU is Intel's, read once (kernels tuned per vendor ask on first use).
bool intel_cpu();

// Bytes of L2 cache per core (1 MiB when the system does not say).
long l2_cache_bytes();

struct BuildInfo {
  std::string compiler;   // name and version
  std::string simd;       // the instruction set the SIMD kernels were compiled for
  int simd_floats = 0;    // floats per SIMD register
  std::string isa_level;  // the build's level: "v2", "v3", "v4" (x86-64-vN), "native" (-march=native) or "generic"
  std::string flags;      // the compiler flags that chose it ("-march=x86-64-v4 ...")
  bool native = false;    // built with -march=native (runs only on CPUs like the build machine's)
  int openmp = 0;         // OpenMP version (yyyymm), 0 without OpenMP
};
BuildInfo build_info();

}  // namespace lmn
