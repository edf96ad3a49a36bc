"""Pitch + duration tokens: each note or rest as its pitch (or ``r``) followed by its length.

The grid melody ``62 _ _ r _ _ _ _ _`` is the event sequence ``62 d3 r d6``:
a length token ``d<N>`` says the event before it lasts N grid steps. Header
tokens (``M:6/8 K:Dmaj``) open the sequence unchanged. Two tokens per event
instead of one per grid step: on the 12-per-quarter grid an O'Neill tune
is about 3.8 times shorter, and the model predicts a note's length in one
step instead of counting hold tokens (README, "Musical evaluation").

Melodies inside the library stay grid tokens; this module converts.

* :func:`to_duration_tokens`: grid melody -> duration tokens (exact).
* :func:`parse_duration_line`: a Melody.txt line in this form -> grid melody,
  strict (every event followed by exactly one length; errors name the token).
* :func:`decode_duration_tokens`: whatever a model sampled -> a valid grid
  melody, by the rules in its docstring.

Plain Python, above :mod:`lstmininet.melody`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS, InputLimitError
from .melody import (
    HOLD,
    MIDI_PITCH_MAX,
    MIDI_PITCH_MIN,
    REST,
    melody_events,
    parse_pitch,
    show_token,
    spell_on_grid,
    validate_melody_tokens,
)
from .tune_header import split_header

ENCODINGS = ("grid", "duration")  # how a tokenizer or a Melody.txt file spells melodies
DURATION_PREFIX = "d"
# The longest single length token: longer events are written as a chain (d512 d88 = 600 steps),
# so a vocabulary stays small and one sampled token never expands to more than this many steps.
MAX_DURATION_TOKEN_STEPS = DEFAULT_MAX_NOTE_STEPS
_MAX_DURATION_DIGITS = 9  # longer numbers are out of range: never convert them


def duration_token(steps: int) -> str:
    """``3`` -> ``"d3"``."""
    return f"{DURATION_PREFIX}{steps}"


def parse_duration(token: str) -> int | None:
    """The steps a length token spells (``"d3"`` -> 3), or None if it is not one.

    Only canonical spellings count (``d3``, not ``d03``, ``d0`` or ``d+3``); a
    number too long to be a length gives -1 (out of range) without converting it.
    """
    digits = token[len(DURATION_PREFIX) :] if token.startswith(DURATION_PREFIX) else ""
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        return None
    return -1 if len(digits) > _MAX_DURATION_DIGITS else int(digits)


def is_duration_token(token: str) -> bool:
    return parse_duration(token) is not None


def length_chain(steps: int, max_token_steps: int | None = MAX_DURATION_TOKEN_STEPS) -> list[int]:
    """One event's length as token lengths: ``[steps]``, or a chain of ``max_token_steps`` then the rest."""
    if max_token_steps is None or steps <= max_token_steps:
        return [steps]
    whole, rest = divmod(steps, max_token_steps)
    return [max_token_steps] * whole + ([rest] if rest else [])


def to_duration_tokens(melody: Sequence[str], max_token_steps: int | None = MAX_DURATION_TOKEN_STEPS) -> list[str]:
    """Grid melody -> header, then pitch-or-``r`` and length tokens per event.

    Events longer than ``max_token_steps`` get a chain of length tokens (None: always one).
    ValueError naming the token if the melody is malformed.
    """
    tokens = split_header(melody)[0]
    for pitch, steps in melody_events(melody):
        tokens.append(REST if pitch is None else str(pitch))
        tokens += [duration_token(n) for n in length_chain(steps, max_token_steps)]
    return tokens


def parse_duration_line(
    tokens: Sequence[str],
    source: str | None = None,
    line: int | None = None,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
) -> list[str]:
    """A Melody.txt line of duration tokens -> grid melody; strict, for files.

    Each pitch or ``r`` must be followed by exactly one length token. A length
    above ``max_note_steps`` or a tune above ``max_tune_steps`` raises
    InputLimitError before anything is expanded (a few bytes must not become
    gigabytes of grid tokens). Errors name source, line and token position.
    """
    where = ", ".join(str(p) for p in (source, None if line is None else f"line {line}") if p is not None)
    where = f"{where}: " if where else ""
    header, body = split_header(tokens)
    if header:
        validate_melody_tokens([*header, REST], source=source, line=line)  # the header on its own
    events: list[tuple[str, int]] = []
    pending: str | None = None  # the pitch or r still waiting for its length
    total = 0
    for position, token in enumerate(body, start=len(header) + 1):
        steps = parse_duration(token)
        if steps is None:
            if pending is not None:
                raise ValueError(f"{where}token {position} {token!r}: expected a length such as 'd3' after {pending!r}")
            if token == HOLD:
                raise ValueError(f"{where}token {position} '_': this file writes lengths as 'd<N>' (encoding=duration)")
            pitch = parse_pitch(token)
            if token != REST and not (pitch is not None and MIDI_PITCH_MIN <= pitch <= MIDI_PITCH_MAX):
                raise ValueError(
                    f"{where}token {position} {show_token(token)}: unknown token (expected a MIDI pitch "
                    f"{MIDI_PITCH_MIN}..{MIDI_PITCH_MAX} or {REST!r}, each followed by a length such as 'd3')"
                )
            pending = token
            continue
        if pending is None:
            raise ValueError(f"{where}token {position} {token!r}: a length must follow a pitch or 'r'")
        if not 1 <= steps <= max_note_steps:
            raise InputLimitError(
                f"{where}token {position} {show_token(token)}: a note or rest longer than "
                f"{max_note_steps:,} grid steps (max_note_steps; raise it to read this file)"
            )
        total += steps
        if total > max_tune_steps:
            raise InputLimitError(
                f"{where}token {position}: the tune is longer than {max_tune_steps:,} grid steps "
                "(max_tune_steps; raise it to read this file)"
            )
        events.append((pending, steps))
        pending = None
    if pending is not None:
        raise ValueError(f"{where}token {len(tokens)} {pending!r}: the line ends before its length (such as 'd3')")
    if not events:
        raise ValueError(f"{where}empty melody" + (" (only a header)" if header else ""))
    return spell_on_grid(header, events)


def decode_duration_tokens(tokens: Sequence[str]) -> list[str]:
    """Any sequence of pitch, ``r`` and length tokens (as a model samples them) -> a valid grid body.

    The rules, so that every sampled sequence means one melody:

    * a pitch or ``r`` starts an event;
    * the length tokens right after it add up to its length (``60 d12 d6`` = 18 steps);
    * an event with no length token after it lasts one step;
    * a length token with no event before it (at the start) is dropped.

    Tokens are not validated here: the tokenizer's vocabulary already was.
    """
    events: list[tuple[str, int]] = []
    for token in tokens:
        steps = parse_duration(token)
        if steps is None:
            events.append((token, 0))
        elif events:
            events[-1] = (events[-1][0], events[-1][1] + steps)
    return spell_on_grid([], [(token, max(steps, 1)) for token, steps in events])
