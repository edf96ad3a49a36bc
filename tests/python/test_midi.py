"""Tokens -> music21 -> MIDI / MusicXML and back, checked by music21 itself."""

import math
import re
import subprocess
import sys
from fractions import Fraction

import pytest

from lstmininet.datasets import load_melodies_with_report, read_melody_file
from lstmininet.midi import (
    MAX_TEMPO_BPM,
    MIN_TEMPO_BPM,
    melody_events,
    read_midi,
    tokens_to_stream,
    write_midi,
    write_musicxml,
)

GRID_MELODY = "67 _ _ 69 71 _ r _ 72 _ _ _ _ _ _ _ r 74 _ 64 _ _ _".split()
# Octave -1 (0..11, which music21 once took for pitch classes in octave 4) and the ends of MIDI's range.
EDGE_PITCHES = [0, 1, 5, 11, 12, 127]
EDGE_MELODY = ["M:4/4", *[token for pitch in EDGE_PITCHES for token in (str(pitch), "_", "_", "_")]]


def _sounding_notes(score):
    """(MIDI pitch, start, quarter length) of every note, as music21 reads them."""
    return [(n.pitch.midi, Fraction(n.offset), Fraction(n.quarterLength)) for n in score.flatten().notes]


def _expected_notes(tokens, steps_per_quarter):
    notes, step = [], 0
    for pitch, length in melody_events(tokens):
        if pitch is not None:
            notes.append((pitch, Fraction(step, steps_per_quarter), Fraction(length, steps_per_quarter)))
        step += length
    return notes


def test_melody_events_group_holds():
    assert melody_events("60 _ _ r _ 62".split()) == [(60, 3), (None, 2), (62, 1)]


@pytest.mark.parametrize("steps_per_quarter", [4, 2])
def test_grid_melody_midi_round_trip_keeps_pitches_and_durations(tmp_path, steps_per_quarter):
    from music21 import converter

    path = write_midi(GRID_MELODY, tmp_path / "melody.mid", steps_per_quarter=steps_per_quarter)
    parsed = converter.parse(path)
    assert _sounding_notes(parsed) == _expected_notes(GRID_MELODY, steps_per_quarter)
    assert read_midi(path, steps_per_quarter=steps_per_quarter) == ["M:4/4", *GRID_MELODY]  # a file has a meter


def test_files_are_written_and_read_on_12_steps_per_quarter_unless_told(tmp_path):
    from music21 import converter

    path = write_midi(GRID_MELODY, tmp_path / "default.mid")  # no grid given: the library's default
    assert _sounding_notes(converter.parse(path, quantizePost=False)) == _expected_notes(GRID_MELODY, 12)
    assert read_midi(path) == ["M:4/4", *GRID_MELODY]


@pytest.mark.parametrize("steps_per_quarter", [5, 12, 24, 48])
def test_a_one_step_note_before_a_rest_keeps_its_length_through_midi(tmp_path, steps_per_quarter):
    # music21's MIDI quantization snapped such a note to a sixteenth or a triplet.
    rest = ["r", *["_"] * (3 * steps_per_quarter - 8)]
    tune = ["M:4/4", "K:Cmaj", "70", *["_"] * 5, "54", *rest, "69", *["_"] * (steps_per_quarter - 1)]
    path = write_midi(tune, tmp_path / "short.mid", steps_per_quarter=steps_per_quarter)
    assert read_midi(path, steps_per_quarter=steps_per_quarter) == tune


def test_midi_notes_finer_than_the_grid_are_counted_and_honour_off_grid_skip(tmp_path):
    run = ["M:4/4", "60", "62", "64", "65", "67", *["_"] * 11]  # four 32nd notes on the grid of 8
    path = write_midi(run, tmp_path / "32nds.mid", steps_per_quarter=8)
    melodies, report = load_melodies_with_report(path, steps_per_quarter=4, cache=False, progress=False)
    assert (report.songs_quantized, report.notes_quantized) == (1, 4)
    assert "r" not in melodies[0]  # rounded together, no gaps between the notes
    with pytest.raises(ValueError, match="off grid"):
        load_melodies_with_report(path, steps_per_quarter=4, off_grid="skip", cache=False, progress=False)


def test_original_melody_txt_line_midi_round_trip(original_melody_txt, tmp_path):
    from music21 import converter

    melodies, form = read_melody_file(original_melody_txt)  # no grid line: the sixteenth grid
    melody = melodies[0]
    path = write_midi(melody, tmp_path / "original.mid", steps_per_quarter=form.steps_per_quarter)
    notes = _sounding_notes(converter.parse(path))
    assert [n[0] for n in notes] == [int(t) for t in melody]
    assert all(n[2] == Fraction(1, 4) for n in notes)  # one sixteenth each
    assert read_midi(path, steps_per_quarter=form.steps_per_quarter, headers=False) == melody


def test_pitches_at_the_ends_of_the_midi_range_are_written_as_given(tmp_path):
    from music21 import midi

    path = write_midi(EDGE_MELODY, tmp_path / "edges.mid", steps_per_quarter=4)
    midi_file = midi.MidiFile()  # the file's events as stored, before music21 builds any pitch
    midi_file.open(str(path))
    midi_file.read()
    midi_file.close()
    note_ons = [event.pitch for track in midi_file.tracks for event in track.events if event.isNoteOn()]
    assert note_ons == EDGE_PITCHES
    assert read_midi(path, steps_per_quarter=4) == EDGE_MELODY


def test_pitches_at_the_ends_of_the_midi_range_survive_musicxml(tmp_path):
    from music21 import converter

    path = write_musicxml(EDGE_MELODY, tmp_path / "edges.musicxml", steps_per_quarter=4)
    assert [note[0] for note in _sounding_notes(converter.parse(path))] == EDGE_PITCHES
    assert read_midi(path, steps_per_quarter=4) == EDGE_MELODY


def test_musicxml_round_trip(tmp_path):
    from music21 import converter

    path = write_musicxml(GRID_MELODY, tmp_path / "melody.musicxml", steps_per_quarter=4, title="Test tune")
    parsed = converter.parse(path)
    assert _sounding_notes(parsed) == _expected_notes(GRID_MELODY, 4)
    assert parsed.metadata.bestTitle == "Test tune"


def test_musicxml_notes_across_barlines_come_back_as_one_held_note(tmp_path):
    across = ["60"] + ["_"] * 19 + ["r", "_", "62", "_"]  # 5 quarters: crosses the 4/4 bar
    path = write_musicxml(across, tmp_path / "across.musicxml", steps_per_quarter=4)
    # MusicXML splits it into tied notes; ties are merged
    assert read_midi(path, steps_per_quarter=4) == ["M:4/4", *across]


def test_stream_carries_tempo_and_instrument():
    from music21 import instrument, tempo

    score = tokens_to_stream(["60", "_"], tempo_bpm=90, instrument="Violin")
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    assert [m.number for m in marks] == [90]
    assert isinstance(next(score.recurse().getElementsByClass(instrument.Instrument)), instrument.Violin)
    by_program = tokens_to_stream(["60"], instrument=40)  # General MIDI 40 = violin
    assert next(by_program.recurse().getElementsByClass(instrument.Instrument)).midiProgram == 40


@pytest.mark.parametrize(
    "tokens, message",
    [
        (["_", "60"], r"token 1 '_': a hold cannot start"),
        (["60", "C4"], r"token 2 'C4': unknown token"),
        (["60", "140"], r"token 2 '140': MIDI pitch outside 0\.\.127"),
    ],
)
def test_bad_tokens_name_the_token(tmp_path, tokens, message):
    with pytest.raises(ValueError, match=message):
        write_midi(tokens, tmp_path / "bad.mid")


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="unknown instrument 'Kazoophone'"):
        tokens_to_stream(["60"], instrument="Kazoophone")
    with pytest.raises(ValueError, match="tempo_bpm must be positive"):
        tokens_to_stream(["60"], tempo_bpm=0)


def _stored_microseconds_per_quarter(path) -> int:
    """The file's Set Tempo event (FF 51 03 and three bytes), read from the bytes."""
    data = path.read_bytes()
    at = data.index(b"\xff\x51\x03") + 3
    return int.from_bytes(data[at : at + 3], "big")


@pytest.mark.parametrize("tempo_bpm", [3.6, 300, MIN_TEMPO_BPM, MAX_TEMPO_BPM])
def test_tempos_a_midi_file_can_store_are_written_to_the_microsecond(tmp_path, tempo_bpm):
    path = write_midi(["60", "_"], tmp_path / "tempo.mid", tempo_bpm=tempo_bpm)
    microseconds = _stored_microseconds_per_quarter(path)
    assert microseconds == round(60_000_000 / tempo_bpm)
    assert 60_000_000 / microseconds == pytest.approx(tempo_bpm, rel=1e-7)  # off by the microsecond's rounding


@pytest.mark.parametrize("tempo_bpm", [3.6, 300])
def test_tempo_reads_back_through_music21(tmp_path, tempo_bpm):
    from music21 import converter, tempo

    path = write_midi(["60", "_"], tmp_path / "tempo.mid", tempo_bpm=tempo_bpm)
    marks = list(converter.parse(path).recurse().getElementsByClass(tempo.MetronomeMark))
    assert [mark.number for mark in marks] == [pytest.approx(tempo_bpm, abs=0.005)]  # music21 keeps 2 decimals


@pytest.mark.parametrize(
    "tempo_bpm, shown",
    [
        (3.5, "3.5"),  # was stored as 164 bpm: 17,142,857 microseconds lost its 25th bit
        (math.nextafter(MIN_TEMPO_BPM, 0), repr(math.nextafter(MIN_TEMPO_BPM, 0))),
        (1e12, "1000000000000.0"),  # was stored as 0 microseconds per quarter note
        (60_000_001.0, "60000001.0"),
        (0, "0"),
        (-120, "-120"),
        (math.nan, "nan"),
        (math.inf, "inf"),
    ],
)
def test_tempos_a_midi_file_cannot_store_are_refused(tmp_path, tempo_bpm, shown):
    expected = rf"tempo_bpm {re.escape(shown)}: expected 3\.576279 to 60,000,000 quarter notes per minute"
    with pytest.raises(ValueError, match=expected):
        write_midi(["60", "_"], tmp_path / "tempo.mid", tempo_bpm=tempo_bpm)
    assert not (tmp_path / "tempo.mid").exists()


def test_a_tempo_that_is_not_a_number_is_refused(tmp_path):
    for tempo_bpm in ("120", True, None):
        with pytest.raises(ValueError, match=rf"tempo_bpm {re.escape(repr(tempo_bpm))}: expected a number"):
            write_midi(["60", "_"], tmp_path / "tempo.mid", tempo_bpm=tempo_bpm)
    assert not (tmp_path / "tempo.mid").exists()


def test_musicxml_refuses_an_infinite_tempo(tmp_path):
    # MusicXML writes any finite tempo as a decimal; infinity made music21 raise OverflowError.
    with pytest.raises(ValueError, match="tempo_bpm must be positive and finite, got inf"):
        write_musicxml(["60", "_"], tmp_path / "tempo.musicxml", tempo_bpm=math.inf)


@pytest.mark.parametrize("writer", [write_midi, write_musicxml], ids=["midi", "musicxml"])
def test_a_failed_write_keeps_the_file_it_would_replace(tmp_path, writer):
    # A full disk mid-write, here a file size limit the new file exceeds:
    # the old file, written in place, was cut short. Now it stays whole.
    target = tmp_path / "tune.out"
    writer(GRID_MELODY, target)
    before = target.read_bytes()
    code = (
        "import resource, signal, sys\nfrom lstmininet import midi\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) // 2}, {len(before) // 2}))\n"
        f"try:\n    midi.{writer.__name__}({GRID_MELODY * 8!r}, sys.argv[1])\nexcept OSError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=120)
    assert "File too large" in done.stdout, done.stdout + done.stderr
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tune.out"]


def test_unreadable_midi_names_the_file(tmp_path):
    path = tmp_path / "garbage.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06 truncated nonsense")
    with pytest.raises(ValueError, match=rf"{path}: cannot read score"):
        read_midi(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.mid: no such score file"):
        read_midi(tmp_path / "missing.mid")
