"""Melody grid tokens -> MIDI and MusicXML files, and MIDI back to tokens.

A note's length is its onset step plus the ``_`` steps after it, on the
grid ``steps_per_quarter`` says: the library's default 12 (one step a
twelfth of a quarter note: 3 steps a sixteenth, 4 an eighth-note triplet),
or the grid a model's tokenizer or a Melody.txt file gives (4: one step a
sixteenth note). Writing goes through
:func:`lstmininet.scores.tokens_to_stream`; reading MIDI back goes through
the same conversion as corpus loading (:mod:`lstmininet.scores`), so
``read_midi(write_midi(t))`` gives ``t`` for any melody that starts and ends
with a note and has a meter in its header.

A melody's header (``M:6/8 K:Dmaj``) becomes the file's time and key
signature and comes back when the file is read. Without a meter the file is
in 4/4 (music21's default), so reading it gives ``M:4/4``. A MIDI key
signature holds only major or minor, so a modal key (``K:Ador``) is also
written as a text event that reading puts back
(:func:`lstmininet.score_header.midi_bytes_with_mode`); other programs see
its signature (one sharp).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS
from .melody import DEFAULT_STEPS_PER_QUARTER, melody_events
from .score_header import midi_bytes_with_mode
from .scores import DEFAULT_OFF_GRID, LoadReport, parse_score_file, score_to_tokens, tokens_to_stream

# melody_events and tokens_to_stream used to live here; re-exported so those imports keep working.
__all__ = ["melody_events", "read_midi", "tokens_to_stream", "write_midi", "write_musicxml"]


def write_midi(
    tokens: Sequence[str],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
) -> Path:
    """Write a melody as a Standard MIDI File; returns the path."""
    return _write_score(
        "midi", tokens, path, steps_per_quarter=steps_per_quarter, tempo_bpm=tempo_bpm, instrument=instrument
    )


def write_musicxml(
    tokens: Sequence[str],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
    title: str | None = None,
) -> Path:
    """Write a melody as MusicXML (open it in MuseScore and friends); returns the path."""
    return _write_score(
        "musicxml",
        tokens,
        path,
        steps_per_quarter=steps_per_quarter,
        tempo_bpm=tempo_bpm,
        instrument=instrument,
        title=title,
    )


def _write_score(fmt: str, tokens: Sequence[str], path: str | os.PathLike, **stream_options) -> Path:
    path = Path(path)
    score = tokens_to_stream(tokens, **stream_options)
    if fmt == "midi":
        path.write_bytes(midi_bytes_with_mode(score, tokens))
    else:
        score.write(fmt, fp=path)
    return path


def read_midi(
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    off_grid: str = DEFAULT_OFF_GRID,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
    headers: bool = True,
) -> list[str]:
    """Read the melody (top part) of a MIDI or other score file as grid tokens.

    With ``headers`` the tokens open with the file's meter and key (``M:6/8 K:Dmaj``).

    Raises ValueError naming the file if it cannot be read, has no usable
    melody, or is longer than the limits (:mod:`lstmininet.input_limits`).
    """
    scores = parse_score_file(
        path, steps_per_quarter=steps_per_quarter, max_note_steps=max_note_steps, max_tune_steps=max_tune_steps
    )
    report = LoadReport()
    tokens = score_to_tokens(
        scores[0],
        steps_per_quarter=steps_per_quarter,
        off_grid=off_grid,
        report=report,
        source=str(path),
        max_note_steps=max_note_steps,
        max_tune_steps=max_tune_steps,
        headers=headers,
    )
    if tokens is None:
        reason = next(iter(report.skipped)).replace("_", " ")
        raise ValueError(f"{path}: no usable melody ({reason})")
    return tokens
