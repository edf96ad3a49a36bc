"""show_config() reports the build and the CPU; the CPU facts are checked against what Linux says."""

import platform
from pathlib import Path

import pytest

import lstmininet


def proc_cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo."""
    fields = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def test_show_config_prints_the_build_and_the_cpu(capsys):
    info = lstmininet.show_config()
    printed = capsys.readouterr().out
    assert info["simd"] in printed and info["gemm_kernel"] in printed
    assert f"int8:     {info['int8_kernel']} dot products" in printed
    assert f"bfloat16: {info['bf16_kernel']} dot products" in printed
    assert ("native" if info["native"] else "portable") in printed
    assert info["threads"] == lstmininet.get_num_threads()
    assert info["simd_floats"] in (4, 8, 16)


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(), reason="cpuid facts are x86 only"
)
def test_cpu_facts_agree_with_linux():
    info = lstmininet.show_config(print_out=False)
    cpu = proc_cpuinfo()
    flags = set(cpu["flags"].split())
    # /proc/cpuinfo spells these the same way, except sse4_2
    for feature in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni"):
        assert (feature in info["cpu_features"]) == (feature in flags), feature
    assert ("sse4.2" in info["cpu_features"]) == ("sse4_2" in flags)
    assert info["cpu_brand"] == cpu["model name"]
    assert (info["cpu_family"], info["cpu_model"]) == (int(cpu["cpu family"]), int(cpu["model"]))


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(), reason="cpuid facts are x86 only"
)
def test_int8_kernel_is_the_fastest_this_cpu_and_build_run():
    info = lstmininet.show_config(print_out=False)
    flags = set(proc_cpuinfo()["flags"].split())
    lanes = info["simd_floats"]  # a lane block holds one register of floats
    if lanes == 16 and {"avx512bw", "avx512_vnni"} <= flags:
        expected = "avx512_vnni"
    elif lanes % 8 == 0 and {"avx2", "avx_vnni"} <= flags:
        expected = "avx_vnni"
    elif "avx2" in flags:
        expected = "avx2"
    else:
        expected = "portable"
    assert info["int8_kernel"] == expected


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(), reason="cpuid facts are x86 only"
)
def test_bf16_kernel_is_the_instruction_when_the_cpu_has_it():
    info = lstmininet.show_config(print_out=False)
    flags = set(proc_cpuinfo()["flags"].split())
    has_instruction = info["simd_floats"] == 16 and {"avx512f", "avx512_bf16"} <= flags
    assert info["bf16_kernel"] == ("avx512_bf16" if has_instruction else "portable")
    # Intel's cores issue vdpbf16ps once per two cycles: several samples per pass go to the portable kernel.
    intel = proc_cpuinfo()["vendor_id"] == "GenuineIntel"
    assert info["bf16_batch_kernel"] == ("portable" if intel else info["bf16_kernel"])
    printed = lstmininet.config.format_config(info)
    several = f"{info['bf16_kernel']} dot products for one sample, portable for several per pass"
    assert (several in printed) == (intel and has_instruction)


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(), reason="cpuid facts are x86 only"
)
def test_amx_tiles_are_used_where_the_cpu_offers_them():
    info = lstmininet.show_config(print_out=False)
    flags = set(proc_cpuinfo()["flags"].split())
    offered = info["simd_floats"] == 16 and {"amx_tile", "amx_int8", "amx_bf16"} <= flags
    # Linux >= 5.16 grants the tile state on request (this machine's kernel: see `uname -r`)
    assert info["amx"] == offered
    assert (info["amx_unavailable_reason"] == "") == offered
    printed = lstmininet.config.format_config(info)
    assert ("amx:      tiles for every bfloat16 product" in printed) == offered
    lstmininet._core.set_amx_enabled(False)
    try:
        off = lstmininet.show_config(print_out=False)
        assert not off["amx"]
        assert "amx:      not used (" in lstmininet.config.format_config(off)
    finally:
        lstmininet._core.set_amx_enabled(True)
    assert lstmininet.show_config(print_out=False)["amx"] == offered


def sysfs_l2_bytes() -> int | None:
    """The first CPU's level-2 cache size as Linux reports it (sysfs), if it does."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        if (index / "level").read_text().strip() == "2":
            size = (index / "size").read_text().strip()
            return int(size[:-1]) * 1024 if size.endswith("K") else int(size)
    return None


@pytest.mark.skipif(sysfs_l2_bytes() is None, reason="Linux reports no L2 cache size")
def test_batch_split_names_the_l2_cache_linux_reports():
    info = lstmininet.show_config(print_out=False)
    l2 = sysfs_l2_bytes()
    assert info["l2_cache_bytes"] == l2
    assert (info["batch_rows_any_bytes"], info["batch_rows_large_bytes"]) == (l2 // 2, l2)
    printed = lstmininet.config.format_config(info)
    assert f"batches:  split over threads by samples up to {l2 / 2 / 2**20:g} MiB of weights" in printed
