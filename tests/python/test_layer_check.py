"""The C++ layer check passes on the real tree and catches an include that reaches up a layer."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_layers.py"


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True, check=False
    )


def test_cpp_tree_is_layered():
    result = run_check(REPO / "cpp")
    assert result.returncode == 0, result.stdout


def test_planted_upward_include_is_reported(tmp_path):
    copy = tmp_path / "cpp"
    shutil.copytree(REPO / "cpp", copy)
    matrix = copy / "tensor" / "matrix.hpp"
    matrix.write_text('#include "nn/model.hpp"\n' + matrix.read_text())
    result = run_check(copy)
    assert result.returncode == 1
    assert 'cpp/tensor/matrix.hpp:1: #include "nn/model.hpp" reaches up from layer tensor' in result.stdout


def test_file_outside_the_layers_is_reported(tmp_path):
    copy = tmp_path / "cpp"
    shutil.copytree(REPO / "cpp", copy)
    (copy / "stray.cpp").write_text('#include "base/rng.hpp"\n')
    result = run_check(copy)
    assert result.returncode == 1
    assert "cpp/stray.cpp: not inside a layer folder" in result.stdout
