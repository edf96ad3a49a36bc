"""The melody grid grammar: tokens, validation, grid changes, transposition.

A melody is a list of grid tokens, the form every part of the library
shares (tokenizers convert to pitch + duration tokens,
:mod:`lstmininet.duration_tokens`; Melody.txt files are
:mod:`lstmininet.melody_file`):

* ``0``..``127``  a MIDI pitch starts a note that lasts one grid step,
* ``r``           a rest starts (one step),
* ``_``           the previous event (note or rest) lasts one more step.

The grid has ``steps_per_quarter`` steps per quarter note: 12 by default
(sixteenths, eighth- and sixteenth-note triplets), 4 = sixteenths (the
grid of Melody.txt files without a grid line, :mod:`lstmininet.melody_file`).
A melody may open with header tokens, its meter and key (``M:6/8 K:Dmaj``,
:mod:`lstmininet.tune_header`).
A line of bare pitches (the original LSTMiniNet Melody.txt) is simply a
melody in which every note lasts one step.

This module is the bottom of the melody stack: plain Python, no music21.
Score conversion (:mod:`lstmininet.scores`), tokenizers, Melody.txt and
MIDI files and datasets build on it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

from .tune_header import KEY_PREFIX, is_header_token, split_header, transpose_key_token, validate_header_token

REST = "r"
HOLD = "_"
MIDI_PITCH_MIN = 0
MIDI_PITCH_MAX = 127

MELODY_FILE_EXTENSIONS = (".txt",)
DEFAULT_STEPS_PER_QUARTER = 12  # holds triplets: every O'Neill tune but those with 32nd notes or odd tuplets
LEGACY_STEPS_PER_QUARTER = 4  # the sixteenth grid of Melody.txt files that do not declare theirs


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


_MAX_PITCH_DIGITS = 3  # longer numbers are out of range: never convert them (int() refuses > 4300 digits)


def parse_pitch(token: str) -> int | None:
    """Return the MIDI pitch a token spells, or None if it is not a number.

    Only canonical decimal spellings count ("60", not "060" or "+60"), so a
    token always decodes back to exactly the text it came from. A number
    too long to be a pitch is returned as -1 (out of range) without
    converting all its digits.
    """
    digits = token[1:] if token.startswith("-") else token
    if not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits) > _MAX_PITCH_DIGITS:
        return -1
    if token.startswith("-"):
        return -int(digits)  # negative: caller reports it as out of range
    return int(token) if str(int(token)) == token else None


def show_token(token: str, limit: int = 24) -> str:
    """repr() of a token, abbreviated when long so a message stays one short line."""
    if len(token) <= limit:
        return repr(token)
    kind = "digits" if token.isascii() and token.isdigit() else "characters"
    return f"{token[:limit]!r}... ({len(token)} {kind})"


def _where(source: str | None, line: int | None) -> str:
    """Format 'file, line N' prefixes for error messages."""
    parts = []
    if source is not None:
        parts.append(str(source))
    if line is not None:
        parts.append(f"line {line}")
    return ", ".join(parts) + ": " if parts else ""


def validate_melody_tokens(tokens: Sequence[str], source: str | None = None, line: int | None = None) -> None:
    """Raise ValueError naming source, line and token if a melody is malformed.

    Checks every token is a MIDI pitch in 0..127, ``r`` or ``_``, and that
    the melody does not open with ``_`` (a hold needs something to hold).
    Special tokens (``<s>``, ``</s>``) are added by the tokenizer, so they
    are rejected here too: files hold plain melodies.
    """
    where = _where(source, line)
    header, body = split_header(tokens)
    _validate_header(header, where)
    if not body:
        raise ValueError(f"{where}empty melody" + (" (only a header)" if header else ""))
    for position, token in enumerate(body, start=len(header) + 1):
        if token in (REST, HOLD):
            if token == HOLD and position == len(header) + 1:
                raise ValueError(
                    f"{where}token {position} {token!r}: a hold cannot start a "
                    "melody (it continues the previous note or rest)"
                )
            continue
        pitch = parse_pitch(token)
        if pitch is None:
            raise ValueError(
                f"{where}token {position} {show_token(token)}: unknown token (expected a "
                f"MIDI pitch {MIDI_PITCH_MIN}..{MIDI_PITCH_MAX}, {REST!r} or {HOLD!r})"
            )
        if not MIDI_PITCH_MIN <= pitch <= MIDI_PITCH_MAX:
            raise ValueError(
                f"{where}token {position} {show_token(token)}: MIDI pitch outside {MIDI_PITCH_MIN}..{MIDI_PITCH_MAX}"
            )


def _validate_header(header: Sequence[str], where: str) -> None:
    """Header tokens are canonical, at most one meter and one key, meter first."""
    for position, token in enumerate(header, start=1):
        try:
            validate_header_token(token)
        except ValueError as exc:
            raise ValueError(f"{where}token {position}: {exc}") from None
    kinds = [token[:2] for token in header]
    if kinds not in ([], ["M:"], ["K:"], ["M:", "K:"]):
        raise ValueError(f"{where}header {' '.join(header)!r}: at most one meter (M:) and one key (K:), meter first")


def melody_events(tokens: Sequence[str]) -> list[tuple[int | None, int]]:
    """Group tokens into (pitch or None for a rest, length in steps) events; a header is skipped.

    Raises ValueError naming the token if the melody is malformed (unknown
    token, pitch outside 0..127, or ``_`` before any note or rest).
    """
    validate_melody_tokens(list(tokens), source="melody")
    events: list[tuple[int | None, int]] = []
    for token in split_header(tokens)[1]:
        if token == HOLD:
            pitch, length = events[-1]
            events[-1] = (pitch, length + 1)
        else:
            events.append((None if token == REST else int(token), 1))
    return events


@dataclasses.dataclass
class GridChange:
    """A melody moved to another grid: its tokens (None: off the new grid), notes rounded and dropped."""

    tokens: list[str] | None
    notes_quantized: int = 0
    notes_dropped: int = 0


def change_grid(melody: Sequence[str], source: int, target: int, quantize: bool = False) -> GridChange:
    """Re-spell a melody from ``source`` to ``target`` steps per quarter note.

    A finer grid is always exact. On a coarser one an event that starts or
    ends between its steps makes the result None, or with ``quantize`` its
    start and end round to the nearest step (counted), and an event that
    rounds to no length is dropped (counted). The header is kept.
    """
    header, _ = split_header(melody)
    boundaries = [Fraction(0)]
    events = melody_events(melody)
    for _, length in events:
        boundaries.append(boundaries[-1] + Fraction(length * target, source))
    spans = zip(boundaries, boundaries[1:], strict=False)
    off_grid = sum(1 for start, end in spans if start.denominator > 1 or end.denominator > 1)
    if off_grid and not quantize:
        return GridChange(None)
    steps = [round(b) for b in boundaries]
    kept = [
        (REST if pitch is None else str(pitch), end - start)
        for (pitch, _), start, end in zip(events, steps, steps[1:], strict=False)
        if end > start
    ]
    dropped = len(events) - len(kept)
    return GridChange(spell_on_grid(header, kept) if kept else None, off_grid, dropped)


def spell_on_grid(header: Sequence[str], events: Sequence[tuple[str, int]]) -> list[str]:
    """Header plus (pitch-or-``r`` token, steps) events -> grid tokens."""
    tokens = list(header)
    for token, steps in events:
        tokens.append(token)
        tokens += [HOLD] * (steps - 1)
    return tokens


# --------------------------------------------------------------------------
# Transposition
# --------------------------------------------------------------------------


def transpose_melody(melody: Sequence[str], semitones: int) -> list[str]:
    """Shift every pitch by ``semitones``; ValueError if one leaves 0..127.

    A key token moves along (``K:Dmaj`` up 2 is ``K:Emaj``; spelling in
    :func:`lstmininet.tune_header.transpose_key_token`); a meter stays.
    """
    shifted = []
    for position, token in enumerate(melody, start=1):
        if token in (REST, HOLD):
            shifted.append(token)
            continue
        if is_header_token(token):
            shifted.append(transpose_key_token(token, semitones) if token.startswith(KEY_PREFIX) else token)
            continue
        pitch = int(token) + semitones
        if not MIDI_PITCH_MIN <= pitch <= MIDI_PITCH_MAX:
            raise ValueError(
                f"token {position} {token!r}: transposing by {semitones:+d} gives "
                f"pitch {pitch}, outside {MIDI_PITCH_MIN}..{MIDI_PITCH_MAX}"
            )
        shifted.append(str(pitch))
    return shifted


def augment_transpositions(
    melodies: Iterable[Sequence[str]], semitones: Iterable[int] = range(-5, 7)
) -> list[list[str]]:
    """Every melody shifted by every amount in ``semitones`` (include 0 to keep originals).

    Shifts that would push a pitch outside 0..127 are left out for that melody.
    Key tokens move with the pitches (:func:`transpose_melody`).
    """
    amounts = list(semitones)
    augmented = []
    for melody in melodies:
        for amount in amounts:
            try:
                augmented.append(transpose_melody(melody, amount))
            except ValueError:
                continue
    return augmented


# --------------------------------------------------------------------------
# Melody.txt files
# --------------------------------------------------------------------------


_LINE_END = re.compile(r"\r\n|\r|\n")


def split_melody_lines(text: str) -> list[str]:
    """Split Melody.txt text into lines as editors count them.

    "\\n", "\\r\\n" and a lone "\\r" (old Mac files; taken for a space, it
    merged a whole file into one tune) end a line. ``str.splitlines`` would
    also break at form feeds, U+2028 and others, which editors do not,
    shifting every line number reported after them; here they are whitespace
    inside a line.
    """
    return _LINE_END.split(text)


def read_utf8_file(path: str | os.PathLike, what: str = "text file") -> str:
    """A UTF-8 file's text (a BOM is dropped); errors name the file, and the line for bad bytes."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_file() and not path.is_dir():
        # a FIFO would block the read, a device like /dev/zero never end it
        raise ValueError(f"{path}: not a regular file (a device, FIFO or socket), expected a {what}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a folder, expected a {what}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_LINE_END.split(data[: exc.start].decode("utf-8")))
        raise ValueError(f"{path}, line {line}: not UTF-8 text ({exc.reason})") from None
