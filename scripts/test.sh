#!/usr/bin/env bash
# Installs the package with its test extras (pytest, ruff, clang-format, the
# notebook runner, the pinned CPU PyTorch for live parity, onnx and
# onnxruntime for the export tests), then checks and
# runs everything: formatting and lint, the C++ layer order, the C++ unit
# tests (ctest) in three builds — the default portable one (every x86-64
# level, each level's tests run where this CPU can) with warnings as errors,
# native, and native with AddressSanitizer + UBSan — and the Python tests (pytest).
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
ctest_build build/ctest-portable -DCMAKE_BUILD_TYPE=Release -DLSTMININET_WERROR=ON
ctest_build build/ctest -DCMAKE_BUILD_TYPE=Release -DLSTMININET_NATIVE=ON
ctest_build build/ctest-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSTMININET_NATIVE=ON "-DLSTMININET_SANITIZE=address;undefined"

echo "== pytest"
python -m pytest tests/python
