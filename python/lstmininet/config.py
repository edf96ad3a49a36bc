"""``show_config()``: what the C++ kernels were built for and what they run on, as ``numpy.show_config()`` does."""

from __future__ import annotations

import os

from . import _core


def show_config(print_out: bool = True) -> dict:
    """Print (and return) the build and machine facts that decide lstmininet's speed.

    The instruction-set level chosen at import among those built (x86-64-v2/v3/v4,
    see ``lstmininet._core``) and why, the SIMD set the kernels were compiled for,
    whether the build is native (``-march=native``: runs only on CPUs like the
    build machine's) or portable, the compiler, OpenMP, the GEMM kernel's tile, the int8 and
    bfloat16 dot-product kernels (chosen from the CPU at run time, for ``precision="int8"`` and
    ``"bfloat16"`` generation) and whether AMX tiles take them over, how threads share a batch of
    samples (by samples while the weights fit in the L2 cache per core, else by weights),
    the CPU running it (name, x86 family/model, usable vector features) and the thread setting.
    """
    info = dict(_core.build_config())
    info["int8_kernel"] = _core.int8_kernel()
    info["bf16_kernel"] = _core.bf16_kernel()
    info["bf16_batch_kernel"] = _core.bf16_batch_kernel()
    info["amx"] = _core.amx_enabled()
    info["amx_unavailable_reason"] = _core.amx_unavailable_reason()
    info["version"] = _core.__version__
    info["isa_reason"] = _core.ISA_REASON
    info["isa_levels_built"] = list(_core.ISA_LEVELS_BUILT)
    info["num_threads_env"] = os.environ.get("LSTMININET_NUM_THREADS")
    if print_out:
        print(format_config(info))
    return info


def format_config(info: dict) -> str:
    openmp = f"OpenMP {info['openmp']}" if info["openmp"] else "no OpenMP (one thread)"
    build = "native (-march=native)" if info["native"] else f"portable, levels {' '.join(info['isa_levels_built'])}"
    level = info["isa_level"]
    level = f"x86-64-{level}" if level.startswith("v") else level
    unused = ""
    if "avx512f" in info["cpu_features"] and info["simd"] != "AVX-512":
        unused = "  (this CPU has AVX-512, which these kernels do not use)"
    env = info["num_threads_env"]
    threads = f"{info['threads']} (LSTMININET_NUM_THREADS={env})" if env else f"{info['threads']} (all cores)"
    bf16 = info["bf16_kernel"]
    if info["bf16_batch_kernel"] != bf16:
        bf16 += f" dot products for one sample, {info['bf16_batch_kernel']} for several per pass"
    else:
        bf16 += " dot products"
    if info["amx"]:
        amx = "tiles for every bfloat16 product and int8 products of several samples per pass"
    else:
        amx = f"not used ({info['amx_unavailable_reason'] or 'turned off'})"
    batches = (
        f"split over threads by samples up to {_mib(info['batch_rows_any_bytes'])} of weights, up to "
        f"{_mib(info['batch_rows_large_bytes'])} from {info['batch_rows_large_rows']} samples per thread "
        f"({_mib(info['l2_cache_bytes'])} L2 per core), by weights above"
    )
    return "\n".join(
        [
            f"lstmininet {info['version']}",
            f"  build:    {build}, {info['compiler']}, {openmp}",
            f"  isa:      {level} ({info['isa_reason']}), flags: {info['flags'] or '-'}",
            f"  kernels:  {info['simd']} ({info['simd_floats']} floats per register){unused}",
            f"  gemm:     {info['gemm_kernel']}",
            f"  int8:     {info['int8_kernel']} dot products (chosen at run time from the CPU)",
            f"  bfloat16: {bf16} (chosen at run time from the CPU)",
            f"  amx:      {amx}",
            f"  batches:  {batches}",
            f"  cpu:      {info['cpu_brand'] or '?'} (family {info['cpu_family']}, model {info['cpu_model']}), "
            f"{os.cpu_count()} logical CPUs",
            f"  features: {' '.join(info['cpu_features']) or '-'}",
            f"  threads:  {threads}",
        ]
    )


def _mib(size: float) -> str:
    return f"{size / 2**20:g} MiB"
