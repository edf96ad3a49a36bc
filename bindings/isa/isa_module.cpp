// The pybind11 module `lstmininet._isa`: which x86-64 level this CPU (and the
// operating system, which must save the wide registers) can execute. It is
// compiled for the baseline, so asking never runs an instruction the CPU
// lacks; lstmininet._core then imports the matching build of the core.
#include <string>
#include <vector>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace {

// Levels this CPU runs, lowest first ("v2", "v3", "v4"); empty off x86-64.
std::vector<std::string> supported_levels() {
  std::vector<std::string> levels;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();  // also checks XCR0: AVX-512 counts only if the OS enabled it
  if (__builtin_cpu_supports("x86-64-v2")) levels.emplace_back("v2");
  if (__builtin_cpu_supports("x86-64-v3")) levels.emplace_back("v3");
  if (__builtin_cpu_supports("x86-64-v4")) levels.emplace_back("v4");
#endif
  return levels;
}

}  // namespace

PYBIND11_MODULE(_isa, m) {
  m.doc() = "The x86-64 instruction-set levels this CPU can execute";
  m.def("supported_levels", &supported_levels, "Levels this CPU and OS can execute, lowest first: 'v2', 'v3', 'v4'.");
}
