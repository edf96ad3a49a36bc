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
  steps of 12 per quarter note), checked on the converted score and, for an
  ABC tune whose notes surely add up to more, on its text before music21
  parses it (music21's time grows faster than the tune: 53 s for 1,000 bars),
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

import math
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
# music21 raises ZeroDivisionError on a note length divided by 0 and on a unit length (L:) or meter
# (M:) over 0, and makes every note a grace note at a unit length of 0.
_ABC_ZERO_LENGTH = re.compile(r"(?:[A-Ga-gzxZX][,']*|\])\d*/+0+(?!\d)")
_ABC_ZERO_FIELD = re.compile(r"(?:^|\[)(?:[LM]:\s*\d+\s*/\s*0+(?!\d)|L:\s*0+\s*/\s*\d*)")
# ABC that music21 misreads without a word, refused (a pattern, where it applies, what music21 does).
_ABC_MISREAD = [
    (re.compile(r"(?:^|\[)M:\s*\(?\d+\s*\+[^\]%\n]*"), "fields", "an additive meter: music21 reads M:2+3/8 as 23/8"),
    (
        re.compile(r"(?:^|\[)K:\s*[A-G][#b]?\s*loc[^\]%\n]*", flags=re.IGNORECASE),
        "fields",
        "a locrian key: music21 reads it as major (K:Bloc as B major, with C#, D# and F#)",
    ),
    (
        re.compile(r"[A-G],{5,}|[a-g],{6,}"),
        "music",
        "below octave 0 (MIDI 12): music21 misreads it (C,,,,, as 23, not 0)",
    ),
]
_ABC_DEFAULT_UNIT = Fraction(1, 16)  # the shortest unit ABC assumes without an L: field
# What a tune's length counts, in order: notes, and what stops the count to the bar's end (tuplets,
# overlays, broken rhythm, decorations: music21 drops the note after a fermata H, reads an annotation ">"
# as broken rhythm).
_ABC_TIME = re.compile(
    r"(?P<note>[A-Ga-g][,']*)(?P<digits>\d*)(?P<slashes>/*)(?P<divisor>\d*)|(?P<bar>\|)|(?P<odd>\(\d|[&<>~H-Wh-w\0])"
)
_ABC_CHORD_SYMBOL = re.compile(r'"[A-G][^"]*"')
_ABC_UNIT_FIELD = re.compile(r"(?:^|\[)L:([^\]\n]*)", flags=re.MULTILINE)
# Grace notes, and chords with their length (a chord's notes need not agree on one).
_ABC_UNCOUNTED = re.compile(r"\{[^}]*\}|\[[^\]\[|:\d][^\]\[]*\][\d/]*")


def _abc_multiplier(digits: str, slashes: str, divisor: str) -> Fraction:
    """An ABC length suffix (``3``, ``/``, ``3/2``) in unit lengths, never more than it says."""
    multiplier = Fraction(int(digits) if len(digits) <= 9 else 10**9) if digits else Fraction(1)
    if slashes:
        if len(divisor) > 9:
            return Fraction(0)
        multiplier /= int(divisor) if divisor else 2 ** len(slashes)
    return multiplier


def check_abc_text(
    text: str, source: str, steps_per_quarter: int, max_note_steps: int, max_tune_steps: int | None = None
) -> None:
    """Raise InputLimitError if an ABC note or rest, or a tune, is surely longer than its limit.

    A cheap look at the text before music21 parses it (music21 can take
    minutes over one long note, and its time grows faster than a tune's
    length). It takes the shortest unit length the file names (``L:``) and
    ignores tuplets, so it rejects only notes that are long however the file
    is read; the converted score is checked exactly. With ``max_tune_steps``
    a tune's length is counted from the notes of its first voice that surely
    last their written length (see :func:`_abc_tune_steps`).

    A ValueError names line and token for what music21 would crash on or
    misread silently: a length divided by 0, an additive meter, a locrian
    key, a note below octave 0.
    """
    units = [Fraction(int(n), int(d)) for n, d in _ABC_UNIT.findall(text) if int(n) and int(d)]
    tunes = len(re.findall(r"^X:", text, flags=re.MULTILINE))
    if not units or len(units) < tunes:  # some tune may use the default unit
        units.append(_ABC_DEFAULT_UNIT)
    unit = min(units)
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        music = None if _ABC_FIELD.match(line) else _ABC_SKIPPED.sub(" ", line)
        zero = _ABC_ZERO_FIELD.search(line) or (music is not None and _ABC_ZERO_LENGTH.search(music))
        if zero:
            token = zero.group(0).lstrip("[")
            problem = "divided by 0" if re.search(r"/\s*0+$", token) else "a unit length of 0"
            raise ValueError(f"{source}, line {number}: {token[:30]!r}: {problem}")
        for pattern, where, problem in _ABC_MISREAD:
            wrong = pattern.search(line if where == "fields" else music or "")
            if wrong:
                raise ValueError(f"{source}, line {number}: {wrong.group(0).lstrip('[').strip()[:30]!r}: {problem}")
        if music is None:
            continue
        for match in _ABC_LENGTH.finditer(music):
            steps = _abc_multiplier(*match.groups()) * unit * 4 * steps_per_quarter
            if steps > max_note_steps:
                raise InputLimitError(
                    f"{source}, line {number}: {match.group(0)[:30]!r} lasts at least {float(steps):,.0f} grid steps, "
                    f"over the limit of {max_note_steps:,} (max_note_steps, --max-note-steps)"
                )
    if max_tune_steps is None:
        return
    starts = [number for number, line in enumerate(lines) if line.startswith("X:")] or [0]
    file_header = lines[: starts[0]]  # what comes before the first tune applies to every tune
    for index, (start, end) in enumerate(zip(starts, [*starts[1:], len(lines)], strict=True), start=1):
        steps = _abc_tune_steps(file_header, lines[start:end], steps_per_quarter)
        # Rounding each end of the tune to the grid may take a step off.
        if steps - 1 > max_tune_steps:
            where = source if len(starts) == 1 else f"{source}, tune {index}"
            raise InputLimitError(
                f"{where}: the tune lasts {_quarters(steps, steps_per_quarter)} quarter notes = {steps:,} grid steps "
                f"or more (its notes on lines {start + 1}-{end}), over the limit of {max_tune_steps:,} "
                "(max_tune_steps, --max-tune-steps)"
            )


def _abc_tune_steps(file_header: list[str], tune: list[str], steps_per_quarter: int) -> int:
    """Grid steps a tune's text surely lasts: a lower bound of music21's length for it, first note to last.

    It adds up the notes of the tune's body (after ``K:``) at the shortest
    unit length the tune may use, leaving out what may take less time than
    written: rests, chords, grace notes, and from a tuplet, overlay (``&``),
    broken rhythm (``>``), decoration or annotation to the end of its bar. A tune with several voices
    (``V:``) counts 0: its melody is one of them.
    """
    text = "\n".join(tune)
    if re.search(r"^V:|\[V:", text, flags=re.MULTILINE):
        return 0
    body = next((i + 1 for i, line in enumerate(tune) if line.startswith("K:")), len(tune))
    units = []
    for value in _ABC_UNIT_FIELD.findall("\n".join(file_header) + "\n" + text):
        unit = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", value.split("%")[0])
        if unit is None or not int(unit[1]) or not int(unit[2]):
            return 0  # a unit length this check cannot read: leave the tune to music21
        units.append(Fraction(int(unit[1]), int(unit[2])))
    if not any(line.startswith("L:") for line in file_header + tune[:body]):
        units.append(_ABC_DEFAULT_UNIT)  # notes before a body L: field
    unit = min(units)
    total = Fraction(0)
    counting, last = True, Fraction(0)
    for line in tune[body:]:
        if _ABC_FIELD.match(line):
            continue
        line = _ABC_SKIPPED.sub("\0", _ABC_CHORD_SYMBOL.sub(" ", line))  # \0: what stops the count
        for match in _ABC_TIME.finditer(_ABC_UNCOUNTED.sub(" ", line)):
            if match["bar"]:
                counting, last = True, Fraction(0)
            elif match["odd"]:
                total -= last if match["odd"] in "<>" else 0  # a broken rhythm shortens the note before it too
                counting, last = False, Fraction(0)
            elif counting:
                last = _abc_multiplier(match["digits"], match["slashes"], match["divisor"])
                total += last
    return math.floor(total * unit * 4 * steps_per_quarter)


def _quarters(steps: int, steps_per_quarter: int) -> str:
    """Steps as quarter notes, e.g. '2', '1.25' or '1,999,999'."""
    if steps % steps_per_quarter == 0:
        return f"{steps // steps_per_quarter:,}"
    return f"{steps / steps_per_quarter:,.2f}".rstrip("0").rstrip(".")
