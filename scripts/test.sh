#!/usr/bin/env bash
# Installs the package with its test extras (pytest, ruff, clang-format, the
# notebook runner, the pinned CPU PyTorch for live parity, onnx and
# onnxruntime for the export tests), then checks and
# runs everything: formatting and lint, the C++ layer order, the C++ unit
# tests (ctest) in three builds — the default portable one (every x86-64
# level, each level's tests run where this CPU can, and the AVX-512 paths
# emulated on AVX2 as one more level) with warnings as errors,
# native, and native with AddressSanitizer + UBSan — and the Python tests
# (pytest), then the tests marked `sanitize` (fuzzing, stress, bad input)
# again against the extension built with the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet ".[test,torch,onnx]"

echo "== style: ruff, clang-format; C++ layer order"
cpp_files=$(find cpp bindings tests/cpp -name '*.[ch]pp' | sort)
ruff check .
ruff format --check .
# shellcheck disable=SC2086  # one argument per file
clang-format --dry-run -Werror $cpp_files
python scripts/check_layers.py

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
ctest_build() {  # ctest_build DIR CMAKE_ARGS...: configure, build and run the C++ tests
  local dir=$1
  shift
  echo "== ctest: $dir ($*)"
  cmake -S . -B "$dir" "${generator[@]}" "$@" >/dev/null
  cmake --build "$dir" --parallel
  ctest --test-dir "$dir" --output-on-failure
}
python_module=("-DPython_EXECUTABLE=$(command -v python)"
  "-Dpybind11_DIR=$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')")
# The portable build also makes the emulated AVX-512 core (and its Python
# module, which pytest's test_isa_dispatch.py runs the numeric tests against).
ctest_build build/ctest-portable -DCMAKE_BUILD_TYPE=Release -DLSTMININET_WERROR=ON -DLSTMININET_EMULATE_AVX512=ON \
  "${python_module[@]}"
ctest_build build/ctest -DCMAKE_BUILD_TYPE=Release -DLSTMININET_NATIVE=ON
# The sanitized build also makes the Python extension from the same objects.
ctest_build build/ctest-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSTMININET_NATIVE=ON \
  "-DLSTMININET_SANITIZE=address;undefined" -DLSTMININET_PYTHON_MODULE=ON "${python_module[@]}"

echo "== pytest"
python -m pytest tests/python

echo "== pytest -m sanitize: the crash-hunting tests against the ASan+UBSan extension"
sanitized=build/ctest-sanitize
rm -rf "$sanitized/site" "$sanitized/reports"
mkdir -p "$sanitized/site" "$sanitized/reports"
cp -r python/lstmininet "$sanitized/site/"
cp "$sanitized"/_core*.so "$sanitized"/_isa*.so "$sanitized/site/lstmininet/"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$sanitized/CMakeCache.txt")
# Python itself is not sanitized: libasan must be loaded first, and libstdc++
# with it (else ASan's __cxa_throw interceptor fails). Reports go to files:
# pytest captures stderr and a sanitizer error ends the process.
if ! LD_PRELOAD="$("$cxx" -print-file-name=libasan.so):$("$cxx" -print-file-name=libstdc++.so)" \
  ASAN_OPTIONS="detect_leaks=0:log_path=$sanitized/reports/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:log_path=$sanitized/reports/ubsan" \
  PYTHONPATH="$sanitized/site" python -m pytest -q -p no:cacheprovider -m sanitize tests/python; then
  cat "$sanitized"/reports/* 2>/dev/null || true
  exit 1
fi
