"""Melody datasets: Melody.txt files, score files/folders, music21 corpora.

``load_melodies(spec)`` is the front door. ``spec`` may be

* a Melody.txt-style file (``.txt``): one melody per line, in grid or
  pitch + duration tokens as its grid line says (:mod:`lstmininet.melody_file`),
* a score file or a folder of them (ABC, MusicXML, MIDI, Humdrum),
* a path inside music21's bundled corpus, e.g. ``essenFolksong/erk*.abc``
  (the Essen "erk" songs, ~1,780; non-commercial licence: load at run time,
  never commit derived files) or ``oneills1850`` (public domain).

Scores are converted by :mod:`lstmininet.scores` (rules documented and
counted there) and cached on disk by :mod:`lstmininet.corpus_cache`.
Melody.txt reading/writing lives in :mod:`lstmininet.melody_file`,
transposition in :mod:`lstmininet.melody`, the split in
:mod:`lstmininet.splits`; they are re-exported here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .corpus_cache import cache_key, default_cache_dir, read_cached_corpus, write_cached_corpus
from .input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS, check_grid_events, check_limit_values
from .melody import (
    DEFAULT_STEPS_PER_QUARTER,
    MELODY_FILE_EXTENSIONS,
    augment_transpositions,
    change_grid,
    melody_events,
    transpose_melody,
)
from .melody_file import load_melody_file, parse_melody_lines, read_melody_file, save_melody_file
from .scores import (
    DEFAULT_OFF_GRID,
    OFF_GRID_RULES,
    TRANSPOSE_TARGETS,
    LoadReport,
    is_score_file,
    load_score_files,
    music21_corpus_files,
    score_files_in,
    tokens_to_stream,
    transposition_to_c,
)
from .splits import DatasetSplit, split_dataset
from .tune_header import split_header

__all__ = [
    "MELODY_FILE_EXTENSIONS",
    "DatasetSplit",
    "LoadReport",
    "augment_transpositions",
    "load_melodies",
    "load_melodies_with_report",
    "load_melody_file",
    "parse_melody_lines",
    "read_melody_file",
    "save_melody_file",
    "split_dataset",
    "transpose_melody",
]


# --------------------------------------------------------------------------
# The front door
# --------------------------------------------------------------------------


def _transpose_melodies_to_c(melodies: list[list[str]], report: LoadReport, steps_per_quarter: int):
    """Key-analyse token melodies (via music21) and move them to C major / A minor."""
    result = []
    for melody in melodies:
        shift = transposition_to_c(tokens_to_stream(melody, steps_per_quarter=steps_per_quarter))
        try:
            result.append(transpose_melody(melody, shift))
        except ValueError:
            report.skip("pitch_out_of_range")
            report.songs_loaded -= 1
            continue
        if shift:
            report.songs_transposed += 1
    return result


def _events_on_grid(melody: list[str], source: int, target: int) -> list[list]:
    """A melody's [pitch or None, start, end] events in steps of the ``target`` grid (rounded down)."""
    events, start = [], 0
    for pitch, length in melody_events(melody):
        events.append([pitch, start * target // source, (start + length) * target // source])
        start += length
    return events


def _change_grid(
    melodies: list[list[str]],
    source: int,
    target: int,
    off_grid: str,
    report: LoadReport,
    where: str,
    max_note_steps: int,
    max_tune_steps: int,
):
    """Melodies from a file's grid to the one asked for; off-grid tunes skipped or rounded as ``off_grid`` says.

    On a finer grid every length grows: the limits are checked on the new
    grid before anything is spelled (at 10**6 steps per quarter one tune
    took gigabytes).
    """
    result = []
    for number, melody in enumerate(melodies, start=1):
        if target > source:
            events = _events_on_grid(melody, source, target)
            check_grid_events(events, f"{where}, tune {number}", max_note_steps, max_tune_steps, target)
        changed = change_grid(melody, source, target, quantize=off_grid == "quantize")
        report.songs_quantized += 1 if changed.notes_quantized else 0
        report.notes_quantized += changed.notes_quantized
        report.notes_dropped_by_quantization += changed.notes_dropped
        if changed.tokens is None:
            report.skip("off_grid")
            report.songs_loaded -= 1
        else:
            result.append(changed.tokens)
    return result


def _resolve_score_files(spec: str) -> list[Path]:
    """Score files named by ``spec``: a file, a folder, or a music21 corpus path."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return score_files_in(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: not a regular file (a device, FIFO or socket)")
    if path.is_file():
        if not is_score_file(path):
            raise ValueError(
                f"{path}: not a melody file (.txt) nor a score file (.abc, .mxl, .musicxml, .xml, .mid, .midi, .krn)"
            )
        return [path]
    files = music21_corpus_files(spec)
    if not files:
        raise FileNotFoundError(
            f"{spec}: no such file or folder, and no music21 corpus path matches it "
            "(examples: 'essenFolksong/erk*.abc', 'oneills1850')"
        )
    return files


def load_melodies_with_report(
    spec: str | os.PathLike,
    *,
    steps_per_quarter: int | None = None,
    off_grid: str = DEFAULT_OFF_GRID,
    transpose: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
    headers: bool = True,
) -> tuple[list[list[str]], LoadReport]:
    """Like :func:`load_melodies`, also returning the :class:`LoadReport` counts."""
    if off_grid not in OFF_GRID_RULES:
        raise ValueError(f"off_grid must be one of {OFF_GRID_RULES}, got {off_grid!r}")
    if transpose not in TRANSPOSE_TARGETS:
        raise ValueError(f"transpose must be one of {TRANSPOSE_TARGETS}, got {transpose!r}")
    if steps_per_quarter is not None and (
        isinstance(steps_per_quarter, bool) or not isinstance(steps_per_quarter, int) or steps_per_quarter < 1
    ):
        raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")
    check_limit_values(max_note_steps, max_tune_steps)

    spec_text = os.fspath(spec)
    path = Path(spec_text).expanduser()
    if path.suffix.lower() in MELODY_FILE_EXTENSIONS:
        melodies, form = read_melody_file(path, max_note_steps=max_note_steps, max_tune_steps=max_tune_steps)
        if not headers:
            melodies = [split_header(melody)[1] for melody in melodies]
        report = LoadReport(files_read=1, songs_loaded=len(melodies), steps_per_quarter=form.steps_per_quarter)
        if steps_per_quarter is not None and steps_per_quarter != form.steps_per_quarter:
            melodies = _change_grid(
                melodies,
                form.steps_per_quarter,
                steps_per_quarter,
                off_grid,
                report,
                spec_text,
                max_note_steps,
                max_tune_steps,
            )
            report.steps_per_quarter = steps_per_quarter
            if progress:
                print(
                    f"{spec_text}: read on a grid of {steps_per_quarter} steps per quarter: {report.summary()}",
                    file=sys.stderr,
                )
        if transpose == "C":
            melodies = _transpose_melodies_to_c(melodies, report, report.steps_per_quarter)
        if not melodies:
            raise ValueError(f"{spec_text}: no melodies left ({report.summary()})")
        return melodies, report

    files = _resolve_score_files(spec_text)
    steps_per_quarter = steps_per_quarter or DEFAULT_STEPS_PER_QUARTER
    settings = {
        "steps_per_quarter": steps_per_quarter,
        "off_grid": off_grid,
        "transpose": transpose,
        "max_note_steps": max_note_steps,
        "max_tune_steps": max_tune_steps,
        "headers": headers,
    }
    if cache:
        directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        key = cache_key(files, settings)
        cached = read_cached_corpus(directory, key)
        if cached is not None:
            melodies, report_dict = cached
            report = LoadReport.from_dict(report_dict)
            report.from_cache = True
            report.steps_per_quarter = steps_per_quarter
            if progress:
                print(f"{spec_text}: {report.summary()}", file=sys.stderr)
            return melodies, report

    melodies, report = load_score_files(
        files,
        steps_per_quarter=steps_per_quarter,
        off_grid=off_grid,
        transpose=transpose,
        progress=progress,
        max_note_steps=max_note_steps,
        max_tune_steps=max_tune_steps,
        headers=headers,
    )
    report.steps_per_quarter = steps_per_quarter
    if not melodies:
        raise ValueError(f"{spec_text}: no melodies left after conversion ({report.summary()})")
    if cache:
        write_cached_corpus(directory, key, spec_text, melodies, report.to_dict())
    if progress:
        print(f"{spec_text}: {report.summary()}", file=sys.stderr)
    return melodies, report


def load_melodies(
    spec: str | os.PathLike,
    *,
    steps_per_quarter: int | None = None,
    off_grid: str = DEFAULT_OFF_GRID,
    transpose: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
    headers: bool = True,
) -> list[list[str]]:
    """Load melodies as grid tokens from a Melody.txt, score file/folder or corpus path.

    ``steps_per_quarter``: the grid of the result. None (the default) keeps a
    Melody.txt file's own grid (its ``# lstmininet-melody:`` line, else 4) and
    reads scores at 12 steps per quarter; :func:`load_melodies_with_report`
    gives the grid used as ``report.steps_per_quarter``. A Melody.txt on
    another grid is re-spelled: exactly on a finer grid; on a coarser one a
    tune off it is skipped or rounded, as ``off_grid`` says.

    ``off_grid``: ``"quantize"`` (the default) rounds notes off the grid to
    the nearest step (32nd notes and quintuplets on 12 steps per quarter,
    triplets on 4), so no song is lost to its rhythm; the report counts the
    songs and notes rounded (``songs_quantized``, ``notes_quantized``) and
    notes rounded to no length and dropped. ``"skip"`` leaves such songs out
    (``report.skipped["off_grid"]``). ``transpose="C"`` moves each song to C
    major / A minor.
    With ``headers`` (the default) each tune opens with its meter and key
    tokens (``M:6/8 K:Dmaj``), which a model learns and ``generate(...,
    meter=, key=)`` conditions on; ``headers=False`` leaves them out (also
    from a Melody.txt that has them).
    Score corpora are cached (``cache_dir``, ``$LSTMININET_CACHE_DIR`` or
    ``~/.cache/lstmininet``). With ``progress`` a bar and a one-line summary of
    the conversion counts go to stderr.

    A score with a note or rest longer than ``max_note_steps`` grid steps,
    or a tune (or MIDI track) longer than ``max_tune_steps``, stops the load
    with a ValueError naming the file (:mod:`lstmininet.input_limits`): a few
    bytes of score must not turn into gigabytes of tokens.
    """
    melodies, _ = load_melodies_with_report(
        spec,
        steps_per_quarter=steps_per_quarter,
        off_grid=off_grid,
        transpose=transpose,
        cache=cache,
        cache_dir=cache_dir,
        progress=progress,
        max_note_steps=max_note_steps,
        max_tune_steps=max_tune_steps,
        headers=headers,
    )
    return melodies
