"""benchmarks/quality.py and benchmarks/encodings.py at a reduced size: they run, and their parts are right."""

from __future__ import annotations

import importlib.util
import math
import random
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_corpus(path: Path, songs: int, grid: int) -> Path:
    """Random stepwise tunes on a grid of ``grid`` steps per quarter (every other one with triplets if grid = 12)."""
    rng = random.Random(0)
    straight = [grid // 4, grid // 2, grid]
    triplets = straight + ([grid // 6] if grid % 6 == 0 else [])
    lines = [f"# lstmininet-melody: steps_per_quarter={grid}"]  # the grid line: how to read the tunes
    for song in range(songs):
        pitch, tokens = 67, []
        for _ in range(rng.randint(8, 20)):
            pitch = min(79, max(55, pitch + rng.choice([-2, -1, 0, 1, 2])))
            tokens += [str(pitch)] + ["_"] * (rng.choice(triplets if song % 2 else straight) - 1)
        lines.append(" ".join(tokens))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_witten_bell_probabilities_sum_to_one():
    quality = load("quality")
    windows = [[0, 1, 2, 1, 2, 3, 1, 2], [3, 3, 1, 2, 0]]
    model = quality.WittenBell(5, 4, windows)
    for context in [(), (1,), (1, 2), (3, 3, 1, 2), (2, 2, 2, 2)]:
        assert sum(model.prob(context, t) for t in range(4)) == pytest.approx(1.0)
    # A seen continuation is likelier than an unseen one.
    assert model.prob((1,), 2) > model.prob((1,), 0)


def test_windows_are_65_tokens_with_stride_64():
    quality = load("quality")
    windows = quality.windows_of([list(range(100)), list(range(100, 200))])
    assert [len(w) for w in windows] == [65, 65, 65]
    assert windows[1][0] == 64 and windows[0][-1] == 64


def test_quality_runs_small(tmp_path, capsys):
    pytest.importorskip("torch")
    quality = load("quality")
    corpus = small_corpus(tmp_path / "songs.txt", 60, 4)
    quality.main(["--corpus", str(corpus), "--epochs", "1", "--seeds", "1", "--embedding", "8", "--init-variants"])
    out = capsys.readouterr().out
    rows = dict(re.findall(r"^\| ([^|]+?) \| (\d+\.\d+) \|", out, flags=re.M))
    for name in ("pytorch", "lstmininet", "lstmininet, PyTorch's init", "3-gram (Witten-Bell)", "5-gram (Witten-Bell)"):
        assert name in rows, out
        assert 0 < float(rows[name]) < 2 * math.log(40), (name, rows[name])


def test_encodings_move_tunes_to_the_sixteenth_grid_only_when_they_fit():
    # The encodings themselves are the tokenizer's (tests/python/test_duration_tokens.py).
    encodings = load("encodings")
    triplets = "60 _ _ _ 62 _ _ _ 64 _ _ _ r _ _ _ _ _ 65 _ _ _ _ _ _ _ _ _ _ _".split()
    assert encodings.coarse(triplets, 12) is None  # triplet eighths (4 steps) are off the 1/16 grid
    assert encodings.coarse("60 _ _ 62 _ _ _ _ _ r _ _".split(), 12) == ["60", "62", "_", "r"]


def test_encodings_runs_small(tmp_path, capsys):
    encodings = load("encodings")
    corpus = small_corpus(tmp_path / "songs.txt", 50, 12)
    encodings.main(["--corpus", str(corpus), "--epochs", "1", "--samples", "4"])
    out = capsys.readouterr().out
    # one row per encoding: training tunes as mean (min–max) over the seeds
    for name in ("grid16", "grid", "duration"):
        assert re.search(rf"^\| {name} \| \d+ \(\d+–\d+\) \| ", out, flags=re.M), out
        # and one in the divergence table: samples, then pitch class, interval and duration as multiples of the floor
        assert re.search(rf"^\| {name} \| \d+ [^|]*\| ([\d.]+x[^|]* \| ){{3}}", out, flags=re.M), out
