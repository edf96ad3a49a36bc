"""Which build of the compiled core to import on this CPU.

The C++ core is compiled once per x86-64 instruction-set level (``_core_v2``:
SSE4.2, ``_core_v3``: AVX2+FMA, ``_core_v4``: AVX-512), or once for the build
machine (``_core_native``, the ``LSTMININET_NATIVE`` CMake option).
``lstmininet._core`` imports the best level the CPU runs, as decided here.
``LSTMININET_ISA=v2|v3|v4|native`` asks for one level (to compare them, or to
test a lower level on a newer CPU); a level the CPU cannot execute is an
ImportError, never an illegal instruction.
"""

from __future__ import annotations

import importlib.util

LEVELS = ("v2", "v3", "v4")  # x86-64 levels, lowest first
SINGLE_LEVELS = ("native", "generic")  # builds with one level: -march=native, or not x86-64
# Test builds only (CMake's LSTMININET_EMULATE_AVX512): the AVX-512 paths with
# each AVX-512 instruction modelled in C++, on an AVX2 CPU. Imported only when asked for.
EMULATED_LEVELS = ("v4emu",)


def built_levels() -> list[str]:
    """The levels installed, lowest first."""
    names = (*LEVELS, *SINGLE_LEVELS, *EMULATED_LEVELS)
    return [level for level in names if importlib.util.find_spec(f"{__package__}._core_{level}")]


def choose_level(built: list[str], runs: list[str], asked: str) -> tuple[str, str]:
    """The level to import and why, from the levels built, those the CPU runs, and LSTMININET_ISA."""
    if not built:
        raise ImportError("lstmininet: no compiled core (_core_*) is installed; reinstall with `pip install .`")
    if asked:
        if asked not in built:
            raise ImportError(f"LSTMININET_ISA={asked}: this installation has the levels {', '.join(built)}")
        if asked in LEVELS and asked not in runs:
            raise ImportError(f"LSTMININET_ISA={asked}: this CPU cannot execute x86-64-{asked} instructions")
        if asked in EMULATED_LEVELS and "v3" not in runs:
            raise ImportError(f"LSTMININET_ISA={asked}: the emulation runs on x86-64-v3 (AVX2 + FMA) CPUs")
        return asked, "LSTMININET_ISA"
    for level in SINGLE_LEVELS:
        if level in built:
            return level, "the only level built"
    for level in reversed(LEVELS):
        if level in built and level in runs:
            return level, "the best level this CPU runs"
    raise ImportError(
        f"lstmininet: this CPU runs none of the levels built ({', '.join(built)}); x86-64-v2 (SSE4.2) is the minimum"
    )
