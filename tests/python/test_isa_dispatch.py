"""One install runs on any x86-64 CPU: the core is built per instruction-set level and the best one is imported.

Each level is checked three ways: it is the one a CPU gets (choose_level), its machine
code uses no instruction beyond its level (disassembled), and every level this CPU can
execute reproduces the PyTorch reference tensors (the fixture tests run under each).
"""

from __future__ import annotations

import importlib.util
import json
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
        (["v2", "v3", "v4", "v4emu"], ["v2", "v3", "v4"], "", "v4"),  # the emulation only when asked for
        (["native", "v4emu"], ["v2", "v3"], "", "native"),
        (["v2", "v3", "v4", "v4emu"], ["v2", "v3"], "v4emu", "v4emu"),
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
        (["v2", "v3", "v4emu"], ["v2"], "v4emu", "the emulation runs on x86-64-v3"),
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


ROOT = TESTS.parents[1]
# Kernels compiled with a target attribute and called only after a CPUID check
# (cpp/generate/int8_products.cpp, bf16_products.cpp): the only code allowed above its level.
CPUID_DISPATCHED = re.compile(r"((avx2|avxvnni|avx512vnni)_quads?|avx512bf16_pairs?)<")


def _disassembly(path: Path) -> str:
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to check the instruction set of each level"
    return subprocess.run(
        [objdump, "-d", "-C", "--no-show-raw-insn", str(path)], check=True, capture_output=True, text=True
    ).stdout


def _functions_using(path: Path, instruction: re.Pattern) -> set[str]:
    """Names of the functions in an object file or library whose code matches `instruction`."""
    found, function = set(), "?"
    for line in _disassembly(path).splitlines():
        header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if header:
            function = header.group(1)
        elif instruction.search(line):
            found.add(function)
    return found


@needs_dispatched_build
def test_each_level_uses_no_instruction_beyond_it():
    """No SIGILL on an older CPU: the v2 core has no VEX/EVEX (AVX) instruction, the v3 core no AVX-512
    register, outside the kernels chosen by CPUID at run time. The core libraries keep their function
    names (the installed modules are stripped); scripts/test.sh builds them (ctest-portable) before pytest."""
    build = ROOT / "build" / "ctest-portable"
    if not (build / "liblstmininet_core_v2.a").exists():
        pytest.skip("run scripts/test.sh first: it builds the per-level core libraries in build/ctest-portable")
    vex = re.compile(r"^\s*[0-9a-f]+:\s+v[a-z0-9]+\s")  # AVX instructions all start with v
    avx512 = re.compile(r"%zmm|%k[0-7]")
    beyond = {
        "v2": _functions_using(build / "liblstmininet_core_v2.a", vex),
        "v3": _functions_using(build / "liblstmininet_core_v3.a", avx512),
    }
    for level, functions in beyond.items():
        assert functions, f"{level}: the CPUID-dispatched int8 kernels should be found (is the scan blind?)"
        unexpected = sorted(f for f in functions if not CPUID_DISPATCHED.search(f))
        assert not unexpected, f"{level} code above its level: {unexpected[:5]}"
    assert "%zmm" in _disassembly(_module_file("v4"))


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


# The tests of the numerics, run again against the emulated AVX-512 core.
EMULATED_SUITES = (
    "test_parity_fixtures.py",
    "test_parity_torch_live.py",
    "test_regression_parity.py",
    "test_generation.py",
    "test_tensor.py",
    "test_thread_limit.py",
)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the AVX-512 emulation is x86-64 only")
def test_the_avx512_paths_pass_the_numeric_tests_on_any_cpu(tmp_path):
    """The v4 core's own tests need an AVX-512 CPU. Its code built at x86-64-v3 with each AVX-512
    instruction modelled in C++ (tests/cpp/avx512_emulation.hpp; scripts/test.sh builds it in
    build/ctest-portable) runs on any AVX2 CPU: there it takes the 16-lane layouts, the AVX-512 GEMM
    tile (8 rows; 14 on Intel) and the VNNI and BF16 kernels, and must pass the parity and generation tests."""
    build = ROOT / "build" / "ctest-portable"
    modules = [*build.glob("_core_v4emu*.so"), *build.glob("_isa*.so")]
    if len(modules) != 2:
        pytest.skip("run scripts/test.sh first: it builds the emulated core in build/ctest-portable")
    if "v3" not in _isa.supported_levels():
        pytest.skip("the emulation runs on x86-64-v3 (AVX2 + FMA) CPUs")
    site = tmp_path / "site"
    shutil.copytree(ROOT / "python" / "lstmininet", site / "lstmininet")
    for module in modules:
        shutil.copy(module, site / "lstmininet")
    env = {**os.environ, "LSTMININET_ISA": "v4emu", "PYTHONPATH": str(site)}
    show = "import json, lstmininet; print(json.dumps(lstmininet.show_config(print_out=False)))"
    info = json.loads(subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, check=True).stdout)
    paths = (info["isa_level"], info["simd_floats"], info["int8_kernel"], info["bf16_kernel"])
    assert paths == ("v4emu", 16, "avx512_vnni", "avx512_bf16")
    intel = "GenuineIntel" in Path("/proc/cpuinfo").read_text()
    assert info["gemm_kernel"].startswith("14x" if intel else "8x"), info["gemm_kernel"]  # AVX-512 tile: 14 / 8 rows
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(TESTS / s) for s in EMULATED_SUITES)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
