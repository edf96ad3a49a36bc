"""Melody grid tokens <-> music21 streams, MIDI and MusicXML files.

A note's length is its onset step plus the ``_`` steps after it; at
``steps_per_quarter=4`` one step is a sixteenth note. Reading MIDI back
goes through the same conversion as corpus loading
(:mod:`lstmininet.music21_loading`), so ``read_midi(write_midi(t))`` gives ``t``
for any melody that starts and ends with a note.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from .tokenizers import HOLD, REST, validate_melody_tokens


def melody_events(tokens: Sequence[str]) -> list[tuple[int | None, int]]:
    """Group tokens into (pitch or None for a rest, length in steps) events.

    Raises ValueError naming the token if the melody is malformed (unknown
    token, pitch outside 0..127, or ``_`` before any note or rest).
    """
    validate_melody_tokens(list(tokens), source="melody")
    events: list[tuple[int | None, int]] = []
    for token in tokens:
        if token == HOLD:
            pitch, length = events[-1]
            events[-1] = (pitch, length + 1)
        else:
            events.append((None if token == REST else int(token), 1))
    return events


def _make_instrument(instrument):
    """music21 instrument from a name ("Violin") or General MIDI program (0..127)."""
    from music21 import exceptions21
    from music21 import instrument as m21_instrument

    if isinstance(instrument, int):
        if not 0 <= instrument <= 127:
            raise ValueError(f"instrument program {instrument} outside General MIDI 0..127")
        return m21_instrument.instrumentFromMidiProgram(instrument)
    try:
        return m21_instrument.fromString(str(instrument))
    except exceptions21.InstrumentException:
        raise ValueError(f"unknown instrument {instrument!r} (try e.g. 'Piano', 'Violin', or a MIDI program number)") from None


def tokens_to_stream(
    tokens: Sequence[str],
    *,
    steps_per_quarter: int = 4,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
    title: str | None = None,
):
    """Build a one-part music21 Score from grid tokens (tempo in quarter notes per minute)."""
    from music21 import metadata, note, stream, tempo

    if not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
        raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")
    if not tempo_bpm > 0:
        raise ValueError(f"tempo_bpm must be positive, got {tempo_bpm!r}")
    part = stream.Part()
    if instrument is not None:
        part.insert(0, _make_instrument(instrument))
    part.insert(0, tempo.MetronomeMark(number=tempo_bpm))
    for pitch, length in melody_events(tokens):
        quarter_length = Fraction(length, steps_per_quarter)  # exact, no float drift
        element = note.Rest() if pitch is None else note.Note(pitch)
        element.quarterLength = quarter_length
        part.append(element)
    score = stream.Score()
    if title:
        score.metadata = metadata.Metadata(title=title)
    score.insert(0, part)
    return score


def write_midi(
    tokens: Sequence[str],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = 4,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
) -> Path:
    """Write a melody as a Standard MIDI File; returns the path."""
    return _write_score("midi", tokens, path, steps_per_quarter=steps_per_quarter, tempo_bpm=tempo_bpm,
                        instrument=instrument)


def write_musicxml(
    tokens: Sequence[str],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = 4,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
    title: str | None = None,
) -> Path:
    """Write a melody as MusicXML (open it in MuseScore and friends); returns the path."""
    return _write_score("musicxml", tokens, path, steps_per_quarter=steps_per_quarter, tempo_bpm=tempo_bpm,
                        instrument=instrument, title=title)


def _write_score(fmt: str, tokens: Sequence[str], path: str | os.PathLike, **stream_options) -> Path:
    path = Path(path)
    tokens_to_stream(tokens, **stream_options).write(fmt, fp=path)
    return path


def read_midi(
    path: str | os.PathLike, *, steps_per_quarter: int = 4, off_grid: str = "quantize"
) -> list[str]:
    """Read the melody (top part) of a MIDI or other score file as grid tokens.

    Raises ValueError naming the file if it cannot be read or has no usable melody.
    """
    from .music21_loading import LoadReport, parse_score_file, score_to_tokens

    scores = parse_score_file(path, steps_per_quarter=steps_per_quarter)
    report = LoadReport()
    tokens = score_to_tokens(
        scores[0], steps_per_quarter=steps_per_quarter, off_grid=off_grid,
        report=report, source=str(path),
    )
    if tokens is None:
        reason = next(iter(report.skipped)).replace("_", " ")
        raise ValueError(f"{path}: no usable melody ({reason})")
    return tokens
