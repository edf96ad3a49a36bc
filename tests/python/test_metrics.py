"""lstmininet.metrics and `lstmininet score`: values worked out by hand on tiny melodies."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import pytest

from lstmininet.cli import main
from lstmininet.metrics import _training_index as training_index
from lstmininet.metrics import (
    compare_melodies,
    histograms,
    in_scale_share,
    js_divergence,
    longest_copied_run,
    notes_of,
    split_half_floor,
)


def test_notes_skip_rests_and_keep_exact_durations():
    # 12 steps per quarter: a triplet eighth is 4 steps = 1/3 quarter.
    melody = "60 _ _ _ 62 _ _ _ 64 _ _ _ r _ _ _ _ _ 65 _ _ _ _ _ _ _ _ _ _ _".split()
    assert notes_of(melody, 12) == [(60, Fraction(1, 3)), (62, Fraction(1, 3)), (64, Fraction(1, 3)), (65, Fraction(1))]


def test_histograms_of_a_small_melody():
    counts = histograms([["60", "_", "62", "r", "64", "_", "_"]], steps_per_quarter=2)
    assert counts["pitch_class"] == Counter({0: 1, 2: 1, 4: 1})
    assert counts["interval"] == Counter({2: 2})  # the rest between 62 and 64 is skipped
    assert counts["duration"] == Counter({Fraction(1): 1, Fraction(1, 2): 1, Fraction(3, 2): 1})


def test_js_divergence_bounds_and_a_value_by_hand():
    assert js_divergence(Counter(a=3, b=1), Counter(a=6, b=2)) == pytest.approx(0.0)
    assert js_divergence(Counter(a=1), Counter(b=5)) == pytest.approx(1.0)
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4)
    by_hand = 0.5 * math.log2(1 / 0.75) + 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25))
    assert js_divergence(Counter(a=1), Counter(a=1, b=1)) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.311278, abs=1e-6)
    with pytest.raises(ValueError, match="empty"):
        js_divergence(Counter(), Counter(a=1))


def test_in_scale_share():
    assert in_scale_share("60 62 64 65 67 69 71".split(), 4) == 1.0
    assert in_scale_share("60 61 62".split(), 4) == pytest.approx(2 / 3)  # C and D, or C# and D: never all three
    assert math.isnan(in_scale_share(["r", "_"], 4))


def test_longest_copied_run():
    text, alphabet = training_index([["60", "62", "64", "65", "67"], ["70", "72"]], 4)
    assert longest_copied_run("62 64 65 72 60 62".split(), text, alphabet, 4) == 3
    # Runs never cross from one training tune into the next: 67 then 70 is not a copy.
    assert longest_copied_run("65 67 70 72".split(), text, alphabet, 4) == 2
    # Same pitches, other durations: not a copy.
    assert longest_copied_run("62 _ 64 _".split(), text, alphabet, 4) == 0


def test_floor_of_identical_tunes_is_zero_and_compare_reports_everything():
    tunes = [["60", "_", "62", "_", "64", "_", "_", "_"]] * 6
    assert split_half_floor(tunes, 4) == {"pitch_class": 0.0, "interval": 0.0, "duration": 0.0}
    result = compare_melodies([["60", "_", "62", "_", "61"]], tunes, 4, training=tunes)
    assert result.divergence["pitch_class"] > 0
    assert result.notes_per_tune == (3.0, 3.0)
    assert result.copied_run == (2, 2)  # 60 and 62 as eighths are a copy, the sixteenth 61 is not
    table = result.table()
    for row in ("pitch class", "interval", "duration", "diatonic", "copied"):
        assert row in table


def test_score_command_prints_the_table_and_plots(tmp_path, capsys):
    generated = tmp_path / "gen.txt"
    generated.write_text("60 _ 62 _ 64 _\n60 62 64 65\n", encoding="utf-8")
    reference = tmp_path / "ref.txt"
    reference.write_text("\n".join(["60 _ 62 _ 64 _ _ _", "67 _ 65 _ 64 _", "60 _ _ _ 67 _", "62 _ 64 _ 65 _"]) + "\n")
    plot = tmp_path / "hist.png"
    code = main(["score", str(generated), str(reference), "--training", str(reference), "--plot", str(plot)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| JS divergence, duration |" in out and "floor" in out
    assert "| tunes / notes | 2 / 7 | 4 / 11 |" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_score_command_compares_files_on_different_grids_on_one_grid(tmp_path, capsys):
    # The same tune as generate prints it (12 per quarter, grid line) and in an old sixteenth-grid file:
    # read on one grid (12, the finer), they are the same tune, so every divergence is 0.
    generated = tmp_path / "gen.txt"
    generated.write_text("# lstmininet-melody: steps_per_quarter=12\n" + "60 _ _ _ _ _ 62 _ _ 64 _ _ _ _ _\n" * 4)
    reference = tmp_path / "ref.txt"
    reference.write_text("60 _ 62 64 _\n" * 4)
    code = main(["score", str(generated), str(reference), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| JS divergence, duration | 0.0000 |" in out and "| JS divergence, interval | 0.0000 |" in out
    # A triplet tune among them: the common grid stays 12 (a coarser one would drop it).
    with generated.open("a") as file:
        file.write("60 _ _ _ 62 _ _ _ 64 _ _ _\n")
    code = main(["score", str(generated), str(reference), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| tunes / notes | 5 / 15 | 4 / 12 |" in out
