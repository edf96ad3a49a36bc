#!/usr/bin/env bash
# Installs the package with its test extras (pytest, notebook runner, the
# pinned CPU PyTorch for live parity), then runs every suite: the C++ unit
# tests through ctest and the Python tests through pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet ".[test,torch]"

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S . -B build/ctest "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build build/ctest --parallel
ctest --test-dir build/ctest --output-on-failure

python -m pytest tests/python
