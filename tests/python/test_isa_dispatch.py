"""One install runs on any x86-64 CPU: the core is built per instruction-set level and the best one is imported.

Each level is checked three ways: it is the one a CPU gets (choose_level), its machine
code uses no instruction beyond its level (disassembled), and every level this CPU can
execute reproduces the PyTorch reference tensors (the fixture tests run under each).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lstmininet
from lstmininet import _core, _isa
from lstmininet.isa import LEVELS, choose_level

TESTS = Path(__file__).resolve().parent
DISPATCHED = all(level in _core.ISA_LEVELS_BUILT for level in LEVELS)
needs_dispatched_build = pytest.mark.skipif(
    not DISPATCHED or platform.machine() != "x86_64", reason="a native build (LSTMININET_NATIVE=ON) has one level"
)


@pytest.mark.parametrize(
    ("built", "runs", "asked", "level"),
    [
        (["v2", "v3", "v4"], ["v2", "v3", "v4"], "", "v4"),  # AVX-512 server
        (["v2", "v3", "v4"], ["v2", "v3"], "", "v3"),  # AVX2 laptop
        (["v2", "v3", "v4"], ["v2"], "", "v2"),  # pre-AVX2 machine
        (["v2", "v3", "v4"], ["v2", "v3", "v4"], "v2", "v2"),  # asked for a lower level
        (["native"], [], "", "native"),
    ],
)
def test_the_best_level_the_cpu_runs_is_chosen(built, runs, asked, level):
    assert choose_level(built, runs, asked)[0] == level


@pytest.mark.parametrize(
    ("built", "runs", "asked", "message"),
    [
        (["v2", "v3", "v4"], ["v2", "v3"], "v4", "this CPU cannot execute x86-64-v4"),
        (["v2", "v3", "v4"], ["v2", "v3", "v4"], "native", "this installation has the levels v2, v3, v4"),
        (["v2", "v3", "v4"], [], "", "x86-64-v2 (SSE4.2) is the minimum"),
        ([], [], "", "no compiled core"),
    ],
)
def test_a_level_that_cannot_run_is_an_import_error(built, runs, asked, message):
    with pytest.raises(ImportError, match=re.escape(message)):
        choose_level(built, runs, asked)


def test_the_imported_core_reports_its_level():
    info = lstmininet.show_config(print_out=False)
    assert info["isa_level"] == _core.ISA_LEVEL
    if "LSTMININET_ISA" not in os.environ and DISPATCHED:
        assert _isa.supported_levels()[-1] == _core.ISA_LEVEL
    simd = {"v2": "SSE4.2", "v3": "AVX2+FMA", "v4": "AVX-512"}
    if _core.ISA_LEVEL in simd:
        assert info["simd"] == simd[_core.ISA_LEVEL]
        assert f"-march=x86-64-{_core.ISA_LEVEL}" in info["flags"]


def _module_file(level: str) -> Path:
    return Path(importlib.util.find_spec(f"lstmininet._core_{level}").origin)


def _disassembly(level: str) -> str:
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to check the instruction set of each level"
    return subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(_module_file(level))], check=True, capture_output=True, text=True
    ).stdout


@needs_dispatched_build
def test_each_level_uses_no_instruction_beyond_it():
    """No SIGILL on an older CPU: v2 has no VEX/EVEX (AVX) instruction, v3 no AVX-512 register."""
    vex = re.compile(r"^\s*[0-9a-f]+:\s+v[a-z0-9]+\s", re.MULTILINE)  # AVX instructions all start with v
    v2 = _disassembly("v2")
    assert "%xmm" in v2 and not vex.search(v2)
    v3 = _disassembly("v3")
    assert "%ymm" in v3 and "%zmm" not in v3 and not re.search(r"%k[0-7]", v3)
    assert "%zmm" in _disassembly("v4")


@needs_dispatched_build
@pytest.mark.parametrize("level", LEVELS)
def test_every_level_matches_the_pytorch_fixtures(level):
    if level not in _isa.supported_levels():
        pytest.skip(f"this CPU cannot execute x86-64-{level}")
    env = {**os.environ, "LSTMININET_ISA": level}
    check = subprocess.run(
        [sys.executable, "-c", "import lstmininet._core as c; print(c.ISA_LEVEL, c.build_config()['isa_level'])"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.split() == [level, level]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "test_parity_fixtures.py")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
