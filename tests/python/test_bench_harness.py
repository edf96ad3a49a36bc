"""The benchmark harness's own behaviour, without measuring anything: busy processes and children die with it,
bad options are refused before any work."""

import importlib.util
import json
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


def test_an_unwritable_result_folder_is_refused_before_measuring(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("")  # a file in the path (a read-only folder would not stop root, who runs CI)
    out = tmp_path / "afile" / "results"
    monkeypatch.setattr(bench, "launch", _no_measuring)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--no-quality", "--out", str(out)])
    assert exit_info.value.code == 2
    assert f"cannot write results to {out}" in capsys.readouterr().err


class Measured(Exception):
    """Raised by a fake launch: the harness got past its checks and started measuring."""


def _measures(spec, timeout):
    raise Measured


def _stored_results(runs=None, quality=True, **settings) -> dict:
    """A stored result set of this CPU: by default every config x cell at 1 and 2 threads, both sides."""
    if runs is None:
        runs = [
            dict(config=c, cell=cell, threads=n, lstmininet={}, torch={})
            for c in bench.CONFIGS
            for cell in bench.GATES
            for n in (1, 2)
        ]
    return dict(
        machine=dict(cpu="x", cpu_identity=bench.cpu_identity()),
        settings=dict(dict(quick=False, busy=0), **settings),
        runs=runs,
        quality=[{"dataset": "melodies"}] if quality else None,
    )


UNREADABLE = {
    "cut short": lambda d: (d / "bench.json").write_text(json.dumps(_stored_results())[:300]),
    "a folder": lambda d: (d / "bench.json").mkdir(),
    "not UTF-8": lambda d: (d / "bench.json").write_bytes(b'{"machine": "\xff"}'),
    "no machine record": lambda d: (d / "bench.json").write_text("[1, 2]"),
    "identity without slug": lambda d: (d / "bench.json").write_text('{"machine": {"cpu_identity": {"brand": "x"}}}'),
    "only bench.md": lambda d: (d / "bench.md").write_text("# another CPU's results\n"),
}


@pytest.mark.parametrize("state", UNREADABLE)
def test_unreadable_stored_results_are_refused_naming_the_file_unless_forced(state, tmp_path, monkeypatch, capsys):
    UNREADABLE[state](tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(bench, "launch", _measures)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--no-quality", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(tmp_path / ("bench.md" if state == "only bench.md" else "bench.json")) in err
    assert "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(Measured):
        bench.main(["--quick", "--no-quality", "--force", "--out", str(tmp_path)])


@pytest.mark.parametrize(
    "options",
    [
        ["--configs", "melody", "--cells", "lstm"],
        ["--threads", "1"],
        ["--sides", "lstmininet"],
        ["--no-quality"],
        ["--quick"],
    ],
)
def test_a_partial_run_does_not_replace_a_fuller_result_set(options, tmp_path, monkeypatch, capsys):
    (tmp_path / "bench.json").write_text(json.dumps(_stored_results()))
    monkeypatch.setattr(bench, "launch", _measures)
    with pytest.raises(SystemExit) as exit_info:
        bench.main([*options, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "a partial run does not replace them; pass --force" in capsys.readouterr().err
    with pytest.raises(Measured):
        bench.main([*options, "--force", "--out", str(tmp_path)])


def test_a_run_covering_the_stored_set_may_replace_it(tmp_path, monkeypatch):
    runs = [dict(config="melody", cell="lstm", threads=1, lstmininet={}, torch={"skipped": "no torch"})]
    (tmp_path / "bench.json").write_text(json.dumps(_stored_results(runs, quality=False)))
    monkeypatch.setattr(bench, "launch", _measures)
    with pytest.raises(Measured):
        bench.main(["--configs", "melody,char", "--threads", "1", "--out", str(tmp_path)])


def test_quick_busy_runs_have_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "HERE", tmp_path)
    monkeypatch.setattr(bench, "launch", _measures)
    with pytest.raises(Measured):
        bench.main(["--quick", "--busy", "1", "--no-quality"])
    (folder,) = (tmp_path / "results").iterdir()
    assert [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*"))] == ["busy1", "busy1/quick"]


def _failing_launch(spec, timeout):
    if spec["side"] == "peak":
        return {"side": "peak", "errors": {}, "notes": [], "peak_gflops": 1.0}
    return {"side": spec["side"], "errors": {"train": "boom"}, "notes": []}


def test_a_failed_run_is_written_beside_the_stored_results(tmp_path, monkeypatch):
    runs = [dict(config="melody", cell="lstm", threads=1, lstmininet={})]
    (tmp_path / "bench.json").write_text(json.dumps(_stored_results(runs, quality=False, quick=True)))
    monkeypatch.setattr(bench, "launch", _failing_launch)
    options = ["--quick", "--configs", "melody", "--cells", "lstm", "--sides", "lstmininet", "--no-quality"]
    assert bench.main([*options, "--out", str(tmp_path)]) == 1
    assert json.loads((tmp_path / "bench.json").read_text())["runs"] == runs
    assert "FAILED" in (tmp_path / "bench-failed.md").read_text()
    assert json.loads((tmp_path / "bench-failed.json").read_text())["runs"][0]["lstmininet"]["errors"]


def _launch_failing(part):
    """A fake launch where only `part` ("peak" or "quality") fails."""

    def launch(spec, timeout):
        result = {"side": spec["side"], "errors": {}, "notes": []}
        if spec["side"] == "peak":
            result.update(peak_gflops=1.0)
        elif spec["side"] == "quality":
            ok = dict(dataset="text", config="char", epochs=1, train_loss=2.0)
            ok.update({p: dict(loss=2.0, tokens=10) for p in bench.GEN_PRECISIONS})
            result["quality"] = [dict(dataset="melodies", config="melody", failed=True), ok]
        else:
            result.update(train=dict(tokens_per_sec=1.0), gen=dict(tokens_per_sec=1.0))
        if spec["side"] == part:
            result["errors"][f"{part} part"] = "boom"
        return result

    return launch


@pytest.mark.parametrize("part", ["peak", "quality"])
def test_any_failed_part_fails_the_run(part, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "launch", _launch_failing(part))
    options = ["--quick", "--configs", "melody", "--cells", "lstm", "--sides", "lstmininet", "--out", str(tmp_path)]
    assert bench.main(options) == 1
    if part == "quality":
        table = (tmp_path / "bench.md").read_text().split("## Held-out loss")[1]
        assert "| melodies | melody | FAILED |" in table
        assert "| text | char | 1 | 2.0000 |" in table


def test_a_run_without_failures_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "launch", _launch_failing(None))
    options = ["--quick", "--configs", "melody", "--cells", "lstm", "--sides", "lstmininet", "--out", str(tmp_path)]
    assert bench.main([*options, "--no-quality"]) == 0


def test_the_report_says_what_was_measured(tmp_path, monkeypatch):
    build = dict(
        config=dict(native=False, isa_level="v3", isa_reason="best", simd="AVX2+FMA", flags="-march=x86-64-v3"),
        isa_override="v2",
        imported_from="/somewhere/lstmininet",
    )
    fake = _launch_failing(None)

    def launch(spec, timeout):
        result = fake(spec, timeout)
        if spec["side"] == "peak":
            result["lstmininet_build"] = build
        return result

    monkeypatch.setattr(bench, "launch", launch)
    options = ["--quick", "--configs", "melody", "--cells", "lstm", "--sides", "lstmininet", "--no-quality"]
    assert bench.main([*options, "--train-time", "0.25", "--gen-time", "0.125", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    assert results["lstmininet_build"] == build
    assert results["started"].endswith("+00:00")
    assert (results["settings"]["train_time"], results["settings"]["gen_time"]) == (0.25, 0.125)
    md = (tmp_path / "bench.md").read_text()
    assert "portable, ISA level v3" in md and "LSTMININET_ISA=v2" in md and "`/somewhere/lstmininet`" in md
    assert "train ≥ 0.25 s" in md and "generation ≈ 0.125 s" in md


def test_uncommitted_changes_mark_the_commit_dirty(monkeypatch):
    answers = {"rev-parse": "abc1234", "status": " M benchmarks/bench.py"}
    monkeypatch.setattr(bench, "_git", lambda *args: answers[args[0]])
    assert bench.machine_info(bench.cpu_identity())["git_commit"] == "abc1234-dirty"
    answers["status"] = ""
    assert bench.machine_info(bench.cpu_identity())["git_commit"] == "abc1234"
