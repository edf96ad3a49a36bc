"""Limits that keep a small score file from becoming a huge melody.

A score states durations as numbers, and the melody grid spells every step
as a token: a 27-byte ABC tune holding one note for 999,999,999 eighths
would become two billion ``_`` tokens, and a 50-byte MIDI file whose delta
time says "wait 2^28 ticks" makes music21 build millions of measures. So
score loading refuses, with one message naming the file and the reason,

* a note or rest longer than ``max_note_steps`` grid steps (default 512:
  32 bars of 4/4 at sixteenths), checked on the file's text or raw events
  before music21 parses it (ABC note lengths, MIDI note-on to note-off)
  and again on the converted score,
* a tune longer than ``max_tune_steps`` grid steps from its first note to
  its last (default 20,000: 5,000 quarter notes at sixteenths, some forty
  minutes at 120 per minute; the longest tune of data/Melody.txt has 5,484
  steps of 12 per quarter note),
* a MIDI file whose tracks run longer than ``max_tune_steps``, or whose
  ticks per quarter note is 0.

Both limits are parameters of the loading functions and options of the
command line (``--max-note-steps``, ``--max-tune-steps``). Raising them
lets music21 take its time: it splits a long note at every bar line, and
after a repeat sign an odd-length note of 999 eighths takes it 45 seconds.
A Melody.txt line of grid tokens needs no such limit: each step there is
a token already written in the file. A line of pitch + duration tokens
does (``60 d999999999`` is a few bytes): its lengths are checked against
the same two limits before anything is expanded.
"""

from __future__ import annotations

import re
from fractions import Fraction

DEFAULT_MAX_NOTE_STEPS = 512
DEFAULT_MAX_TUNE_STEPS = 20_000


class InputLimitError(ValueError):
    """A score is longer than the configured limits allow (the message names file and limit)."""


def check_limit_values(max_note_steps: int, max_tune_steps: int) -> None:
    """ValueError unless both limits are positive integers."""
    for name, value in (("max_note_steps", max_note_steps), ("max_tune_steps", max_tune_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_grid_events(events, source: str, max_note_steps: int, max_tune_steps: int, steps_per_quarter: int) -> None:
    """Raise InputLimitError if grid events [pitch or None, start, end] exceed a limit.

    ``events`` are one-at-a-time, sorted, gaps filled, edge rests trimmed:
    exactly what is about to be spelled as tokens, one per step.
    """
    if not events:
        return
    merged: list[list] = []  # adjacent rests become one rest: measure them together
    for pitch, start, end in events:
        if pitch is None and merged and merged[-1][0] is None and merged[-1][2] == start:
            merged[-1][2] = end
        else:
            merged.append([pitch, start, end])
    for pitch, start, end in merged:
        if end - start > max_note_steps:
            what = "rest" if pitch is None else f"note (pitch {pitch})"
            raise InputLimitError(
                f"{source}: a {what} at quarter note {_quarters(start, steps_per_quarter)} lasts "
                f"{_quarters(end - start, steps_per_quarter)} quarter notes = {end - start:,} grid steps, "
                f"over the limit of {max_note_steps:,} (max_note_steps, --max-note-steps)"
            )
    span = events[-1][2] - events[0][1]
    if span > max_tune_steps:
        raise InputLimitError(
            f"{source}: the tune lasts {_quarters(span, steps_per_quarter)} quarter notes = {span:,} grid steps, "
            f"over the limit of {max_tune_steps:,} (max_tune_steps, --max-tune-steps)"
        )


def check_midi_timing(
    midi_file, source: str, steps_per_quarter: int, max_tune_steps: int, max_note_steps: int | None = None
) -> None:
    """Raise InputLimitError if a parsed (not yet converted) MIDI file runs too long.

    ``midi_file`` is music21's byte-level ``MidiFile`` after ``readstr``:
    its tracks hold the delta times exactly as music21 will convert them.
    With ``max_note_steps``, a note from its note-on to its note-off (or
    note-on at velocity 0) must fit too; silences between notes may be long
    (a conductor track is one).
    """
    ticks_per_quarter = midi_file.ticksPerQuarterNote
    if not ticks_per_quarter:
        raise InputLimitError(f"{source}: MIDI header gives 0 ticks per quarter note")
    for number, track in enumerate(midi_file.tracks, start=1):
        ticks = sum(event.time or 0 for event in track.events if event.isDeltaTime())
        # Integer maths: a delta time may have any number of digits.
        steps = ticks * steps_per_quarter // ticks_per_quarter
        if max_note_steps is not None and steps <= max_tune_steps:
            _check_midi_notes(track, number, source, steps_per_quarter, ticks_per_quarter, max_note_steps)
        if steps > max_tune_steps:
            raise InputLimitError(
                f"{source}: MIDI track {number} runs {ticks:,} ticks = {ticks // ticks_per_quarter:,} quarter notes "
                f"({steps:,} grid steps), over the limit of {max_tune_steps:,} (max_tune_steps, --max-tune-steps)"
            )


def _check_midi_notes(track, number, source, steps_per_quarter, ticks_per_quarter, max_note_steps) -> None:
    now = 0
    sounding: dict[tuple, int] = {}  # (channel, pitch) -> tick of its note-on
    for event in track.events:
        if event.isDeltaTime():
            now += event.time or 0
            continue
        kind = getattr(event.type, "name", "")
        if kind not in ("NOTE_ON", "NOTE_OFF"):
            continue
        key = (event.channel, event.pitch)
        if kind == "NOTE_ON" and event.velocity:
            sounding.setdefault(key, now)
        elif key in sounding:
            length = now - sounding.pop(key)
            steps = length * steps_per_quarter // ticks_per_quarter
            if steps > max_note_steps:
                raise InputLimitError(
                    f"{source}: MIDI track {number}: a note (pitch {event.pitch}) lasts {length:,} ticks "
                    f"({steps:,} grid steps), over the limit of {max_note_steps:,} (max_note_steps, --max-note-steps)"
                )


_ABC_FIELD = re.compile(r"^[A-Za-z+]:")
_ABC_UNIT = re.compile(r"L:\s*(\d{1,6})\s*/\s*(\d{1,6})")
_ABC_SKIPPED = re.compile(r'"[^"]*"|![^!]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]]*\]|%.*')
_ABC_LENGTH = re.compile(r"(?:[A-Ga-gzx][,']*|\])(\d+)(/*)(\d*)")
_ABC_DEFAULT_UNIT = Fraction(1, 16)  # the shortest unit ABC assumes without an L: field


def check_abc_text(text: str, source: str, steps_per_quarter: int, max_note_steps: int) -> None:
    """Raise InputLimitError if an ABC note or rest is surely longer than ``max_note_steps``.

    A cheap look at the text before music21 parses it (music21 can take
    minutes over one long note). It takes the shortest unit length the file
    names (``L:``) and ignores tuplets, so it rejects only notes that are
    long however the file is read; the converted score is checked exactly.
    """
    units = [Fraction(int(n), int(d)) for n, d in _ABC_UNIT.findall(text) if int(n) and int(d)]
    tunes = len(re.findall(r"^X:", text, flags=re.MULTILINE))
    if not units or len(units) < tunes:  # some tune may use the default unit
        units.append(_ABC_DEFAULT_UNIT)
    unit = min(units)
    for number, line in enumerate(text.split("\n"), start=1):
        if _ABC_FIELD.match(line):
            continue
        for match in _ABC_LENGTH.finditer(_ABC_SKIPPED.sub(" ", line)):
            digits, slashes, divisor = match.groups()
            if len(digits) > 9:
                multiplier = Fraction(10**9)
            else:
                multiplier = Fraction(int(digits))
                if slashes:
                    multiplier /= int(divisor) if divisor and len(divisor) <= 9 else 2 ** len(slashes)
            steps = multiplier * unit * 4 * steps_per_quarter
            if steps > max_note_steps:
                raise InputLimitError(
                    f"{source}, line {number}: {match.group(0)[:30]!r} lasts at least {float(steps):,.0f} grid steps, "
                    f"over the limit of {max_note_steps:,} (max_note_steps, --max-note-steps)"
                )


def _quarters(steps: int, steps_per_quarter: int) -> str:
    """Steps as quarter notes, e.g. '2', '1.25' or '1,999,999'."""
    if steps % steps_per_quarter == 0:
        return f"{steps // steps_per_quarter:,}"
    return f"{steps / steps_per_quarter:,.2f}".rstrip("0").rstrip(".")
