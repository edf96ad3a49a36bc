"""How much generated tunes resemble real ones: histogram distances and copying, against the corpus's own floor.

For two sets of melodies (grid tokens, as printed by ``lstmininet
generate`` or read from Melody.txt/score files) :func:`compare_melodies`
measures

* the Jensen-Shannon divergence (base 2: 0 = same distribution, 1 =
  disjoint) between their histograms of **pitch class** (12 bins),
  **interval** (semitones between consecutive notes, rests skipped) and
  **note duration** (quarter notes, exact fractions, so triplets count),
* the share of notes in each tune's **key**: the scale of its ``K:`` header
  token (``K:Ador``: the notes of A dorian) when it has one, else its
  best-fitting diatonic scale (the 12 major scales; a mode uses the same
  seven pitch classes), averaged,
* **tune length** in notes (mean and median),
* with ``training`` melodies, the **longest run of notes** (pitch and
  duration) each generated tune copies from a training tune (median and
  maximum).

A divergence means little alone: two halves of the same corpus differ
too. :func:`split_half_floor` gives that floor (the reference split into
random halves, averaged over seeds), and a generated set is as good as the
data allows when its divergence is near it. Plain Python (no numpy).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from .melody import DEFAULT_STEPS_PER_QUARTER, melody_events
from .tune_header import KEY_PREFIX, MAJOR_SCALE_STEPS, key_scale, split_header

HISTOGRAMS = ("pitch_class", "interval", "duration")


# -- one melody -> notes ---------------------------------------------------------


def notes_of(melody: Sequence[str], steps_per_quarter: int) -> list[tuple[int, Fraction]]:
    """(MIDI pitch, duration in quarter notes) of every note; rests are left out."""
    return [
        (pitch, Fraction(length, steps_per_quarter)) for pitch, length in melody_events(melody) if pitch is not None
    ]


def histograms(melodies: Iterable[Sequence[str]], steps_per_quarter: int) -> dict[str, Counter]:
    """Counts of pitch classes, intervals and durations over all notes of all melodies."""
    counts = {name: Counter() for name in HISTOGRAMS}
    for melody in melodies:
        notes = notes_of(melody, steps_per_quarter)
        counts["pitch_class"].update(pitch % 12 for pitch, _ in notes)
        counts["duration"].update(duration for _, duration in notes)
        counts["interval"].update(b[0] - a[0] for a, b in zip(notes, notes[1:], strict=False))
    return counts


# -- distances ---------------------------------------------------------------------


def js_divergence(p: Counter, q: Counter) -> float:
    """Jensen-Shannon divergence, base 2, between two histograms (counts are normalised)."""
    total_p, total_q = sum(p.values()), sum(q.values())
    if total_p == 0 or total_q == 0:
        raise ValueError("js_divergence: a histogram is empty (no notes)")
    divergence = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0) / total_p, q.get(key, 0) / total_q
        m = (a + b) / 2
        if a:
            divergence += a / 2 * math.log2(a / m)
        if b:
            divergence += b / 2 * math.log2(b / m)
    return max(0.0, divergence)


def in_scale_share(melody: Sequence[str], steps_per_quarter: int) -> float:
    """Share of a tune's notes in its key (NaN for a tune without notes).

    The key is the tune's ``K:`` header token when it has one, else its best-fitting diatonic scale.
    """
    classes = Counter(pitch % 12 for pitch, _ in notes_of(melody, steps_per_quarter))
    total = sum(classes.values())
    if not total:
        return float("nan")
    keys = [token for token in split_header(melody)[0] if token.startswith(KEY_PREFIX)]
    if keys:
        scale = key_scale(keys[0])
        return sum(count for pitch_class, count in classes.items() if pitch_class in scale) / total
    best = max(sum(classes[(tonic + step) % 12] for step in MAJOR_SCALE_STEPS) for tonic in range(12))
    return best / total


def longest_copied_run(melody: Sequence[str], training_text: str, alphabet: dict, steps_per_quarter: int) -> int:
    """Most consecutive notes of ``melody`` found, in order, inside one training tune."""
    text = "".join(alphabet.get(note, "\x00") for note in notes_of(melody, steps_per_quarter))
    best = run = 0
    for start in range(len(text)):
        run = max(run - 1, 0)  # the match from start-1 minus its first note still matches
        while start + run < len(text) and text[start : start + run + 1] in training_text:
            run += 1
        best = max(best, run)
    return best


def _training_index(training: Iterable[Sequence[str]], steps_per_quarter: int) -> tuple[str, dict]:
    """All training tunes as one string, one character per distinct note, tunes separated."""
    alphabet: dict = {}
    tunes = []
    for melody in training:
        notes = notes_of(melody, steps_per_quarter)
        for note in notes:
            alphabet.setdefault(note, chr(0x100 + len(alphabet)))
        tunes.append("".join(alphabet[note] for note in notes))
    return "\x01".join(tunes), alphabet


# -- two sets of melodies ---------------------------------------------------------------


@dataclass
class MelodyComparison:
    """Distances between a set of melodies and a reference set (see the module docstring)."""

    divergence: dict[str, float]
    floor: dict[str, float]
    in_scale: tuple[float, float]  # (melodies, reference): mean share of notes in the tune's key
    notes_per_tune: tuple[float, float]  # means
    median_notes_per_tune: tuple[float, float]
    copied_run: tuple[float, int] | None = None  # (median, max) notes copied from training tunes
    counts: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        """A Markdown table: each measure for the melodies, the reference and the reference's floor."""
        rows = ["| measure | melodies | reference | ratio to floor |", "|---|---:|---:|---:|"]
        for name in HISTOGRAMS:
            value, floor = self.divergence[name], self.floor[name]
            ratio = f"{value / floor:.1f}x" if floor > 0 else "—"
            rows.append(f"| JS divergence, {name.replace('_', ' ')} | {value:.4f} | floor {floor:.4f} | {ratio} |")
        rows.append(
            f"| notes in the tune's key (K: header, else best diatonic scale) | {self.in_scale[0]:.1%} | "
            f"{self.in_scale[1]:.1%} | |"
        )
        rows.append(f"| notes per tune, mean | {self.notes_per_tune[0]:.1f} | {self.notes_per_tune[1]:.1f} | |")
        rows.append(
            f"| notes per tune, median | {self.median_notes_per_tune[0]:g} | {self.median_notes_per_tune[1]:g} | |"
        )
        if self.copied_run is not None:
            rows.append(
                f"| longest run copied from training, median / max (notes) | "
                f"{self.copied_run[0]:g} / {self.copied_run[1]} | | |"
            )
        rows.append(
            f"| tunes / notes | {self.counts['tunes']} / {self.counts['notes']} | "
            f"{self.counts['reference_tunes']} / {self.counts['reference_notes']} | |"
        )
        return "\n".join(rows)


def split_half_floor(reference: Sequence[Sequence[str]], steps_per_quarter: int, seeds: int = 5) -> dict[str, float]:
    """Mean divergence between two random halves of ``reference`` (the floor a generator can hope for)."""
    if len(reference) < 4:
        raise ValueError(f"split_half_floor: need at least 4 reference tunes, got {len(reference)}")
    totals = dict.fromkeys(HISTOGRAMS, 0.0)
    for seed in range(seeds):
        order = list(range(len(reference)))
        random.Random(seed).shuffle(order)
        half = len(order) // 2
        first = histograms((reference[i] for i in order[:half]), steps_per_quarter)
        second = histograms((reference[i] for i in order[half:]), steps_per_quarter)
        for name in HISTOGRAMS:
            totals[name] += js_divergence(first[name], second[name]) / seeds
    return totals


def compare_melodies(
    melodies: Sequence[Sequence[str]],
    reference: Sequence[Sequence[str]],
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    training: Sequence[Sequence[str]] | None = None,
    reference_steps_per_quarter: int | None = None,
) -> MelodyComparison:
    """Compare ``melodies`` (e.g. generated) with ``reference`` (e.g. held-out tunes).

    ``reference_steps_per_quarter`` defaults to ``steps_per_quarter``; durations
    are compared in quarter notes, so two grids can be compared.
    """
    if not melodies or not reference:
        raise ValueError("compare_melodies: both sets need at least one melody")
    ref_grid = reference_steps_per_quarter or steps_per_quarter
    ours, theirs = histograms(melodies, steps_per_quarter), histograms(reference, ref_grid)
    for name, counts in (("melodies", ours), ("reference", theirs)):
        if not counts["pitch_class"]:
            raise ValueError(f"compare_melodies: the {name} hold no notes")
    lengths = [len(notes_of(m, steps_per_quarter)) for m in melodies]
    ref_lengths = [len(notes_of(m, ref_grid)) for m in reference]
    copied = None
    if training:
        text, alphabet = _training_index(training, ref_grid)
        runs = [longest_copied_run(m, text, alphabet, steps_per_quarter) for m in melodies]
        copied = (statistics.median(runs), max(runs))

    def mean_share(tunes, grid):
        shares = [s for s in (in_scale_share(m, grid) for m in tunes) if not math.isnan(s)]
        return statistics.fmean(shares) if shares else float("nan")

    return MelodyComparison(
        divergence={name: js_divergence(ours[name], theirs[name]) for name in HISTOGRAMS},
        floor=split_half_floor(reference, ref_grid),
        in_scale=(mean_share(melodies, steps_per_quarter), mean_share(reference, ref_grid)),
        notes_per_tune=(statistics.fmean(lengths), statistics.fmean(ref_lengths)),
        median_notes_per_tune=(statistics.median(lengths), statistics.median(ref_lengths)),
        copied_run=copied,
        counts={
            "tunes": len(melodies),
            "notes": sum(lengths),
            "reference_tunes": len(reference),
            "reference_notes": sum(ref_lengths),
        },
    )
