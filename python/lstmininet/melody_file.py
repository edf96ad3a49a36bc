"""Melody.txt files: one melody per line, and a grid line that says how to read them.

A file may declare its grid and token form in one machine-readable comment
line before its first melody::

    # lstmininet-melody: steps_per_quarter=12 encoding=duration
    M:6/8 K:Dmaj 62 d3 r d6 ...

* ``steps_per_quarter=N``: grid steps per quarter note (required),
* ``encoding=grid``: grid tokens (``60 _ _ r``; the default), or
  ``encoding=duration``: pitch + length tokens (``60 d3 r d1``,
  :mod:`lstmininet.duration_tokens`), two tokens per note or rest.

Older readers take the line for a comment. A file without it is on the
sixteenth grid (4 steps per quarter) in grid tokens, as every Melody.txt
was before the line existed; a line of bare pitches (the original
LSTMiniNet file) is a melody of one-step notes. A word starting with
``#`` starts a comment (a ``#`` inside a token is a sharp: ``K:F#min``);
blank lines are skipped. Errors name the file, line and token.

Reading always gives grid-token melodies (the library's form) and the
file's :class:`MelodyFormat`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .duration_tokens import ENCODINGS, is_duration_token, parse_duration_line, to_duration_tokens
from .input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS
from .melody import (
    DEFAULT_STEPS_PER_QUARTER,
    LEGACY_STEPS_PER_QUARTER,
    read_utf8_file,
    split_melody_lines,
    validate_melody_tokens,
)

DIRECTIVE = "lstmininet-melody:"
_MAX_GRID_DIGITS = 6


@dataclasses.dataclass(frozen=True)
class MelodyFormat:
    """How a Melody.txt file spells its melodies: the grid and the token form."""

    steps_per_quarter: int = LEGACY_STEPS_PER_QUARTER
    encoding: str = "grid"

    def directive(self) -> str:
        """The file's grid line, without the leading ``# ``."""
        return f"{DIRECTIVE} steps_per_quarter={self.steps_per_quarter} encoding={self.encoding}"

    def line(self, melody: Sequence[str]) -> str:
        """One grid-token melody as a line of this file."""
        tokens = to_duration_tokens(melody, max_token_steps=None) if self.encoding == "duration" else melody
        return " ".join(tokens)


def parse_directive(comment: str, where: str) -> MelodyFormat | None:
    """The format a comment's text declares, None if it is an ordinary comment; ValueError if malformed."""
    text = comment.strip()
    if not text.startswith(DIRECTIVE):
        return None
    fields: dict[str, str] = {}
    for item in text[len(DIRECTIVE) :].split():
        name, equals, value = item.partition("=")
        if not equals or name not in ("steps_per_quarter", "encoding"):
            raise ValueError(
                f"{where}{DIRECTIVE} {item!r}: expected steps_per_quarter=N and optionally encoding=grid|duration"
            )
        if name in fields:
            raise ValueError(f"{where}{DIRECTIVE} {name} is given twice")
        fields[name] = value
    grid = fields.get("steps_per_quarter")
    if grid is None:
        raise ValueError(f"{where}{DIRECTIVE} needs steps_per_quarter=N (grid steps per quarter note)")
    if not (grid.isascii() and grid.isdigit() and not grid.startswith("0") and len(grid) <= _MAX_GRID_DIGITS):
        raise ValueError(f"{where}{DIRECTIVE} steps_per_quarter={grid[:24]!r}: expected a positive integer")
    encoding = fields.get("encoding", "grid")
    if encoding not in ENCODINGS:
        raise ValueError(f"{where}{DIRECTIVE} encoding={encoding[:24]!r}: expected one of {', '.join(ENCODINGS)}")
    return MelodyFormat(int(grid), encoding)


def parse_melody_text(
    lines: Iterable[str],
    source: str,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
) -> tuple[list[list[str]], MelodyFormat]:
    """Parse Melody.txt lines into grid-token melodies and the file's format.

    The limits apply to duration lines (a few characters can spell a long note);
    a grid line is as long as its music already.
    """
    melodies: list[list[str]] = []
    declared: MelodyFormat | None = None
    for number, line in enumerate(lines, start=1):
        words = line.split()
        # A comment starts at a word that starts with '#'; a '#' inside a token is a sharp (K:F#min).
        comment = next((index for index, word in enumerate(words) if word.startswith("#")), len(words))
        tokens = words[:comment]
        if comment == 0 and words:
            found = parse_directive(" ".join(words)[1:], f"{source}, line {number}: ")
            if found is not None:
                if declared is not None or melodies:
                    raise ValueError(
                        f"{source}, line {number}: the {DIRECTIVE} line must come once, before the first melody"
                    )
                declared = found
                continue
        if not tokens:
            continue
        if declared is not None and declared.encoding == "duration":
            melodies.append(parse_duration_line(tokens, source, number, max_note_steps, max_tune_steps))
        else:
            try:
                validate_melody_tokens(tokens, source=source, line=number)
            except ValueError as err:
                if declared is None and any(is_duration_token(t) for t in tokens):
                    raise ValueError(
                        f"{err}; a file of lengths ('d3') needs the line "
                        f"'# {DIRECTIVE} steps_per_quarter=N encoding=duration' before its first melody"
                    ) from None
                raise
            melodies.append(tokens)
    if not melodies:
        raise ValueError(f"{source}: no melodies found (file is empty or only comments/blank lines)")
    return melodies, declared or MelodyFormat()


def parse_melody_lines(lines: Iterable[str], source: str) -> list[list[str]]:
    """Parse Melody.txt lines; the melodies only (see :func:`parse_melody_text`)."""
    return parse_melody_text(lines, source)[0]


def read_melody_file(
    path: str | os.PathLike,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
) -> tuple[list[list[str]], MelodyFormat]:
    """A Melody.txt file's melodies (grid tokens, on the file's grid) and its format.

    LF, CRLF or CR line endings, a UTF-8 BOM, blank lines and ``#`` comments are fine.
    """
    path = Path(path).expanduser()
    text = read_utf8_file(path, "melody file")
    return parse_melody_text(split_melody_lines(text), str(path), max_note_steps, max_tune_steps)


def load_melody_file(path: str | os.PathLike) -> list[list[str]]:
    """A Melody.txt file's melodies as grid tokens on the file's grid (:func:`read_melody_file` also gives the grid)."""
    return read_melody_file(path)[0]


def save_melody_file(
    melodies: Iterable[Sequence[str]],
    path: str | os.PathLike,
    header: Sequence[str] = (),
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    encoding: str = "grid",
) -> Path:
    """Write grid-token melodies one per line (LF endings): the grid line, ``#`` header lines, the melodies.

    ``steps_per_quarter`` is the grid the melodies are on, by default the one
    scores are read on (12); the grid line records it.
    ``encoding="duration"`` writes each line as pitch + length tokens.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if isinstance(steps_per_quarter, bool) or not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
        raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")
    path = Path(path)
    form = MelodyFormat(steps_per_quarter, encoding)
    lines = [f"# {form.directive()}", *(f"# {h}".rstrip() for h in header)]
    first = len(lines) + 1
    for index, melody in enumerate(melodies):
        validate_melody_tokens(melody, source=str(path), line=first + index)
        lines.append(form.line(melody))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
