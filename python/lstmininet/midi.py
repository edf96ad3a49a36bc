"""Melody grid tokens -> MIDI and MusicXML files, and MIDI back to tokens.

A note's length is its onset step plus the ``_`` steps after it, on the
grid ``steps_per_quarter`` says: the library's default 12 (one step a
twelfth of a quarter note: 3 steps a sixteenth, 4 an eighth-note triplet),
or the grid a model's tokenizer or a Melody.txt file gives (4: one step a
sixteenth note). Writing goes through
:func:`lstmininet.scores.tokens_to_stream`; reading MIDI back goes through
the same conversion as corpus loading (:mod:`lstmininet.scores`), so
``read_midi(write_midi(t))`` (on one grid) gives ``t`` for any melody within
the input limits (:mod:`lstmininet.input_limits`) that starts and ends with a
note, has a meter in its header and no two rests in a row: rests before the
first note or after the last are dropped, and adjacent rests come back as one
rest, as they sound (``r d6 r d1`` as ``r d7``).

A melody's header (``M:6/8 K:Dmaj``) becomes the file's time and key
signature and comes back when the file is read. Without a meter the file is
in 4/4 (music21's default), so reading it gives ``M:4/4``. A MIDI key
signature holds only major or minor, so a modal key (``K:Ador``) is also
written as a text event that reading puts back
(:func:`lstmininet.score_header.midi_bytes_with_mode`); other programs see
its signature (one sharp).

A MIDI file stores its tempo as microseconds per quarter note in three
bytes, so :func:`write_midi` takes ``tempo_bpm`` from :data:`MIN_TEMPO_BPM`
(about 3.576: 16,777,215 microseconds a quarter note) to
:data:`MAX_TEMPO_BPM` (60,000,000: one microsecond) quarter notes per minute
and refuses the rest (:func:`check_tempo`). The WAV synthesiser keeps to the
same range, so ``generate --tempo`` means the same for every file it writes.

Pitches 0-11 are octave -1 (``C-1`` is 0). The MIDI file holds them as
given; a MusicXML file writes ``<octave>-1</octave>``, which music21 reads
back but the MusicXML schema (octaves 0-9) does not allow, so stricter
programs may refuse those notes.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path

from .atomic_file import write_bytes_atomically
from .input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS
from .melody import DEFAULT_STEPS_PER_QUARTER, melody_events
from .score_header import midi_bytes_with_mode
from .scores import DEFAULT_OFF_GRID, LoadReport, parse_score_file, score_to_tokens, tokens_to_stream

# melody_events and tokens_to_stream used to live here; re-exported so those imports keep working.
__all__ = [
    "MAX_TEMPO_BPM",
    "MIN_TEMPO_BPM",
    "check_tempo",
    "melody_events",
    "read_midi",
    "tokens_to_stream",
    "write_midi",
    "write_musicxml",
]

# music21 writes round(60e6 / bpm) into the three bytes of the Set Tempo event, keeping only
# the low 24 bits of a larger count (3.5 bpm came out as 164) and 0 for a huge tempo.
MAX_MICROSECONDS_PER_QUARTER = 2**24 - 1
MIN_TEMPO_BPM = 60_000_000 / MAX_MICROSECONDS_PER_QUARTER  # 3.576279... quarter notes per minute
MAX_TEMPO_BPM = 60_000_000.0  # one microsecond per quarter note


def check_tempo(tempo: float, name: str = "tempo_bpm") -> None:
    """ValueError naming ``name`` unless ``tempo`` (quarter notes per minute) is one a MIDI file can store."""
    if isinstance(tempo, bool) or not isinstance(tempo, numbers.Real):
        raise ValueError(f"{name} {tempo!r}: expected a number of quarter notes per minute")
    # Compared as given (NaN fails, and an int too large for a float is no error).
    if not MIN_TEMPO_BPM <= tempo <= MAX_TEMPO_BPM:
        shown = repr(float(tempo)) if isinstance(tempo, float) else repr(tempo)  # all digits: 60000001.0, not 6e+07
        raise ValueError(
            f"{name} {shown}: expected {MIN_TEMPO_BPM:.7g} to {MAX_TEMPO_BPM:,.0f} quarter notes per minute, "
            "the tempos a MIDI file can store"
        )


def write_midi(
    tokens: Sequence[str],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
) -> Path:
    """Write a melody as a Standard MIDI File; returns the path.

    ValueError names a bad token, or a ``tempo_bpm`` outside the range a MIDI
    file can store (:func:`check_tempo`), before anything is written.
    """
    check_tempo(tempo_bpm, "tempo_bpm")
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
        write_bytes_atomically(path, midi_bytes_with_mode(score, tokens))
    elif path.suffix.lower() == ".mxl":  # music21 zips it
        score.write(fmt, fp=path)
    else:  # the bytes music21's write would save, saved atomically
        from music21.musicxml.m21ToXml import GeneralObjectExporter  # music21 is imported when needed

        write_bytes_atomically(path, GeneralObjectExporter(score).parse())
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
