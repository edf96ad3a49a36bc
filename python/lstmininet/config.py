"""``show_config()``: what the C++ kernels were built for and what they run on, as ``numpy.show_config()`` does."""

from __future__ import annotations

import os

from . import _core


def show_config(print_out: bool = True) -> dict:
    """Print (and return) the build and machine facts that decide lstmininet's speed.

    The SIMD instruction set the kernels were compiled for, whether the build is
    native (``-march=native``: fastest, runs only on CPUs like the build machine's)
    or portable, the compiler, OpenMP, the GEMM kernel's tile, the CPU running it
    (name, x86 family/model, usable vector features) and the thread setting.
    """
    info = dict(_core.build_config())
    info["version"] = _core.__version__
    info["num_threads_env"] = os.environ.get("LSTMININET_NUM_THREADS")
    if print_out:
        print(format_config(info))
    return info


def format_config(info: dict) -> str:
    openmp = f"OpenMP {info['openmp']}" if info["openmp"] else "no OpenMP (one thread)"
    build = "native (-march=native)" if info["native"] else "portable"
    unused = ""
    if not info["native"] and "avx512f" in info["cpu_features"] and info["simd"] != "AVX-512":
        unused = "  (this CPU has AVX-512, which this build does not use)"
    env = info["num_threads_env"]
    threads = f"{info['threads']} (LSTMININET_NUM_THREADS={env})" if env else f"{info['threads']} (all cores)"
    return "\n".join(
        [
            f"lstmininet {info['version']}",
            f"  build:    {build}, {info['compiler']}, {openmp}",
            f"  kernels:  {info['simd']} ({info['simd_floats']} floats per register){unused}",
            f"  gemm:     {info['gemm_kernel']}",
            f"  cpu:      {info['cpu_brand'] or '?'} (family {info['cpu_family']}, model {info['cpu_model']}), "
            f"{os.cpu_count()} logical CPUs",
            f"  features: {' '.join(info['cpu_features']) or '-'}",
            f"  threads:  {threads}",
        ]
    )
