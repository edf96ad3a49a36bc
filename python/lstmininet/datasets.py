"""Melody datasets: Melody.txt files, score files/folders, music21 corpora.

``load_melodies(spec)`` is the front door. ``spec`` may be

* a Melody.txt-style file (``.txt``): grid tokens, one melody per line,
* a score file or a folder of them (ABC, MusicXML, MIDI, Humdrum),
* a path inside music21's bundled corpus, e.g. ``essenFolksong/erk*.abc``
  (the Essen "erk" songs, ~1,780; non-commercial licence: load at run time,
  never commit derived files) or ``oneills1850`` (public domain).

Scores are converted by :mod:`lstmininet.music21_loading` (rules documented
and counted there) and cached on disk by :mod:`lstmininet.corpus_cache`.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from .music21_loading import LoadReport
from .tokenizers import HOLD, REST, validate_melody_tokens

MELODY_FILE_EXTENSIONS = (".txt",)


def parse_melody_lines(lines: Iterable[str], source: str) -> list[list[str]]:
    """Parse Melody.txt lines; ``#`` starts a comment, blank lines are skipped.

    Errors name ``source``, the 1-based line number and the offending token.
    """
    melodies = []
    for number, line in enumerate(lines, start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        validate_melody_tokens(tokens, source=source, line=number)
        melodies.append(tokens)
    if not melodies:
        raise ValueError(f"{source}: no melodies found (file is empty or only comments/blank lines)")
    return melodies


def load_melody_file(path: str | os.PathLike) -> list[list[str]]:
    """Read a Melody.txt file: grid tokens or bare pitches, one melody per line.

    CRLF or LF endings, a UTF-8 BOM, blank lines and ``#`` comments are fine.
    """
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: melody file not found") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a folder, expected a melody file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 text ({exc.reason})") from None
    return parse_melody_lines(text.splitlines(), source=str(path))


def save_melody_file(
    melodies: Iterable[Sequence[str]], path: str | os.PathLike, header: Sequence[str] = ()
) -> Path:
    """Write melodies one per line (LF endings), with optional ``#`` header lines."""
    path = Path(path)
    lines = [f"# {h}".rstrip() for h in header]
    for index, melody in enumerate(melodies, start=1):
        validate_melody_tokens(melody, source=str(path), line=len(header) + index)
        lines.append(" ".join(melody))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# Splits and augmentation
# --------------------------------------------------------------------------


class DatasetSplit(NamedTuple):
    train: list
    val: list
    test: list


def split_dataset(
    melodies: Sequence, val_fraction: float = 0.1, test_fraction: float = 0.0, seed: int = 0
) -> DatasetSplit:
    """Shuffle with ``seed`` and cut into train/val/test; same seed, same split.

    Sizes are ``round(n * fraction)``; a nonzero fraction gets at least one
    melody. Raises ValueError if nothing would be left for training.
    """
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {fraction}")
    count = len(melodies)

    def size(fraction: float) -> int:
        return max(1, round(count * fraction)) if fraction > 0 else 0

    n_val, n_test = size(val_fraction), size(test_fraction)
    if count - n_val - n_test < 1:
        raise ValueError(
            f"cannot split {count} melodies into val={n_val}, test={n_test} "
            "and a non-empty training set"
        )
    order = list(range(count))
    random.Random(seed).shuffle(order)  # own RNG: independent of global state
    val = [melodies[i] for i in order[:n_val]]
    test = [melodies[i] for i in order[n_val : n_val + n_test]]
    train = [melodies[i] for i in order[n_val + n_test :]]
    return DatasetSplit(train, val, test)


def transpose_melody(melody: Sequence[str], semitones: int) -> list[str]:
    """Shift every pitch by ``semitones``; ValueError if one leaves 0..127."""
    shifted = []
    for position, token in enumerate(melody, start=1):
        if token in (REST, HOLD):
            shifted.append(token)
            continue
        pitch = int(token) + semitones
        if not 0 <= pitch <= 127:
            raise ValueError(
                f"token {position} {token!r}: transposing by {semitones:+d} gives "
                f"pitch {pitch}, outside 0..127"
            )
        shifted.append(str(pitch))
    return shifted


def augment_transpositions(
    melodies: Iterable[Sequence[str]], semitones: Iterable[int] = range(-5, 7)
) -> list[list[str]]:
    """Every melody shifted by every amount in ``semitones`` (include 0 to keep originals).

    Shifts that would push a pitch outside 0..127 are left out for that melody.
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
# The front door
# --------------------------------------------------------------------------


def _transpose_melodies_to_c(melodies: list[list[str]], report: LoadReport, steps_per_quarter: int):
    """Key-analyse token melodies (via music21) and move them to C major / A minor."""
    from .midi import tokens_to_stream
    from .music21_loading import transposition_to_c

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


def _resolve_score_files(spec: str) -> list[Path]:
    """Score files named by ``spec``: a file, a folder, or a music21 corpus path."""
    from .music21_loading import is_score_file, music21_corpus_files, score_files_in

    path = Path(spec).expanduser()
    if path.is_dir():
        return score_files_in(path)
    if path.is_file():
        if not is_score_file(path):
            raise ValueError(
                f"{path}: not a melody file (.txt) nor a score file (.abc, .mxl, "
                ".musicxml, .xml, .mid, .midi, .krn)"
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
    steps_per_quarter: int = 4,
    off_grid: str = "skip",
    transpose: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[list[list[str]], LoadReport]:
    """Like :func:`load_melodies`, also returning the :class:`LoadReport` counts."""
    from .music21_loading import OFF_GRID_RULES, TRANSPOSE_TARGETS, load_score_files

    if off_grid not in OFF_GRID_RULES:
        raise ValueError(f"off_grid must be one of {OFF_GRID_RULES}, got {off_grid!r}")
    if transpose not in TRANSPOSE_TARGETS:
        raise ValueError(f"transpose must be one of {TRANSPOSE_TARGETS}, got {transpose!r}")
    if not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
        raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")

    spec_text = os.fspath(spec)
    path = Path(spec_text).expanduser()
    if path.suffix.lower() in MELODY_FILE_EXTENSIONS:
        melodies = load_melody_file(path)
        report = LoadReport(files_read=1, songs_loaded=len(melodies))
        if transpose == "C":
            melodies = _transpose_melodies_to_c(melodies, report, steps_per_quarter)
        return melodies, report

    files = _resolve_score_files(spec_text)
    settings = {"steps_per_quarter": steps_per_quarter, "off_grid": off_grid, "transpose": transpose}
    if cache:
        from .corpus_cache import cache_key, default_cache_dir, read_cached_corpus

        directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        key = cache_key(files, settings)
        cached = read_cached_corpus(directory, key)
        if cached is not None:
            melodies, report_dict = cached
            report = LoadReport.from_dict(report_dict)
            report.from_cache = True
            if progress:
                print(f"{spec_text}: {report.summary()}", file=sys.stderr)
            return melodies, report

    melodies, report = load_score_files(
        files, steps_per_quarter=steps_per_quarter, off_grid=off_grid,
        transpose=transpose, progress=progress,
    )
    if not melodies:
        raise ValueError(f"{spec_text}: no melodies left after conversion ({report.summary()})")
    if cache:
        from .corpus_cache import write_cached_corpus

        write_cached_corpus(directory, key, spec_text, melodies, report.to_dict())
    if progress:
        print(f"{spec_text}: {report.summary()}", file=sys.stderr)
    return melodies, report


def load_melodies(
    spec: str | os.PathLike,
    *,
    steps_per_quarter: int = 4,
    off_grid: str = "skip",
    transpose: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[list[str]]:
    """Load melodies as grid tokens from a Melody.txt, score file/folder or corpus path.

    ``off_grid``: ``"skip"`` drops songs with notes off the grid, ``"quantize"``
    rounds them. ``transpose="C"`` moves each song to C major / A minor.
    Score corpora are cached (``cache_dir``, ``$LSTMININET_CACHE_DIR`` or
    ``~/.cache/lstmininet``). With ``progress`` a bar and a one-line summary of
    the conversion counts go to stderr.
    """
    melodies, _ = load_melodies_with_report(
        spec, steps_per_quarter=steps_per_quarter, off_grid=off_grid, transpose=transpose,
        cache=cache, cache_dir=cache_dir, progress=progress,
    )
    return melodies
