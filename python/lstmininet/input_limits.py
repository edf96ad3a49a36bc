"""Limits that keep a small score file from becoming a huge melody.

A score states durations as numbers, and the melody grid spells every step
as a token: a 27-byte ABC tune holding one note for 999,999,999 eighths
would become two billion ``_`` tokens, and a 50-byte MIDI file whose delta
time says "wait 2^28 ticks" makes music21 build millions of measures. So
score loading refuses, with one message naming the file and the reason,

* a note or rest longer than ``max_note_steps`` grid steps
  (default 1,024: 64 whole notes at sixteenths),
* a tune longer than ``max_tune_steps`` grid steps from its first note to
  its last (default 20,000: 5,000 quarter notes at sixteenths, some forty
  minutes at 120 per minute; the longest tune of data/Melody.txt has 1,058),
* a MIDI file whose tracks run longer than ``max_tune_steps`` (checked on
  the file's raw events, before music21 converts them) or whose ticks per
  quarter note is 0.

Both limits are parameters of the loading functions and options of the
command line (``--max-note-steps``, ``--max-tune-steps``). Even at the
limit music21 needs some seconds for a long MIDI note (it writes out every
measure). Melody.txt files need no such limit: each step there is a token
already written in the file.
"""

from __future__ import annotations

DEFAULT_MAX_NOTE_STEPS = 1024
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
    for pitch, start, end in events:
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


def check_midi_timing(midi_file, source: str, steps_per_quarter: int, max_tune_steps: int) -> None:
    """Raise InputLimitError if a parsed (not yet converted) MIDI file runs too long.

    ``midi_file`` is music21's byte-level ``MidiFile`` after ``readstr``:
    its tracks hold the delta times exactly as music21 will convert them.
    """
    ticks_per_quarter = midi_file.ticksPerQuarterNote
    if not ticks_per_quarter:
        raise InputLimitError(f"{source}: MIDI header gives 0 ticks per quarter note")
    for number, track in enumerate(midi_file.tracks, start=1):
        ticks = sum(event.time or 0 for event in track.events if event.isDeltaTime())
        # Integer maths: a delta time may have any number of digits.
        steps = ticks * steps_per_quarter // ticks_per_quarter
        if steps > max_tune_steps:
            raise InputLimitError(
                f"{source}: MIDI track {number} runs {ticks:,} ticks = {ticks // ticks_per_quarter:,} quarter notes "
                f"({steps:,} grid steps), over the limit of {max_tune_steps:,} (max_tune_steps, --max-tune-steps)"
            )


def _quarters(steps: int, steps_per_quarter: int) -> str:
    """Steps as quarter notes, e.g. '2', '1.25' or '1,999,999'."""
    if steps % steps_per_quarter == 0:
        return f"{steps // steps_per_quarter:,}"
    return f"{steps / steps_per_quarter:,.2f}".rstrip("0").rstrip(".")
