"""Dataset loading: Melody.txt files, score conversion rules, corpus cache, splits."""

import os
import re
import time
from fractions import Fraction
from pathlib import Path

import pytest

from lstmininet.datasets import (
    augment_transpositions,
    load_melodies,
    load_melodies_with_report,
    load_melody_file,
    save_melody_file,
    split_dataset,
    transpose_melody,
)
from lstmininet.scores import LoadReport, score_to_tokens, tokens_to_stream
from lstmininet.tokenizers import MelodyTokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL_CORPUS = "essenFolksong/erk5.abc"  # 27 Essen songs, parses in about a second


# --------------------------------------------------------------------------
# Melody.txt files
# --------------------------------------------------------------------------


def test_original_lstmininet_melody_txt_loads_unchanged(original_melody_txt):
    raw = original_melody_txt.read_bytes()
    assert b"\r\n" in raw  # the point of the test: CRLF endings, bare pitches
    expected = [line.split() for line in raw.decode("ascii").splitlines() if line.strip()]
    melodies = load_melody_file(original_melody_txt)
    assert melodies == expected
    assert len(melodies) == 400
    tokenizer = MelodyTokenizer.build(melodies, encoding="grid")
    assert all(t.isdigit() for t in tokenizer.vocab)  # bare pitches only: no r, no _
    melodies, report = load_melodies_with_report(original_melody_txt)
    assert melodies == expected and report.steps_per_quarter == 4  # front door, same result, no grid line: 1/16
    # Trainable in the default encoding too: every note is one sixteenth, 3 steps of the 12-per-quarter grid.
    on_twelve = load_melodies(original_melody_txt, steps_per_quarter=12, progress=False)
    tokenizer = MelodyTokenizer.build(on_twelve)
    assert [t for t in tokenizer.vocab if not t.isdigit()] == ["d3"]
    assert tokenizer.decode_melody(tokenizer.encode_melody(on_twelve[0])) == on_twelve[0]


def test_melody_file_with_crlf_comments_and_blank_lines(tmp_path):
    path = tmp_path / "Melody.txt"
    path.write_bytes(b"# header comment\r\n\r\n60 _ 62 r _ 64\r\n   \r\n72 71 # trailing comment\r\n")
    assert load_melody_file(path) == [["60", "_", "62", "r", "_", "64"], ["72", "71"]]


def test_save_and_load_melody_file_round_trip(tmp_path):
    melodies = [["60", "_", "r", "67"], ["55", "57"]]
    path = save_melody_file(melodies, tmp_path / "out.txt", header=["made by a test"])
    # The default grid is the one scores are read on, so loaded tunes save and reload at their length.
    assert path.read_text().startswith("# lstmininet-melody: steps_per_quarter=12 encoding=grid\n# made by a test\n")
    assert load_melody_file(path) == melodies


@pytest.mark.parametrize(
    "content, line, token, problem",
    [
        ("60 62\n60 x 64\n", 2, "x", "unknown token"),
        ("60 62\n\n60 62 200\n", 3, "200", "MIDI pitch outside 0..127"),
        ("# c\n_ 60 62\n", 2, "_", "hold cannot start"),
    ],
)
def test_bad_melody_file_errors_name_file_line_and_token(tmp_path, content, line, token, problem):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError) as error:
        load_melody_file(path)
    message = str(error.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert f"'{token}'" in message
    assert problem in message
    assert "\n" not in message  # one-line messages


def test_empty_melody_file_names_the_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    with pytest.raises(ValueError, match=rf"{path}: no melodies found"):
        load_melody_file(path)


def test_melody_file_with_nothing_left_after_comments_names_the_file(tmp_path):
    path = tmp_path / "comments.txt"
    path.write_text("# only a comment\r\n\r\n   # another\r\n")
    with pytest.raises(ValueError, match=rf"{path}: no melodies found"):
        load_melodies(path)


def test_missing_melody_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "Melody.txt"
    with pytest.raises(FileNotFoundError, match=rf"{path}: melody file not found"):
        load_melodies(path)


def test_unknown_spec_is_neither_file_nor_corpus_path():
    with pytest.raises(FileNotFoundError, match=r"no-such-corpus/x\*\.abc: no such file or folder"):
        load_melodies("no-such-corpus/x*.abc", cache=False, progress=False)


def test_unreadable_score_file_names_the_file(tmp_path):
    path = tmp_path / "broken.mid"
    path.write_bytes(b"this is not a MIDI file at all")
    with pytest.raises(ValueError, match=rf"{path}: cannot read score"):
        load_melodies(path, cache=False, progress=False)


def _zip(*names):
    import io
    import zipfile

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for name in names:
            archive.writestr(name, "hello")
    return data.getvalue()


ABC_HEAD = b"X:1\nT:t\nM:4/4\nL:1/8\nK:G\n"


@pytest.mark.parametrize(
    "name, content, message",
    [
        # music21 raised ZeroDivisionError, TypeError, or a UTF-8 error at a byte position
        ("tune.abc", ABC_HEAD + b"GABc d4|\nG2/0 A|\n", r"tune.abc, line 7: 'G2/0': divided by 0$"),
        ("tune.abc", ABC_HEAD + b'"F/0"D F/0 G|\n', r"tune.abc, line 6: 'F/0': divided by 0$"),
        ("tune.abc", b"X:1\nL:1/0\nK:C\nCDE|\n", r"tune.abc, line 2: 'L:1/0': divided by 0$"),
        ("tune.abc", b"X:1\nT:Caf\xe9\nK:C\nCDE|\n", r"tune.abc, line 2: not UTF-8 text"),
        ("score.mxl", b"PK but not a zip", r"score.mxl: not a compressed MusicXML file"),
        # music21 misread these silently: M:23/8, B major, MIDI 23
        ("tune.abc", b"X:1\nM:2+3/8\nK:D\nDEFGA|\n", r"tune.abc, line 2: 'M:2\+3/8': an additive meter"),
        ("tune.abc", b"X:1\nK:Bloc\nBcde fgab|\n", r"tune.abc, line 2: 'K:Bloc': a locrian key"),
        ("tune.abc", b"X:1\nK:C\nC,,,, [C,,,,,E]|\n", r"tune.abc, line 3: 'C,,,,,': below octave 0"),
        ("score.mxl", _zip("foo.txt"), r"score.mxl: the .mxl archive holds no MusicXML file"),
    ],
)
def test_broken_or_misread_abc_and_mxl_files_name_the_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}/{message}"):
        load_melodies(path, cache=False, progress=False)


# --------------------------------------------------------------------------
# Score -> grid conversion rules (each counted)
# --------------------------------------------------------------------------


def _part(*elements):
    from music21 import stream

    part = stream.Part()
    for offset, element in elements:
        part.insert(offset, element)
    return part


def test_conversion_merges_ties_drops_grace_notes_and_reduces_chords():
    from music21 import chord, note, tie

    tied_start = note.Note(60, quarterLength=1)
    tied_start.tie = tie.Tie("start")
    tied_stop = note.Note(60, quarterLength=0.5)
    tied_stop.tie = tie.Tie("stop")
    grace = note.Note(62).getGrace()
    part = _part(
        (0, note.Rest(quarterLength=1)),  # leading rest: trimmed
        (1, tied_start),
        (2, tied_stop),
        (2.5, grace),
        (2.5, chord.Chord([64, 67], quarterLength=0.5)),
        (3, note.Rest(quarterLength=0.5)),
        (3.5, note.Rest(quarterLength=0.5)),  # second rest in a row: merged
        (4, note.Note(65, quarterLength=0.25)),
    )
    report = LoadReport()
    tokens = score_to_tokens(part, steps_per_quarter=4, report=report)
    assert " ".join(tokens) == "60 _ _ _ _ _ 67 _ r _ _ _ 65"
    assert report.ties_merged == 1
    assert report.grace_notes_dropped == 1
    assert report.chords_reduced == 1
    assert report.edge_rests_trimmed == 1
    assert report.rests_merged == 1
    assert report.songs_loaded == 1


def test_chord_symbols_are_not_counted_as_grace_notes(tmp_path):
    path = tmp_path / "chords.abc"
    path.write_text('X:1\nM:4/4\nL:1/8\nK:G\n"G"GABc "D7"dBAG|"Em"E2G2 {A}c4|]\n')
    melodies, report = load_melodies_with_report(path, cache=False, progress=False, headers=False)
    assert report.grace_notes_dropped == 1  # the {A}; the four chord symbols are not notes
    assert len(melodies[0]) == 8 * 12


def test_off_grid_notes_skip_the_song_or_are_quantized():
    from music21 import note

    third = Fraction(1, 3)
    triplet = _part(
        (0, note.Note(60, quarterLength=third)),
        (third, note.Note(62, quarterLength=third)),
        (2 * third, note.Note(64, quarterLength=third)),
        (1, note.Note(65, quarterLength=1)),
    )
    skipped = LoadReport()
    assert score_to_tokens(triplet, steps_per_quarter=4, off_grid="skip", report=skipped) is None
    assert skipped.skipped == {"off_grid": 1} and skipped.songs_loaded == 0

    quantized = LoadReport()
    tokens = score_to_tokens(triplet, steps_per_quarter=4, off_grid="quantize", report=quantized)
    assert " ".join(tokens) == "60 62 _ 64 65 _ _ _"
    assert quantized.notes_quantized == 3


# Notes finer than 12 steps per quarter: a run of four 32nd notes (1.5 steps each) and a
# quintuplet of eighths in one quarter (2.4 steps each); each bar lasts 4 quarters.
FINER_THAN_THE_GRID_ABC = (
    "X:1\nT:Run\nM:4/4\nL:1/8\nK:D\nd/4e/4f/4g/4 a3 b4 |]\n\n"
    "X:2\nT:Quintuplet\nM:4/4\nL:1/8\nK:D\n(5defga b2 c'4 |]\n\n"
    "X:3\nT:Plain\nM:4/4\nL:1/8\nK:D\n(3def g2 a4 |]\n"
)


def test_notes_finer_than_the_grid_are_rounded_by_default_and_counted(tmp_path):
    path = tmp_path / "finer.abc"
    path.write_text(FINER_THAN_THE_GRID_ABC)
    melodies, report = load_melodies_with_report(path, cache_dir=tmp_path / "cache", progress=False)
    assert report.steps_per_quarter == 12 and report.songs_loaded == 3 and report.songs_skipped == 0
    # Every boundary of the four 32nds and the five quintuplet notes is off the grid; the triplet is on it.
    assert (report.songs_quantized, report.notes_quantized, report.notes_dropped_by_quantization) == (2, 9, 0)
    assert "songs quantized: 2, notes quantized: 9" in report.summary()
    assert all(len(m) - 2 == 4 * 12 for m in melodies)  # rounding moves notes, never the bar's length
    cached = load_melodies_with_report(path, cache_dir=tmp_path / "cache", progress=False)
    assert cached[0] == melodies and cached[1].from_cache and cached[1].songs_quantized == 2

    kept, strict = load_melodies_with_report(path, off_grid="skip", cache=False, progress=False)
    assert kept == melodies[2:] and strict.skipped == {"off_grid": 2}
    assert strict.songs_quantized == strict.notes_quantized == 0


def test_simultaneous_voices_keep_the_highest_note_and_cut_overlaps():
    from music21 import note

    part = _part(
        (0, note.Note(60, quarterLength=2)),
        (0, note.Note(64, quarterLength=1.5)),
        (1, note.Note(62, quarterLength=1)),
    )
    report = LoadReport()
    assert " ".join(score_to_tokens(part, steps_per_quarter=4, report=report)) == "64 _ _ _ 62 _ _ _"
    assert report.simultaneous_notes_dropped == 1
    assert report.overlaps_truncated == 1


def test_a_rest_in_another_voice_does_not_cut_a_sounding_note():
    from music21 import note

    part = _part(
        (0, note.Note(72, quarterLength=4)),  # voice 1 holds a whole note
        (0, note.Note(64, quarterLength=1)),  # voice 2: a quarter, then rests
        (1, note.Rest(quarterLength=3)),
        (4, note.Note(62, quarterLength=1)),
    )
    report = LoadReport()
    assert " ".join(score_to_tokens(part, steps_per_quarter=1, report=report)) == "72 _ _ _ 62"
    assert report.simultaneous_notes_dropped == 1
    assert report.overlaps_truncated == 0


def _notes_at(*pitch_spaces):
    from music21 import note

    notes = []
    for offset, ps in enumerate(pitch_spaces):
        n = note.Note(quarterLength=1)
        n.pitch.ps = ps
        notes.append((offset, n))
    return _part(*notes)


@pytest.mark.parametrize("ps", [132, -12])  # C10, C-2: music21's .midi folded them to 120 and 0
def test_a_pitch_outside_midi_range_skips_the_song(ps):
    report = LoadReport()
    assert score_to_tokens(_notes_at(60, ps), steps_per_quarter=1, report=report) is None
    assert report.skipped == {"pitch_out_of_range": 1}


def test_microtones_are_rounded_to_the_nearest_semitone_and_counted():
    report = LoadReport()
    tokens = score_to_tokens(_notes_at(62, 62.5, 63.5, 65), steps_per_quarter=1, report=report)
    assert tokens == ["62", "63", "64", "65"]
    assert report.microtones_rounded == 2 and "microtones rounded: 2" in report.summary()


def test_song_without_notes_is_skipped_and_counted():
    from music21 import note

    report = LoadReport()
    assert score_to_tokens(_part((0, note.Rest(quarterLength=4))), report=report) is None
    assert report.skipped == {"no_notes": 1}


def test_load_folder_of_scores_with_bad_setting_rejected(tmp_path):
    with pytest.raises(ValueError, match="off_grid must be one of"):
        load_melodies(tmp_path, off_grid="round")


def test_load_folder_of_abc_scores(tmp_path):
    abc = "X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF G2 A2|B4 c4|]\n"
    (tmp_path / "tunes").mkdir()
    (tmp_path / "tunes" / "scale.abc").write_text(abc)
    (tmp_path / "tunes" / "notes.md").write_text("not a score, ignored")
    melodies, report = load_melodies_with_report(tmp_path / "tunes", steps_per_quarter=4, cache=False, progress=False)
    assert melodies == ["M:4/4 K:Cmaj 60 _ 62 _ 64 _ 65 _ 67 _ _ _ 69 _ _ _ 71 _ _ _ _ _ _ _ 72 _ _ _ _ _ _ _".split()]
    assert report.files_read == 1 and report.songs_loaded == 1
    # Scores are read on 12 steps per quarter unless told otherwise: an eighth is 6 steps.
    melodies, report = load_melodies_with_report(tmp_path / "tunes", cache=False, progress=False)
    assert report.steps_per_quarter == 12
    assert melodies[0][:15] == "M:4/4 K:Cmaj 60 _ _ _ _ _ 62 _ _ _ _ _ 64".split() and len(melodies[0]) == 2 + 96


def test_empty_folder_names_the_folder(tmp_path):
    with pytest.raises(ValueError, match=rf"{tmp_path}: no score files"):
        load_melodies(tmp_path, cache=False, progress=False)


# --------------------------------------------------------------------------
# music21 corpus + on-disk cache
# --------------------------------------------------------------------------


def test_corpus_cache_second_load_is_ten_times_faster(tmp_path):
    start = time.perf_counter()
    first, first_report = load_melodies_with_report(SMALL_CORPUS, cache_dir=tmp_path, progress=False)
    first_time = time.perf_counter() - start

    start = time.perf_counter()
    second, second_report = load_melodies_with_report(SMALL_CORPUS, cache_dir=tmp_path, progress=False)
    second_time = time.perf_counter() - start

    assert second == first
    assert len(first) == first_report.songs_loaded == 27
    assert not first_report.from_cache and second_report.from_cache
    assert second_report.songs_loaded == first_report.songs_loaded
    assert second_time <= first_time / 10, (first_time, second_time)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp files


def test_cache_dir_from_environment_and_settings_in_key(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMININET_CACHE_DIR", str(tmp_path / "env-cache"))
    load_melodies(SMALL_CORPUS, progress=False)
    assert len(list((tmp_path / "env-cache").glob("corpus-*.json"))) == 1
    load_melodies(SMALL_CORPUS, progress=False, steps_per_quarter=2, off_grid="quantize")
    assert len(list((tmp_path / "env-cache").glob("corpus-*.json"))) == 2


def test_cache_notices_an_edited_file_and_survives_a_damaged_entry(tmp_path):
    tune = tmp_path / "tune.abc"
    tune.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC D E F|]\n")
    cache = tmp_path / "cache"
    assert load_melodies(tune, steps_per_quarter=1, cache_dir=cache, progress=False) == [
        ["M:4/4", "K:Cmaj", "60", "62", "64", "65"]
    ]
    tune.write_text("X:1\nM:4/4\nL:1/4\nK:C\nG A B c2|]\n")
    assert load_melodies(tune, steps_per_quarter=1, cache_dir=cache, progress=False) == [
        ["M:4/4", "K:Cmaj", "67", "69", "71", "72", "_"]
    ]

    for entry in cache.glob("corpus-*.json"):
        entry.write_text("{ truncated")
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        melodies, report = load_melodies_with_report(tune, steps_per_quarter=1, cache_dir=cache, progress=False)
    assert melodies == [["M:4/4", "K:Cmaj", "67", "69", "71", "72", "_"]] and not report.from_cache


def test_cache_notices_a_file_replaced_by_one_of_the_same_size_and_time(tmp_path):
    tune = tmp_path / "tune.abc"
    tune.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC D E F|]\n")
    stat = tune.stat()
    cache = tmp_path / "cache"
    assert load_melodies(tune, steps_per_quarter=1, cache_dir=cache, progress=False)[0][2:] == ["60", "62", "64", "65"]
    tune.write_text("X:1\nM:4/4\nL:1/4\nK:C\nG A B c|]\n")
    os.utime(tune, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p, rsync -t or tar keep it
    assert load_melodies(tune, steps_per_quarter=1, cache_dir=cache, progress=False)[0][2:] == ["67", "69", "71", "72"]


def test_transpose_to_c_major_or_a_minor(tmp_path):
    melodies, report = load_melodies_with_report(SMALL_CORPUS, transpose="C", cache_dir=tmp_path, progress=False)
    assert report.songs_transposed > 0
    for melody in melodies[:5]:
        key = tokens_to_stream(melody).analyze("key")
        assert (key.tonic.name, key.mode) in {("C", "major"), ("A", "minor")}


# --------------------------------------------------------------------------
# Splits and augmentation
# --------------------------------------------------------------------------


def test_split_is_deterministic_disjoint_and_complete():
    melodies = [[str(i)] for i in range(100)]
    first = split_dataset(melodies, val_fraction=0.1, test_fraction=0.2, seed=7)
    again = split_dataset(melodies, val_fraction=0.1, test_fraction=0.2, seed=7)
    other = split_dataset(melodies, val_fraction=0.1, test_fraction=0.2, seed=8)
    assert first == again
    assert first != other
    assert (len(first.train), len(first.val), len(first.test)) == (70, 10, 20)
    together = sorted(first.train + first.val + first.test, key=lambda m: int(m[0]))
    assert together == melodies


def test_every_copy_of_a_held_out_tune_is_held_out():
    # A corpus with each tune twice: a validation tune's copy trained the model (6 of 8 in the audit).
    melodies = [[str(i)] for i in range(20)] * 2
    split = split_dataset(melodies, val_fraction=0.2, test_fraction=0.1, seed=3)
    train = {tuple(m) for m in split.train}
    assert not train & {tuple(m) for m in split.val} and not train & {tuple(m) for m in split.test}
    assert len(split.train) + len(split.val) + len(split.test) == 40 and len(split.val) >= 8
    distinct = [[str(i)] for i in range(40)]  # without copies the split is the plain cut
    assert [len(part) for part in split_dataset(distinct, val_fraction=0.2, test_fraction=0.1, seed=3)] == [28, 8, 4]
    same = split_dataset([["60"]] * 5, val_fraction=0.2)  # only copies: training keeps them rather than none
    assert (len(same.train), len(same.val)) == (4, 1)


def test_split_rejects_impossible_fractions():
    with pytest.raises(ValueError, match="val_fraction must be in"):
        split_dataset([["60"]] * 10, val_fraction=1.5)
    with pytest.raises(ValueError, match="non-empty training set"):
        split_dataset([["60"]] * 2, val_fraction=0.5, test_fraction=0.5)


def test_transpose_melody_and_augmentation_stay_in_midi_range():
    assert transpose_melody(["60", "_", "r", "64"], 2) == ["62", "_", "r", "66"]
    with pytest.raises(ValueError, match=r"token 2 '125': transposing by \+5 gives pitch 130"):
        transpose_melody(["60", "125"], 5)
    augmented = augment_transpositions([["60", "_"], ["126"]], semitones=[-1, 0, 2])
    assert augmented == [["59", "_"], ["60", "_"], ["62", "_"], ["125"], ["126"]]


def test_a_fifo_or_device_as_data_is_named_not_a_regular_file(tmp_path):
    # A FIFO named like a melody file blocked the read for ever; without the
    # suffix, a FIFO or /dev/zero was "no such file or folder".
    for name in ("melodies.txt", "melodies"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        with pytest.raises(ValueError, match=rf"{name}: not a regular file \(a device, FIFO or socket\)"):
            load_melodies(fifo, progress=False, cache=False)
    with pytest.raises(ValueError, match="/dev/zero: not a regular file"):
        load_melodies("/dev/zero", progress=False, cache=False)
