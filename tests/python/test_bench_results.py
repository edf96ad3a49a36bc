"""The benchmark keeps results per CPU: CPUs are told apart by family/model, and another CPU's results stay put;
its generation rows are judged against the right arithmetic peak."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"
spec = importlib.util.spec_from_file_location("bench", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

ZEN4 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\n"
ZEN5 = "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n"
NAPLES = "vendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n"
ROME = "vendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC\n"
EMERALD = "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\n"


def test_same_brand_different_cores_get_different_names():
    assert bench.cpu_identity(ZEN4)["slug"] == "amd-epyc-zen4-f25m17"
    assert bench.cpu_identity(ZEN5)["slug"] == "amd-epyc-zen5-f26m2"
    assert bench.cpu_identity(NAPLES)["slug"] == "amd-epyc-zen1-f23m1"  # family 23 holds Zen 1 and Zen 2
    assert bench.cpu_identity(ROME)["slug"] == "amd-epyc-zen2-f23m49"
    intel = bench.cpu_identity(EMERALD)
    assert intel["slug"] == "intel-xeon-emerald-rapids-f6m207"
    assert intel["microarchitecture"] == "emerald-rapids"


def test_results_of_another_cpu_are_not_overwritten(tmp_path, capsys):
    other = {"machine": {"cpu": "AMD EPYC", "cpu_identity": bench.cpu_identity(ZEN4)}}
    if bench.cpu_identity()["slug"] == other["machine"]["cpu_identity"]["slug"]:
        other["machine"]["cpu_identity"] = bench.cpu_identity(EMERALD)
    (tmp_path / "bench.json").write_text(json.dumps(other))
    with pytest.raises(SystemExit):
        bench.main(["--out", str(tmp_path), "--quick"])
    assert "holds results from another CPU" in capsys.readouterr().err
    assert json.loads((tmp_path / "bench.json").read_text()) == other


def test_old_results_are_known_by_their_folder(tmp_path):
    folder = tmp_path / "amd-epyc-zen4"
    folder.mkdir()
    (folder / "bench.json").write_text(json.dumps({"machine": {"cpu": "AMD EPYC"}}))
    assert bench.results_cpu(folder) == "amd-epyc-zen4"
    assert bench.results_cpu(tmp_path / "empty") is None


def _bf16_row_pct_peak(sgemm: float, bf16: float) -> float:
    gen = {
        "float32/1": dict(tokens_per_sec=1000.0, bytes_per_token=4.0e6),
        "bfloat16/1": dict(tokens_per_sec=1000.0, bytes_per_token=2.0e6),
    }
    results = dict(
        runs=[dict(config="char", cell="lstm", threads=1, lstmininet=dict(gen_lmn=gen))],
        peak={"1": dict(peak_used=sgemm, bf16_peak_used=bf16)},
    )
    (row,) = [r for r in bench.roofline_rows(results) if r["precision"] == "bfloat16"]
    return row["pct_peak"]  # 1e6 weights x 1000 tokens/s x 2 = 2 GFLOP/s


def test_bfloat16_rows_use_the_higher_of_the_bfloat16_and_sgemm_peaks():
    # A CPU without bfloat16 arithmetic: PyTorch's bfloat16 mm crawls, our kernel runs float32 FMAs.
    assert _bf16_row_pct_peak(sgemm=100.0, bf16=1.0) == pytest.approx(2.0)
    # AVX512_BF16: the bfloat16 peak is the higher one.
    assert _bf16_row_pct_peak(sgemm=100.0, bf16=400.0) == pytest.approx(0.5)


def _cpuinfo(name=None, vendor="AuthenticAMD", family=25, model=1) -> str:
    lines = ["processor\t: 0", f"vendor_id\t: {vendor}"]
    lines += [f"cpu family\t: {family}"] if family is not None else []
    lines += [f"model\t\t: {model}"] if model is not None else []
    lines += [f"model name\t: {name}"] if name is not None else []
    return "\n".join(lines) + "\n\n"


@pytest.mark.parametrize(
    "cpuinfo",
    [
        _cpuinfo("Common KVM processor", family=15, model=6),
        _cpuinfo("QEMU Virtual CPU version 2.5+", family=15, model=107),
        "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n",  # aarch64: no model name
        _cpuinfo("(R)", vendor="", family=None, model=None),
        _cpuinfo("Processor", vendor="GenuineIntel", family=6, model=85),
        _cpuinfo("Intel(R) Xeon(R) CPU", vendor="GenuineIntel", family=6, model=None),
    ],
)
def test_cpus_that_cannot_be_told_apart_have_no_reliable_name(cpuinfo):
    identity = bench.cpu_identity(cpuinfo, l3_kb=32768)
    assert identity["problem"]
    assert "None" not in identity["slug"]


def test_a_hidden_model_number_is_completed_by_the_l3_size():
    milan = bench.cpu_identity(_cpuinfo("AMD EPYC"), l3_kb=32 * 1024)
    milan_x = bench.cpu_identity(_cpuinfo("AMD EPYC"), l3_kb=96 * 1024)
    assert (milan["slug"], milan_x["slug"]) == ("amd-epyc-zen3-f25m1-l3-32m", "amd-epyc-zen3-f25m1-l3-96m")
    assert milan["legacy_slug"] == milan_x["legacy_slug"] == "amd-epyc-zen3-f25m1"
    assert not milan["problem"]
    assert bench.cpu_identity(_cpuinfo("AMD EPYC"))["problem"]  # L3 size unknown
    # A model number tells the chips apart by itself: no L3 size in the name, none needed.
    full = bench.cpu_identity(_cpuinfo("AMD EPYC 7773X 64-Core Processor"))
    assert (full["slug"], full["problem"]) == ("amd-epyc-7773x-zen3-f25m1", None)


COMMITTED = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@pytest.mark.parametrize("folder", sorted(p.name for p in COMMITTED.iterdir() if p.is_dir()))
def test_the_committed_folders_stay_their_cpus(folder):
    stored = json.loads((COMMITTED / folder / "bench.json").read_text())
    old = stored["machine"].get("cpu_identity") or dict(vendor="GenuineIntel", family=6, model=207)
    cpuinfo = _cpuinfo(stored["machine"]["cpu"], old["vendor"], old["family"], old["model"])
    identity = bench.cpu_identity(cpuinfo, l3_kb=old.get("l3_kb") or 32 * 1024)
    # Folders made before the L3 size was part of the name carry the name without it.
    assert folder in (identity["legacy_slug"], identity["slug"])
    assert bench.cpu_folder(identity, COMMITTED) == folder
    assert bench.same_cpu(stored, COMMITTED / folder, identity)


def test_a_legacy_folder_keeps_the_first_l3_size_written_there(tmp_path):
    milan = bench.cpu_identity(_cpuinfo("AMD EPYC"), l3_kb=32 * 1024)
    milan_x = bench.cpu_identity(_cpuinfo("AMD EPYC"), l3_kb=96 * 1024)
    legacy = tmp_path / "amd-epyc-zen3-f25m1"
    legacy.mkdir()
    (legacy / "bench.json").write_text(json.dumps({"machine": {"cpu_identity": milan}}))
    assert bench.cpu_folder(milan, tmp_path) == "amd-epyc-zen3-f25m1"
    assert bench.cpu_folder(milan_x, tmp_path) == "amd-epyc-zen3-f25m1-l3-96m"
    assert not bench.same_cpu({"machine": {"cpu_identity": milan}}, legacy, milan_x)


def test_an_unreliable_name_asks_for_cpu_name(tmp_path, monkeypatch, capsys):
    generic = bench.cpu_identity(_cpuinfo("Common KVM processor", family=15, model=6), l3_kb=None)
    monkeypatch.setattr(bench, "cpu_identity", lambda: generic)
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--out", str(tmp_path)])
    assert "pass --cpu-name NAME" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--out", str(tmp_path), "--cpu-name", " / "])
    assert "has no letters or digits" in capsys.readouterr().err

    def measured(spec, timeout):
        raise RuntimeError("measuring")

    monkeypatch.setattr(bench, "launch", measured)
    with pytest.raises(RuntimeError, match="measuring"):
        bench.main(["--quick", "--out", str(tmp_path), "--cpu-name", "AMD EPYC 7763 (host)"])
    assert bench.named_cpu(generic, "AMD EPYC 7763 (host)")["slug"] == "amd-epyc-7763-host"
