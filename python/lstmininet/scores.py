"""Score conversion via music21: scores (ABC, MusicXML, MIDI, Humdrum) <-> melody grid tokens.

Tokens -> score: :func:`tokens_to_stream` builds a one-part music21 Score
(a note lasts its onset step plus the ``_`` steps after it).

Score -> tokens: :func:`score_to_tokens` and the file loader
:func:`load_score_files`.

One song = one score; its melody is the top part's ``.flatten().notesAndRests``.
Every rule that changes the music is counted in a :class:`LoadReport`:

* chords -> their highest note                          (``chords_reduced``)
* notes sounding at the same onset (several voices)
  -> the highest one is kept                            (``simultaneous_notes_dropped``)
* a note still sounding when the next note starts -> cut (``overlaps_truncated``);
  a rest in another voice does not cut it
* tied notes -> one held note                           (``ties_merged``)
* grace notes -> dropped (they take no grid time)       (``grace_notes_dropped``);
  chord symbols ("D7") are not notes: left out, not counted
* microtones (a quarter-sharp D) -> the nearest semitone (``microtones_rounded``);
  a pitch outside MIDI's 0..127 (C10) skips the song (``skipped["pitch_out_of_range"]``)
* onsets/ends off the grid (32nd notes or quintuplets on the default grid
  of 12 steps per quarter, triplets on the 1/16 grid): ``off_grid="quantize"``
  (the default, :data:`DEFAULT_OFF_GRID`) rounds them to the nearest step
  (``songs_quantized``, ``notes_quantized``), and a note that rounds to zero
  length is dropped (``notes_dropped_by_quantization``); ``"skip"`` drops the
  song (``skipped["off_grid"]``)
* rests before the first / after the last note are trimmed (``edge_rests_trimmed``)
* adjacent rests become one rest (they sound the same)  (``rests_merged``)
* ``transpose="C"``: shift to C major / A minor by the key music21's key
  analysis finds, by the smallest interval (-5..+6)     (``songs_transposed``);
  the key token moves along (``K:Dmaj`` up 2 is ``K:Emaj``)

With ``headers=True`` (the default) a tune opens with its meter and key
tokens (``M:6/8 K:Dmaj``, :mod:`lstmininet.score_header`): the melody
part's first time signature and key. A tune whose meter or key changes
keeps the first (counted: ``songs_with_meter_changes``,
``songs_with_key_changes``); a time signature or key no token spells is left
out (``header_values_dropped``).

music21 is imported lazily (inside the functions that need it): loading a
Melody.txt never pays for it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import io
import math
import os
import sys
import traceback
import zipfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from .input_limits import (
    DEFAULT_MAX_NOTE_STEPS,
    DEFAULT_MAX_TUNE_STEPS,
    InputLimitError,
    check_abc_text,
    check_grid_events,
    check_limit_values,
    check_midi_timing,
)
from .melody import (
    DEFAULT_STEPS_PER_QUARTER,
    HOLD,
    REST,
    melody_events,
    read_utf8_file,
    transpose_melody,
    validate_melody_tokens,
)
from .score_header import header_objects, read_header, restore_midi_mode

SCORE_EXTENSIONS = (".abc", ".mxl", ".musicxml", ".xml", ".mid", ".midi", ".krn")
OFF_GRID_RULES = ("skip", "quantize")
# No song is lost to a rhythm the grid cannot hold; what was rounded is counted.
DEFAULT_OFF_GRID = "quantize"
TRANSPOSE_TARGETS = (None, "C")

# Bump when a conversion rule or a count changes: invalidates cached corpora.
CONVERSION_VERSION = 6

_GRID_TOLERANCE = 1e-6  # music21 offsets may be floats such as 0.333333


@dataclasses.dataclass
class LoadReport:
    """How many songs were loaded or skipped, and how often each rule fired."""

    files_read: int = 0
    songs_loaded: int = 0
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    chords_reduced: int = 0
    simultaneous_notes_dropped: int = 0
    overlaps_truncated: int = 0
    ties_merged: int = 0
    grace_notes_dropped: int = 0
    songs_quantized: int = 0
    notes_quantized: int = 0
    notes_dropped_by_quantization: int = 0
    microtones_rounded: int = 0
    edge_rests_trimmed: int = 0
    rests_merged: int = 0
    songs_transposed: int = 0
    songs_with_meter_changes: int = 0
    songs_with_key_changes: int = 0
    header_values_dropped: int = 0
    from_cache: bool = False
    steps_per_quarter: int | None = None  # the grid the melodies are on (set by lstmininet.datasets)

    @property
    def songs_skipped(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LoadReport:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def summary(self) -> str:
        """One readable line: songs loaded/skipped and every rule that fired."""
        text = f"{self.songs_loaded} songs loaded from {self.files_read} files"
        if self.skipped:
            reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(self.skipped.items()))
            text += f"; {self.songs_skipped} skipped ({reasons})"
        rules = [
            (f.name, getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.type in ("int", int) and f.name not in ("files_read", "songs_loaded", "steps_per_quarter")
        ]
        fired = [f"{name.replace('_', ' ')}: {value}" for name, value in rules if value]
        if fired:
            text += "; " + ", ".join(fired)
        if self.from_cache:
            text += " (from cache)"
        return text


# --------------------------------------------------------------------------
# Finding score files
# --------------------------------------------------------------------------


def is_score_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in SCORE_EXTENSIONS


def score_files_in(folder: str | os.PathLike) -> list[Path]:
    """All score files below ``folder`` (recursive), sorted for a stable order."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_score_file(p))
    if not files:
        raise ValueError(f"{folder}: no score files ({', '.join(SCORE_EXTENSIONS)}) found")
    return files


def music21_corpus_files(spec: str) -> list[Path]:
    """Files of music21's bundled corpus matching ``spec`` (no network).

    ``spec`` is a path relative to the corpus folder: a glob
    (``essenFolksong/erk*.abc``), a folder (``oneills1850``), or a work
    with or without extension (``bach/bwv66.6``). Returns [] if nothing matches.
    """
    from music21 import common, corpus

    root = os.path.join(str(common.getCorpusFilePath()), "")
    pattern = spec.strip().replace("\\", "/").strip("/")
    if not pattern:
        return []
    matches = []
    # Plain strings, not Path objects: the corpus has thousands of files and
    # this runs on every (cached) load.
    for path in map(str, corpus.getPaths()):
        if not path.startswith(root):
            continue
        relative = path[len(root) :].replace(os.sep, "/")
        if (
            fnmatch.fnmatchcase(relative, pattern)
            or relative.startswith(pattern + "/")
            or relative.rsplit(".", 1)[0] == pattern
        ):
            matches.append(Path(path))
    return sorted(matches)


# --------------------------------------------------------------------------
# Parsing one file into songs
# --------------------------------------------------------------------------


def _close_files_left_open(exc: BaseException) -> None:
    """Close files music21 opened in the frames of a failed parse.

    It does not close them when it raises; the traceback keeps them alive until
    a later garbage collection, whose ResourceWarning then lands in unrelated code.
    """
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        for value in list(frame.f_locals.values()):
            # The file itself, or held by a reader object (music21's ABCFile keeps it as an attribute).
            for candidate in (value, *getattr(value, "__dict__", {}).values()):
                if isinstance(candidate, io.IOBase) and not candidate.closed:
                    candidate.close()


def parse_score_file(
    path: str | os.PathLike,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    *,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
):
    """Parse one file with music21; returns a list of scores (an ABC file may hold many).

    Raises ValueError naming the file if music21 cannot read it, and
    :class:`~lstmininet.input_limits.InputLimitError` if a MIDI file or an
    ABC tune (by the notes its text surely has) runs longer than
    ``max_tune_steps`` grid steps, or a MIDI or ABC note is longer than
    ``max_note_steps`` (checked before music21 converts them).
    """
    from music21 import converter, stream

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such score file")
    suffix = path.suffix.lower()
    if suffix == ".abc":  # music21 reads it as UTF-8 too, but names no line
        check_abc_text(read_utf8_file(path, "ABC file"), str(path), steps_per_quarter, max_note_steps, max_tune_steps)
    elif suffix == ".mxl":
        _check_mxl_archive(path)
    try:
        if suffix in (".mid", ".midi"):
            parsed = _parse_midi_file(path, steps_per_quarter, max_note_steps, max_tune_steps)
        else:
            # forceSource: parse the real file, do not read/write music21's own pickles.
            parsed = converter.parse(path, forceSource=True, storePickle=False)
    except InputLimitError:
        raise
    except Exception as exc:  # music21 raises many unrelated types on bad input
        _close_files_left_open(exc)
        detail = " ".join(str(exc).split())  # one line: music21 may quote whole lines of the file
        detail = detail if len(detail) <= 300 else detail[:300] + "..."
        raise ValueError(f"{path}: cannot read score: {type(exc).__name__}: {detail}") from exc
    if isinstance(parsed, stream.Opus):
        return list(parsed.scores)
    return [parsed]


def _check_mxl_archive(path: Path) -> None:
    """ValueError unless ``path`` is a zip archive holding a MusicXML file (music21 gave a TypeError)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a compressed MusicXML file (an .mxl file is a zip archive)") from None
    if not any(n.lower().endswith((".xml", ".musicxml")) and not n.startswith("META-INF/") for n in names):
        raise ValueError(f"{path}: the .mxl archive holds no MusicXML file (.xml or .musicxml)")


def _parse_midi_file(path: Path, steps_per_quarter: int, max_note_steps: int, max_tune_steps: int):
    """music21's two MIDI steps, with the length checked between them.

    Reading the bytes into events is cheap; converting them to a score
    costs memory in proportion to the music's length, which a delta time
    can make astronomical. So the events' total ticks are checked first.
    """
    from music21 import midi
    from music21.midi import translate

    midi_file = midi.MidiFile()
    midi_file.readstr(path.read_bytes())
    check_midi_timing(midi_file, str(path), steps_per_quarter, max_tune_steps, max_note_steps)
    # Exact tick times, not music21's quantization: it snapped a grid-length
    # note to a triplet and hid notes finer than the grid from off_grid.
    score = translate.midiFileToStream(midi_file, quantizePost=False)
    restore_midi_mode(midi_file, score)
    return score


def melody_part(score):
    """The part whose notes are the melody: the top (first) part."""
    parts = getattr(score, "parts", None)
    if parts is not None and len(parts) > 0:
        return parts[0]
    return score


# --------------------------------------------------------------------------
# One score -> grid tokens
# --------------------------------------------------------------------------


def _to_steps(quarter_length, steps_per_quarter: int) -> float:
    return float(quarter_length) * steps_per_quarter


def _is_on_grid(steps: float) -> bool:
    return abs(steps - round(steps)) < _GRID_TOLERANCE


def _midi_number(pitch, report: LoadReport) -> int | None:
    """A music21 pitch's MIDI number, None outside 0..127 (music21's ``.midi`` folds C10 to 120)."""
    number = math.floor(pitch.ps + 0.5)  # half up, as music21 rounds a microtone
    if number != pitch.ps:
        report.microtones_rounded += 1
    return number if 0 <= number <= 127 else None


def _timed_events(part, steps_per_quarter: int, off_grid: str, report: LoadReport):
    """Read notes/rests as [pitch or None, start_step, end_step], with ties merged.

    Returns (events, None) or (None, skip_reason).
    """
    from music21 import chord, harmony, note

    events: list[list] = []
    quantized = 0
    for element in part.flatten().notesAndRests:
        if isinstance(element, harmony.Harmony):  # a chord symbol ("D7"), not a note of the melody
            continue
        if element.duration.isGrace or element.quarterLength == 0:
            report.grace_notes_dropped += 1
            continue
        if isinstance(element, note.Rest):
            pitch = None
        elif isinstance(element, chord.Chord):
            pitches = [_midi_number(p, report) for p in element.pitches]
            if not pitches:
                return None, "unpitched_notes"
            if None in pitches:
                return None, "pitch_out_of_range"
            if len(pitches) > 1:
                report.chords_reduced += 1
            pitch = max(pitches)
        elif isinstance(element, note.Note):
            pitch = _midi_number(element.pitch, report)
            if pitch is None:
                return None, "pitch_out_of_range"
        else:  # percussion (Unpitched) has no pitch to put on the grid
            return None, "unpitched_notes"

        start = _to_steps(element.offset, steps_per_quarter)
        end = _to_steps(element.offset + element.quarterLength, steps_per_quarter)
        if not (_is_on_grid(start) and _is_on_grid(end)):
            if off_grid == "skip":
                return None, "off_grid"
            quantized += 1
        start, end = round(start), round(end)
        if end <= start:
            report.notes_dropped_by_quantization += 1
            continue

        tie = getattr(element, "tie", None)
        if pitch is not None and tie is not None and tie.type in ("stop", "continue"):
            # The tied-from note is the latest one of this pitch ending right here
            # (with several voices it need not be the very last event).
            tied_from = next((e for e in reversed(events) if e[0] == pitch and e[2] == start), None)
            if tied_from is not None:
                tied_from[2] = end
                report.ties_merged += 1
                continue
        events.append([pitch, start, end])
    if quantized:
        report.songs_quantized += 1
        report.notes_quantized += quantized
    return events, None


def _monophonic(events: list[list], report: LoadReport) -> list[list]:
    """Make events one-at-a-time: highest note wins a shared onset, a note is cut by the next note's start."""
    # Notes before rests at the same onset, highest pitch first; stable otherwise.
    events = sorted(events, key=lambda e: (e[1], e[0] is None, -(e[0] or 0)))
    result: list[list] = []
    for event in events:
        if result and result[-1][1] == event[1]:
            if event[0] is not None:
                report.simultaneous_notes_dropped += 1
            continue
        if result and result[-1][2] > event[1]:
            if event[0] is None and result[-1][0] is not None:
                # Another voice's rest while this note sounds: the silence after it is filled in anyway.
                continue
            result[-1][2] = event[1]
            if result[-1][0] is not None:
                report.overlaps_truncated += 1
        result.append(event)
    return result


def _events_to_tokens(events: list[list], report: LoadReport, check_limits=None) -> list[str]:
    """Lay events on the grid, filling gaps with rests, merging and trimming rests.

    ``check_limits(filled_events)`` runs before any step is spelled as a token.
    """
    # Gaps between events are silence: make them explicit rests first.
    filled: list[list] = []
    for event in events:
        if filled and event[1] > filled[-1][2]:
            filled.append([None, filled[-1][2], event[1]])
        filled.append(event)
    while filled and filled[0][0] is None:
        filled.pop(0)
        report.edge_rests_trimmed += 1
    while filled and filled[-1][0] is None:
        filled.pop()
        report.edge_rests_trimmed += 1
    if check_limits is not None:
        check_limits(filled)

    tokens: list[str] = []
    previous_was_rest = False
    for pitch, start, end in filled:
        length = end - start
        if pitch is None and previous_was_rest:
            tokens.extend([HOLD] * length)  # continue the rest already open
            report.rests_merged += 1
            continue
        tokens.append(REST if pitch is None else str(pitch))
        tokens.extend([HOLD] * (length - 1))
        previous_was_rest = pitch is None
    return tokens


def transposition_to_c(score_or_part) -> int:
    """Semitones that move the analysed key to C major / A minor (-5..+6)."""
    key = score_or_part.analyze("key")
    target = 0 if key.mode == "major" else 9  # C or A
    shift = (target - key.tonic.pitchClass) % 12
    return shift - 12 if shift > 6 else shift


def score_to_tokens(
    score,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    off_grid: str = DEFAULT_OFF_GRID,
    transpose: str | None = None,
    report: LoadReport | None = None,
    source: str = "<score>",
    *,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
    headers: bool = True,
) -> list[str] | None:
    """Convert one music21 score to grid tokens, or None if the song is skipped.

    With ``headers`` the tokens open with the tune's meter and key (``M:6/8
    K:Dmaj``, each only if the score has it).
    The reason for a skip and every rule applied are counted in ``report``.
    A note or rest over ``max_note_steps`` steps, or a tune over
    ``max_tune_steps``, raises :class:`~lstmininet.input_limits.InputLimitError`
    naming ``source`` (see :mod:`lstmininet.input_limits`).
    """
    check_limit_values(max_note_steps, max_tune_steps)
    if off_grid not in OFF_GRID_RULES:
        raise ValueError(f"off_grid must be one of {OFF_GRID_RULES}, got {off_grid!r}")
    if transpose not in TRANSPOSE_TARGETS:
        raise ValueError(f"transpose must be one of {TRANSPOSE_TARGETS}, got {transpose!r}")
    report = report if report is not None else LoadReport()
    part = melody_part(score)
    events, reason = _timed_events(part, steps_per_quarter, off_grid, report)
    if events is None:
        report.skip(reason)
        return None

    def check_limits(filled):
        check_grid_events(filled, source, max_note_steps, max_tune_steps, steps_per_quarter)

    tokens = _events_to_tokens(_monophonic(events, report), report, check_limits)
    if not tokens:
        report.skip("no_notes")
        return None
    if headers:
        header, counts = read_header(part)
        tokens = header + tokens
        report.songs_with_meter_changes += counts["meter_changes"]
        report.songs_with_key_changes += counts["key_changes"]
        report.header_values_dropped += counts["unreadable"]
    if transpose == "C":
        shift = transposition_to_c(part)
        try:
            tokens = transpose_melody(tokens, shift)
        except ValueError:
            report.skip("pitch_out_of_range")
            return None
        if shift:
            report.songs_transposed += 1
    try:
        validate_melody_tokens(tokens, source=source)
    except ValueError:
        report.skip("pitch_out_of_range")
        return None
    report.songs_loaded += 1
    return tokens


def load_score_files(
    files: list[Path],
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    off_grid: str = DEFAULT_OFF_GRID,
    transpose: str | None = None,
    progress: bool = True,
    *,
    max_note_steps: int = DEFAULT_MAX_NOTE_STEPS,
    max_tune_steps: int = DEFAULT_MAX_TUNE_STEPS,
    headers: bool = True,
) -> tuple[list[list[str]], LoadReport]:
    """Parse and convert score files in order; returns (melodies, report).

    With ``headers`` each melody opens with its meter and key tokens (:func:`score_to_tokens`).

    A file over the limits (:mod:`lstmininet.input_limits`) stops the load
    with an :class:`~lstmininet.input_limits.InputLimitError` naming it.
    """
    check_limit_values(max_note_steps, max_tune_steps)
    from tqdm import tqdm

    report = LoadReport()
    melodies: list[list[str]] = []
    # Not into a pipe or log: a redrawn bar leaves a line per file there.
    bar = tqdm(files, desc="parsing scores", unit="file", disable=not progress or not _stderr_is_terminal())
    for path in bar:
        scores = parse_score_file(path, steps_per_quarter, max_note_steps=max_note_steps, max_tune_steps=max_tune_steps)
        for number, score in enumerate(scores, start=1):
            source = str(path) if len(scores) == 1 else f"{path}, tune {number}"
            tokens = score_to_tokens(
                score,
                steps_per_quarter,
                off_grid,
                transpose,
                report,
                source=source,
                max_note_steps=max_note_steps,
                max_tune_steps=max_tune_steps,
                headers=headers,
            )
            if tokens is not None:
                melodies.append(tokens)
        report.files_read += 1
        bar.set_postfix(songs=len(melodies))
    return melodies, report


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


# --------------------------------------------------------------------------
# Grid tokens -> one score
# --------------------------------------------------------------------------


def _make_instrument(instrument):
    """music21 instrument from a name ("Violin") or General MIDI program (0..127)."""
    from music21 import exceptions21
    from music21 import instrument as m21_instrument

    if isinstance(instrument, int):
        if not 0 <= instrument <= 127:
            raise ValueError(f"instrument program {instrument} outside General MIDI 0..127")
        return m21_instrument.instrumentFromMidiProgram(instrument)
    try:
        return m21_instrument.fromString(str(instrument))
    except exceptions21.InstrumentException:
        raise ValueError(
            f"unknown instrument {instrument!r} (try e.g. 'Piano', 'Violin', or a MIDI program number)"
        ) from None


def tokens_to_stream(
    tokens: Sequence[str],
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    tempo_bpm: float = 120.0,
    instrument: str | int | None = None,
    title: str | None = None,
):
    """Build a one-part music21 Score from grid tokens (tempo in quarter notes per minute).

    A header's meter and key (``M:6/8 K:Dmaj``) become the part's time and key
    signature; without a meter music21 writes 4/4.
    """
    from music21 import metadata, note, stream, tempo

    if not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
        raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")
    if not (math.isfinite(tempo_bpm) and tempo_bpm > 0):  # infinity made music21 raise OverflowError
        raise ValueError(f"tempo_bpm must be positive and finite, got {tempo_bpm!r}")
    part = stream.Part()
    if instrument is not None:
        part.insert(0, _make_instrument(instrument))
    part.insert(0, tempo.MetronomeMark(number=tempo_bpm))
    events = melody_events(tokens)  # validates the tokens, header included
    for signature in header_objects(tokens):
        part.insert(0, signature)
    for pitch, length in events:
        quarter_length = Fraction(length, steps_per_quarter)  # exact, no float drift
        # midi=, not Note(pitch): music21 reads a number below 12 as a pitch class in octave 4 (5 -> F4 = 65).
        element = note.Rest() if pitch is None else note.Note(midi=pitch)
        element.quarterLength = quarter_length
        part.append(element)
    score = stream.Score()
    if title:
        score.metadata = metadata.Metadata(title=title)
    score.insert(0, part)
    return score
