"""Tokens -> music21 -> MIDI / MusicXML and back, checked by music21 itself."""

from fractions import Fraction

import pytest

from lstmininet.datasets import read_melody_file
from lstmininet.midi import melody_events, read_midi, tokens_to_stream, write_midi, write_musicxml

GRID_MELODY = "67 _ _ 69 71 _ r _ 72 _ _ _ _ _ _ _ r 74 _ 64 _ _ _".split()


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


def test_original_melody_txt_line_midi_round_trip(original_melody_txt, tmp_path):
    from music21 import converter

    melodies, form = read_melody_file(original_melody_txt)  # no grid line: the sixteenth grid
    melody = melodies[0]
    path = write_midi(melody, tmp_path / "original.mid", steps_per_quarter=form.steps_per_quarter)
    notes = _sounding_notes(converter.parse(path))
    assert [n[0] for n in notes] == [int(t) for t in melody]
    assert all(n[2] == Fraction(1, 4) for n in notes)  # one sixteenth each
    assert read_midi(path, steps_per_quarter=form.steps_per_quarter, headers=False) == melody


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


def test_unreadable_midi_names_the_file(tmp_path):
    path = tmp_path / "garbage.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06 truncated nonsense")
    with pytest.raises(ValueError, match=rf"{path}: cannot read score"):
        read_midi(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.mid: no such score file"):
        read_midi(tmp_path / "missing.mid")
