"""The benchmark harness's own behaviour, without measuring anything: busy processes and children die with it,
bad options are refused before any work."""

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
spec = importlib.util.spec_from_file_location("bench", BENCHMARKS / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# A harness run whose measurements are fakes: the SGEMM peak returns at once, every run waits for a signal.
FAKE_RUN = """
import os, sys, time
sys.path.insert(0, {benchmarks!r})
import bench

def launch(spec, timeout):
    if spec["side"] == "peak":
        return {{"side": "peak", "errors": {{}}, "notes": [], "peak_gflops": 1.0}}
    print("measuring", flush=True)
    time.sleep(60)

bench.launch = launch
bench.main(["--busy", "2", "--threads", "1", "--configs", "melody", "--cells", "lstm", "--sides", "lstmininet",
            "--no-quality", "--out", {out!r}])
"""


def _children(pid: int) -> list:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@linux_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_busy_processes_die_with_the_harness(tmp_path, sig):
    script = FAKE_RUN.format(benchmarks=str(BENCHMARKS), out=str(tmp_path / "out"))
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True
    ) as harness:
        hogs = []
        try:
            assert harness.stdout.readline().strip() == "measuring"
            hogs += _children(harness.pid)
            assert len(hogs) == 2
            os.kill(harness.pid, sig)
            harness.wait(timeout=10)
            deadline = time.monotonic() + 5
            while any(_alive(h) for h in hogs) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(_alive(h) for h in hogs), "busy processes outlived the harness"
        finally:
            for h in set(hogs + _children(harness.pid)):  # a failed run must not leave them spinning
                if _alive(h):
                    os.kill(h, signal.SIGKILL)
            harness.kill()


def test_thread_tuning_refuses_a_negative_busy_count(capsys, monkeypatch):
    pytest.importorskip("lstmininet")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    tuning_spec = importlib.util.spec_from_file_location("thread_tuning", BENCHMARKS / "thread_tuning.py")
    tuning = importlib.util.module_from_spec(tuning_spec)
    tuning_spec.loader.exec_module(tuning)
    with pytest.raises(SystemExit) as exit_info:
        tuning.main(["--busy", "0,-1"])
    assert exit_info.value.code == 2
    assert "must be >= 0" in capsys.readouterr().err


def _no_measuring(spec, timeout):
    raise AssertionError("measured despite a bad option")


@pytest.mark.parametrize(
    "option",
    [
        ["--threads", "0"],
        ["--threads", "1,x"],
        ["--threads", "1,-2"],
        ["--timeout", "0"],
        ["--timeout", "nan"],
        ["--train-time", "-1"],
        ["--gen-time", "-0.5"],
        ["--gen-time", "inf"],
        ["--busy", "-1"],
        ["--repeat", "0"],
    ],
)
def test_bad_options_are_refused_before_any_work(option, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "launch", _no_measuring)
    with pytest.raises(SystemExit) as exit_info:
        bench.main([*option, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("blocker", ["file in the path", "read-only folder"])
def test_an_unwritable_result_folder_is_refused_before_measuring(blocker, tmp_path, monkeypatch, capsys):
    if blocker == "file in the path":
        (tmp_path / "afile").write_text("")
        out = tmp_path / "afile" / "results"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        out = tmp_path / "ro"
        out.mkdir(mode=0o555)
    monkeypatch.setattr(bench, "launch", _no_measuring)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--no-quality", "--out", str(out)])
    assert exit_info.value.code == 2
    assert f"cannot write results to {out}" in capsys.readouterr().err
