"""A few bytes of score never become gigabytes of tokens: note and tune length limits.

The two files of issue 9 (a 27-byte ABC tune holding one note for
999,999,999 eighths, a 52-byte MIDI file with a delta time of 2^28 ticks)
run through the real command line in a child process capped at 1 GiB of
address space and 60 s of CPU; before the limits the first was OOM-killed
asking for 24 GB and the second grew past 2.8 GB inside music21.
"""

from __future__ import annotations

import gc
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lstmininet.datasets import load_melodies
from lstmininet.input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS, InputLimitError
from lstmininet.midi import read_midi

HUGE_ABC = b"X:1\nL:1/8\nK:C\nC999999999|\n"
CHILD_ADDRESS_SPACE = 1 << 30
CHILD_CPU_SECONDS = 60


def variable_length(n: int) -> bytes:
    """A MIDI variable-length quantity (7 bits per byte, high bit = more follow)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(events: bytes, ticks_per_quarter: int = 1) -> bytes:
    """A format-0 Standard MIDI File with one track holding ``events`` plus end-of-track."""
    track = events + b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_quarter)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def held_note(delta: int, pitch: int = 60) -> bytes:
    """Note on at once, note off ``delta`` ticks later."""
    return bytes([0x00, 0x90, pitch, 0x40]) + variable_length(delta) + bytes([0x80, pitch, 0x00])


def huge_delta_midi() -> bytes:
    tempo = b"\x00\xff\x51\x03\x07\xa1\x20"
    return midi_bytes(tempo + held_note(0x0FFFFFFF) + held_note(1, pitch=62))


# A small Python between pytest and the command: a child's peak RSS counts
# the memory of the process it was forked from (kept across exec), and
# pytest's own can be hundreds of MB by now. This one caps the limits, runs
# the command as its own child and writes that child's peak RSS (KiB).
CAPPED_RUN = """
import os, resource, subprocess, sys
address_space, cpu_seconds, peak_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
code = subprocess.call(sys.argv[4:])
with open(peak_file, "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code if code >= 0 else 128 - code)
"""


def run_cli_capped(tmp_path: Path, *argv) -> tuple[int, str, int]:
    """Run `lstmininet ARGV` in a child with capped memory and CPU; (exit code, stderr, peak RSS in MB)."""
    err_path, peak_path = tmp_path / "stderr.txt", tmp_path / "peak_kib.txt"
    limits = (str(CHILD_ADDRESS_SPACE), str(CHILD_CPU_SECONDS), str(peak_path))
    with open(err_path, "wb") as err:
        command = [sys.executable, "-c", CAPPED_RUN, *limits, sys.executable, "-m", "lstmininet.cli", *map(str, argv)]
        code = subprocess.call(command, stdout=subprocess.DEVNULL, stderr=err)
    return code, err_path.read_text(errors="replace"), int(peak_path.read_text()) // 1024


def test_the_issues_files_are_as_small_as_it_says():
    assert len(HUGE_ABC) == 26  # 27 with a final newline in an editor
    assert len(huge_delta_midi()) == 52


@pytest.mark.parametrize(
    "name, content", [("huge.abc", HUGE_ABC), ("huge.mid", huge_delta_midi())], ids=["abc", "midi"]
)
def test_tiny_score_fails_in_one_line_without_using_memory(tmp_path, name, content):
    score = tmp_path / name
    score.write_bytes(content)
    code, err, peak_mb = run_cli_capped(tmp_path, "train", score, "--out", tmp_path / "m.lmn", "--quiet")
    assert code == 2, err[-2000:]
    assert err.count("\n") == 1 and err.startswith(f"lstmininet: error: {score}"), err[-2000:]
    assert "--max-" in err  # says which limit, and how to raise it
    assert peak_mb < 400, peak_mb
    assert not (tmp_path / "m.lmn").exists()


def test_long_note_in_abc_names_file_and_limit(tmp_path):
    score = tmp_path / "long.abc"
    score.write_bytes(HUGE_ABC)
    with pytest.raises(InputLimitError) as error:
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False)
    message = str(error.value)
    # Found in the text, before music21 parses it: 999,999,999 eighths.
    assert message.startswith(f"{score}, line 4: 'C999999999' lasts at least 1,999,999,998 grid steps")
    assert f"limit of {DEFAULT_MAX_NOTE_STEPS:,}" in message
    assert isinstance(error.value, ValueError)  # callers that catch ValueError keep working


def test_note_limit_is_configurable(tmp_path):
    score = tmp_path / "drone.abc"
    score.write_text("X:1\nL:1/8\nK:C\nC2000|\n")  # 2,000 eighths = 4,000 sixteenth steps
    with pytest.raises(InputLimitError, match="4,000 grid steps"):
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False)
    (melody,) = load_melodies(
        score, steps_per_quarter=4, cache=False, progress=False, max_note_steps=4000, headers=False
    )
    assert melody == ["60"] + ["_"] * 3999


def test_long_rest_in_abc_is_caught_in_the_text(tmp_path):
    score = tmp_path / "pause.abc"
    score.write_text("X:1\nL:1/8\nK:C\nC2 z3000 D2|\n")
    with pytest.raises(InputLimitError, match=r"pause.abc, line 4: 'z3000' lasts at least 6,000 grid steps"):
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False)


def test_long_silence_between_midi_notes_is_a_long_rest(tmp_path):
    # Silence is not a note in MIDI: only the converted score shows the 200-quarter rest.
    path = tmp_path / "pause.mid"
    path.write_bytes(midi_bytes(held_note(1) + bytes([0x81, 0x48]) + held_note(1, pitch=62)[1:]))
    with pytest.raises(InputLimitError, match=r"pause.mid: a rest at quarter note 1 lasts 200 quarter notes"):
        read_midi(path)


def test_abc_note_that_stalls_music21_is_refused_before_parsing(tmp_path):
    # Found by scripts/fuzz_inputs.py: after a repeat sign music21 spent 45 s on this one note
    # (and over 5 minutes on the same with 99999).
    score = tmp_path / "stall.abc"
    score.write_text("X:1\nM:C|\nL:1/8\nK:G\n|:eA edBc|dBgB BAA999|\n")
    with pytest.raises(InputLimitError, match=r"stall.abc, line 5: 'A999' lasts at least 1,998 grid steps"):
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False)


def test_tune_limit_is_configurable_and_names_the_tune(tmp_path):
    score = tmp_path / "two.abc"
    long_tune = " ".join(["C8 D8"] * 650)  # 1,300 notes of 16 steps = 20,800 steps
    score.write_text(f"X:1\nL:1/8\nK:C\nCDEF|\n\nX:2\nL:1/8\nK:C\n{long_tune}|\n")
    assert DEFAULT_MAX_TUNE_STEPS < 20_800
    with pytest.raises(InputLimitError) as error:
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False)
    assert str(error.value).startswith(f"{score}, tune 2: the tune lasts 5,200 quarter notes = 20,800 grid steps")
    melodies = load_melodies(
        score, steps_per_quarter=4, cache=False, progress=False, max_tune_steps=20_800, headers=False
    )
    assert [len(m) for m in melodies] == [8, 20_800]


# Written note lengths add up to more than music21 makes of them: tuplets, broken rhythm, chords,
# grace notes, an overlay (&), a smaller unit length in the body.
SHORTER_THAN_WRITTEN = (
    "X:1\nM:4/4\nL:1/8\nK:C\n(3CDE (3FGA (3Bcd (3efg|C3>D E<F2 G/A/B/c/|[CEG]4 {AB}c4|L:1/16\nC8 D4 E4 & c16|\n"
)


def test_a_long_abc_tune_is_refused_from_its_text_before_music21_parses_it(tmp_path, monkeypatch):
    from music21 import converter

    tricky = tmp_path / "tricky.abc"
    tricky.write_text(SHORTER_THAN_WRITTEN)
    for steps_per_quarter in (4, 12):  # a tune just within the limit still loads
        (melody,) = load_melodies(tricky, steps_per_quarter=steps_per_quarter, cache=False, progress=False)
        within = {"steps_per_quarter": steps_per_quarter, "max_tune_steps": len(melody) - 2}  # M:4/4 K:Cmaj
        assert load_melodies(tricky, cache=False, progress=False, **within) == [melody]

    def no_parse(*args, **kwargs):
        raise AssertionError("music21 parsed a tune the text shows is too long")

    score = tmp_path / "long.abc"
    score.write_text("X:1\nM:4/4\nL:1/8\nK:C\n" + "CDEF GABc|" * 420 + "\n")  # 20,160 steps (music21: minutes)
    monkeypatch.setattr(converter, "parse", no_parse)
    with pytest.raises(InputLimitError) as error:
        load_melodies(score, cache=False, progress=False)
    assert str(error.value).startswith(f"{score}: the tune lasts 1,680 quarter notes = 20,160 grid steps or more")
    assert "lines 1-6" in str(error.value) and "--max-tune-steps" in str(error.value)


def test_cached_corpus_is_not_returned_under_lower_limits(tmp_path):
    folder = tmp_path / "scores"
    folder.mkdir()
    (folder / "drone.abc").write_text("X:1\nL:1/8\nK:C\nC2000|\n")
    cache = tmp_path / "cache"
    assert load_melodies(folder, steps_per_quarter=4, cache_dir=cache, progress=False, max_note_steps=5000)
    with pytest.raises(InputLimitError, match="drone.abc"):
        load_melodies(folder, steps_per_quarter=4, cache_dir=cache, progress=False)


def test_midi_length_is_checked_before_music21_converts_it(tmp_path):
    path = tmp_path / "long.mid"
    path.write_bytes(midi_bytes(held_note(30_000 * 480), ticks_per_quarter=480))
    with pytest.raises(InputLimitError) as error:
        read_midi(path)
    # The message comes from the raw events (ticks), so music21 never built the score.
    assert str(error.value).startswith(f"{path}: MIDI track 1 runs 14,400,000 ticks = 30,000 quarter notes")


def test_midi_within_the_tune_limit_still_hits_the_note_limit(tmp_path):
    path = tmp_path / "held.mid"
    path.write_bytes(midi_bytes(held_note(300 * 4), ticks_per_quarter=4))  # 300 quarters = 1,200 steps
    with pytest.raises(InputLimitError, match="1,200 grid steps"):
        read_midi(path, steps_per_quarter=4)
    assert read_midi(path, steps_per_quarter=4, max_note_steps=1200, headers=False) == ["60"] + ["_"] * 1199


def test_midi_with_zero_ticks_per_quarter_names_the_file(tmp_path):
    path = tmp_path / "zero.mid"
    path.write_bytes(midi_bytes(held_note(4), ticks_per_quarter=0))
    with pytest.raises(ValueError, match=rf"^{path}: MIDI header gives 0 ticks per quarter note"):
        read_midi(path)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_limits_must_be_positive_integers(tmp_path, bad):
    score = tmp_path / "a.abc"
    score.write_text("X:1\nL:1/8\nK:C\nCDEF|\n")
    with pytest.raises(ValueError, match="max_note_steps must be a positive integer"):
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False, max_note_steps=bad)
    with pytest.raises(ValueError, match="max_tune_steps must be a positive integer"):
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False, max_tune_steps=bad)


def test_cli_limit_options(tmp_path, capsys):
    from lstmininet.cli import main

    score = tmp_path / "drone.abc"
    score.write_text("X:1\nL:1/8\nK:C\nC2000|\nX:2\nL:1/8\nK:C\nC2000|\nX:3\nL:1/8\nK:C\nC2000|\n")
    out = tmp_path / "m.lmn"
    flags = ["--epochs", "1", "--hidden", "8", "--quiet", "--seq-len", "16", "--steps-per-quarter", "4"]
    assert main(["train", str(score), "--out", str(out), *flags]) == 2
    assert "--max-note-steps" in capsys.readouterr().err
    assert main(["train", str(score), "--out", str(out), "--max-note-steps", "4000", *flags]) == 0
    assert out.exists()


def test_music21_errors_spanning_lines_become_one_line(tmp_path):
    # Found by scripts/fuzz_inputs.py: music21 quotes the rest of the tune, newlines and all.
    score = tmp_path / "chord.abc"
    score.write_text("X:1\nL:1/8\nK:G\n[vc2ec gcec | c2ec dBGB :|\n|:ceAe ceAe | ceAe dBGB |\n")
    with pytest.raises(ValueError) as error:
        load_melodies(score, steps_per_quarter=4, cache=False, progress=False)
    message = str(error.value)
    assert message.startswith(f"{score}: cannot read score: ABCHandlerException: Bad chord indicator")
    assert "\n" not in message
    # music21 leaves the file open in the frames of its exception: close it here, not in a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del error
        gc.collect()


def test_a_melody_file_read_on_a_finer_grid_is_held_to_the_limits(tmp_path):
    # The limits were checked on the file's own grid only: re-read at 10**6
    # steps per quarter, a 6-quarter tune was spelled as 6 million tokens
    # each (the process was OOM-killed); now checked on the grid asked for.
    data = tmp_path / "m.txt"
    data.write_text("60 _ _ _ 62 _ 64 _\n67 _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ r _ _ _ 65 _ _ _\n")  # 4 steps per quarter
    with pytest.raises(InputLimitError) as error:
        load_melodies(data, steps_per_quarter=10**6, progress=False)
    assert str(error.value).startswith(f"{data}, tune 1: a note (pitch 60) at quarter note 0 lasts 1 quarter notes")
    assert "(max_note_steps, --max-note-steps)" in str(error.value)
    with pytest.raises(InputLimitError, match=r"m.txt, tune 2: the tune lasts 6 quarter notes = 6,000 grid steps"):
        load_melodies(data, steps_per_quarter=1000, progress=False, max_note_steps=4000, max_tune_steps=5999)
    assert [len(m) for m in load_melodies(data, steps_per_quarter=1000, progress=False, max_note_steps=4000)] == [
        2000,
        6000,
    ]
