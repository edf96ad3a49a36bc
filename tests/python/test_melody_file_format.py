"""Melody.txt's grid line (# lstmininet-melody: ...): writing, reading, errors, and loading on another grid."""

import pytest

from lstmininet.datasets import load_melodies, load_melodies_with_report, read_melody_file, save_melody_file
from lstmininet.melody import change_grid
from lstmininet.melody_file import MelodyFormat

TRIPLET_JIG = "M:6/8 62 _ _ _ 64 _ _ _ 66 _ _ _ r _ _ _ _ _ 69 _ _ _ _ _".split()  # 12 per quarter, a triplet
PLAIN = "60 _ _ _ _ _ 62 _ _ r _ _".split()  # on the sixteenth grid too (every length a multiple of 3)


def test_a_duration_file_declares_its_grid_and_reads_back_exactly(tmp_path):
    path = save_melody_file(
        [TRIPLET_JIG, PLAIN], tmp_path / "m.txt", ["a comment"], steps_per_quarter=12, encoding="duration"
    )
    lines = path.read_text().splitlines()
    assert lines == [
        "# lstmininet-melody: steps_per_quarter=12 encoding=duration",
        "# a comment",
        "M:6/8 62 d4 64 d4 66 d4 r d6 69 d6",
        "60 d6 62 d3 r d3",
    ]
    assert read_melody_file(path) == ([TRIPLET_JIG, PLAIN], MelodyFormat(12, "duration"))
    melodies, report = load_melodies_with_report(path)
    assert melodies == [TRIPLET_JIG, PLAIN] and report.steps_per_quarter == 12


def test_a_file_without_the_line_is_the_sixteenth_grid(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("# just a comment\n60 _ 62 r\n")
    melodies, report = load_melodies_with_report(path)
    assert melodies == [["60", "_", "62", "r"]] and report.steps_per_quarter == 4
    # A grid line without an encoding means grid tokens.
    path.write_text("# lstmininet-melody: steps_per_quarter=12\n60 _ 62 r\n")
    assert read_melody_file(path)[1] == MelodyFormat(12, "grid")


def test_asking_for_a_finer_grid_is_exact_and_a_coarser_one_skips_or_rounds_triplets(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("60 _ 62 r\n")
    melodies, report = load_melodies_with_report(old, steps_per_quarter=12, progress=False)
    assert melodies == ["60 _ _ _ _ _ 62 _ _ r _ _".split()] and report.steps_per_quarter == 12

    new = save_melody_file([TRIPLET_JIG, PLAIN], tmp_path / "new.txt", steps_per_quarter=12, encoding="duration")
    melodies, report = load_melodies_with_report(new, steps_per_quarter=4, off_grid="skip", progress=False)
    assert melodies == [["60", "_", "62", "r"]]
    assert report.skipped == {"off_grid": 1} and report.songs_loaded == 1
    melodies, report = load_melodies_with_report(new, steps_per_quarter=4, progress=False)  # rounds by default
    # triplet boundaries 0, 4/3, 8/3, 4 sixteenths round to 0, 1, 3, 4: lengths 1, 2, 1; three notes moved
    assert melodies[0] == "M:6/8 62 64 _ 66 r _ 69 _".split()
    assert report.songs_quantized == 1 and report.notes_quantized == 3 and report.songs_skipped == 0


def test_change_grid_drops_events_that_round_to_nothing():
    # boundaries 0, 3/4, 1, 2 quarters round to 0, 1, 1, 2: the 62 between them has no length left
    changed = change_grid("60 _ _ 62 64 _ _ _".split(), 4, 1, quantize=True)
    assert changed.tokens == ["60", "64"] and changed.notes_dropped == 1 and changed.notes_quantized == 2
    assert change_grid("60 62".split(), 4, 1).tokens is None


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("# lstmininet-melody: steps_per_quarter=x\n60\n", 1, "steps_per_quarter='x': expected a positive integer"),
        ("# lstmininet-melody: steps_per_quarter=0\n60\n", 1, "steps_per_quarter='0'"),
        ("# lstmininet-melody: encoding=grid\n60\n", 1, "needs steps_per_quarter=N"),
        ("# lstmininet-melody: steps_per_quarter=12 encoding=abc\n60\n", 1, "encoding='abc': expected one of"),
        ("# lstmininet-melody: steps_per_quarter=12 tempo=90\n60\n", 1, "'tempo=90': expected steps_per_quarter=N"),
        ("# lstmininet-melody: steps_per_quarter=4 steps_per_quarter=4\n60\n", 1, "steps_per_quarter is given twice"),
        ("60\n# lstmininet-melody: steps_per_quarter=12\n", 2, "must come once, before the first melody"),
        ("# lstmininet-melody: steps_per_quarter=12 encoding=duration\n\n60 d3 62\n", 3, "token 3 '62': the line ends"),
        ("60 d3\n", 1, "token 2 'd3': unknown token.*needs the line '# lstmininet-melody: steps_per_quarter=N"),
    ],
)
def test_bad_grid_lines_and_lines_name_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"{path}, line {line}: .*{message}"):
        load_melodies(path)


def test_save_refuses_an_unknown_encoding_or_grid(tmp_path):
    with pytest.raises(ValueError, match="encoding must be one of"):
        save_melody_file([PLAIN], tmp_path / "x.txt", encoding="events")
    with pytest.raises(ValueError, match="steps_per_quarter must be a positive integer"):
        save_melody_file([PLAIN], tmp_path / "x.txt", steps_per_quarter=0)


def test_tunes_read_from_a_score_save_and_reload_unchanged_with_the_defaults(tmp_path):
    score = tmp_path / "jig.abc"
    score.write_text("X:1\nT:Triplet\nM:6/8\nL:1/8\nK:D\n(3DEF G2A B3|]\n")
    tunes = load_melodies(score, cache=False, progress=False)
    saved = save_melody_file(tunes, tmp_path / "saved.txt")
    melodies, report = load_melodies_with_report(saved, progress=False)
    assert melodies == tunes and report.steps_per_quarter == 12  # was 4: every note 3 times longer
