"""Fitting a tune's pitches into a model's pitch vocabulary, so any tune can be scored, primed or trained on.

A melody model knows the pitches its training tunes used (``data/Melody.txt``:
MIDI 55..88, not every one of them). A tune from another collection may go
lower, higher, or use a pitch that never occurred. Rather than refuse it:

1. the whole tune moves by whole octaves if that puts every pitch in the
   vocabulary (smallest move first, up before down): the tune stays the
   same tune, in another register (``tunes_moved_by_octaves``);
2. otherwise each unknown pitch moves to the nearest vocabulary pitch of
   the same pitch class (an octave or more away), or, if the vocabulary
   has no pitch of that class, to the nearest pitch (the lower one on a
   tie) (``notes_moved``).

A tune's header (meter and key tokens, ``M:6/8 K:Dmaj``) stays when the
vocabulary has its tokens; a header token it lacks (a model trained
without headers, or on no tune in that key) is left out
(``header_tokens_dropped``): the notes are scored all the same.

A tune whose rests or holds the vocabulary cannot express (a vocabulary
built from bare pitches, such as the original LSTMiniNet Melody.txt) still
cannot be encoded: :func:`fit_melody` raises ValueError saying which token.
Plain Python.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .melody import HOLD, REST, parse_pitch
from .tune_header import split_header

_MAX_OCTAVES = 10  # MIDI 0..127 spans less than 11 octaves


@dataclasses.dataclass
class PitchFitReport:
    """How many tunes and notes were moved to fit the vocabulary, and how many tunes could not be."""

    tunes: int = 0
    tunes_moved_by_octaves: int = 0
    tunes_with_notes_moved: int = 0
    notes_moved: int = 0
    header_tokens_dropped: int = 0
    tunes_skipped: int = 0
    skip_reasons: dict[str, int] = dataclasses.field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.tunes_skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.tunes_moved_by_octaves or self.notes_moved or self.header_tokens_dropped or self.tunes_skipped)

    def summary(self) -> str:
        """One line, e.g. '3 of 120 tunes moved by octaves; 5 notes in 2 tunes moved to the nearest known pitch'."""
        parts = []
        if self.tunes_moved_by_octaves:
            parts.append(f"{self.tunes_moved_by_octaves} of {self.tunes} tunes moved by octaves into the model's range")
        if self.notes_moved:
            parts.append(
                f"{self.notes_moved} notes in {self.tunes_with_notes_moved} tunes moved to the nearest pitch the "
                "model knows (same pitch class where it can)"
            )
        if self.header_tokens_dropped:
            parts.append(f"{self.header_tokens_dropped} meter/key tokens the model does not know left out")
        if self.tunes_skipped:
            reasons = ", ".join(f"{n}: {r}" for r, n in sorted(self.skip_reasons.items()))
            parts.append(f"{self.tunes_skipped} of {self.tunes} tunes skipped ({reasons})")
        return "; ".join(parts) if parts else f"all {self.tunes} tunes fit the model's vocabulary"


def _nearest(pitch: int, known: Sequence[int]) -> int:
    same_class = [p for p in known if (p - pitch) % 12 == 0]
    candidates = same_class or list(known)
    return min(candidates, key=lambda p: (abs(p - pitch), p))


def fit_melody(melody: Sequence[str], vocabulary, report: PitchFitReport | None = None) -> list[str]:
    """``melody`` with its pitches moved into ``vocabulary`` (tokens; rules in the module docstring).

    ``vocabulary`` is any container of tokens (a MelodyTokenizer works).
    Raises ValueError if a non-pitch token (``r``, ``_``) is not in it or it holds no pitch.
    """
    report = report if report is not None else PitchFitReport()
    report.tunes += 1
    header, tokens = split_header(melody)
    known_header = [token for token in header if token in vocabulary]
    report.header_tokens_dropped += len(header) - len(known_header)
    return known_header + _fit_pitches(tokens, vocabulary, report, first_position=len(header))


def _fit_pitches(tokens: list[str], vocabulary, report: PitchFitReport, first_position: int) -> list[str]:
    """The body of :func:`fit_melody` (no header); error positions count from ``first_position``."""
    pitches = [parse_pitch(t) for t in tokens]
    for position, (token, pitch) in enumerate(zip(tokens, pitches, strict=True), start=first_position):
        if pitch is not None and not 0 <= pitch <= 127:  # moved by octaves, 200 had passed as 80
            raise ValueError(f"token {token[:20]!r} at position {position}: not a MIDI pitch (0..127)")
        if pitch is None and token not in vocabulary:
            if token in (REST, HOLD):
                what = "rests" if token == REST else "held notes"
                raise ValueError(f"token {token!r} at position {position}: the model's vocabulary has no {what}")
            raise ValueError(f"token {token!r} at position {position}: not a melody token (a MIDI pitch, r or _)")
    if all(p is None or t in vocabulary for t, p in zip(tokens, pitches, strict=True)):
        return tokens
    tokens_known = getattr(vocabulary, "vocab", vocabulary)  # a tokenizer, or a plain collection of tokens
    known = sorted(p for p in (parse_pitch(t) for t in tokens_known) if p is not None)
    if not known:
        raise ValueError("the model's vocabulary holds no pitches")
    known_set = set(known)
    used = [p for p in pitches if p is not None]
    for octaves in range(1, _MAX_OCTAVES + 1):
        for shift in (12 * octaves, -12 * octaves):
            if all(p + shift in known_set for p in used):
                report.tunes_moved_by_octaves += 1
                return [t if p is None else str(p + shift) for t, p in zip(tokens, pitches, strict=True)]
    moved = 0
    result = []
    for token, pitch in zip(tokens, pitches, strict=True):
        if pitch is None or pitch in known_set:
            result.append(token)
        else:
            result.append(str(_nearest(pitch, known)))
            moved += 1
    report.notes_moved += moved
    report.tunes_with_notes_moved += 1
    return result


def fit_melodies(melodies, vocabulary, report: PitchFitReport | None = None) -> tuple[list[list[str]], PitchFitReport]:
    """Fit every melody; one that cannot be encoded is skipped and counted with its reason, never fatal."""
    report = report if report is not None else PitchFitReport()
    fitted = []
    for melody in melodies:
        try:
            fitted.append(fit_melody(melody, vocabulary, report))
        except ValueError as err:
            reason = str(err).split(": ", 1)[-1]
            report.skip(reason)
    return fitted, report
