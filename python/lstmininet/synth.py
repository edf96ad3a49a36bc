"""A small built-in synthesiser: melody grid tokens -> waveform -> 16-bit WAV, numpy only.

Each note is a few harmonics of its equal-tempered pitch (A4 = 440 Hz) under
an envelope that rises from zero and falls back to zero inside the note, so
notes never click against their neighbours, a repeated pitch is heard as two
notes, and rests are silence. There is no sound font: the point is to hear a
generated tune at once, not to imitate an instrument (use the MIDI file for
that). A header (``M:6/8 K:Dmaj``) is skipped; the tempo counts quarter notes,
as :func:`lstmininet.midi.write_midi`'s does, in the same range
(:func:`lstmininet.midi.check_tempo`), and a tempo so fast that a note would
last less than one sample is refused rather than rendered as silence.
"""

from __future__ import annotations

import io
import numbers
import os
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic_file import write_bytes_atomically
from .melody import DEFAULT_STEPS_PER_QUARTER, melody_events
from .midi import check_tempo

DEFAULT_TEMPO = 120.0  # quarter notes per minute
DEFAULT_SAMPLE_RATE = 44100  # holds every MIDI pitch's fundamental (127: 12.5 kHz); 22050 stops at pitch 124
SAMPLE_RATES = (8000, 192000)  # accepted range, inclusive
MAX_SECONDS = 3600  # longer renders are surely a mistake (and would take gigabytes)

# Relative amplitudes of harmonics 1, 2, 3, ...: a soft reedy tone whose fundamental is the strongest.
HARMONICS = (1.0, 0.45, 0.25, 0.12, 0.06)
# Envelope: a short rise, a fall towards a sustain level, and a release that ends at zero
# at the note's end. Rise and release shrink for very short notes so each note keeps a body.
ATTACK_SECONDS = 0.008
DECAY_SECONDS = 0.15  # time constant of the fall from the attack's peak to the sustain level
SUSTAIN_LEVEL = 0.6
RELEASE_SECONDS = 0.03
PEAK = 10 ** (-1 / 20)  # normalised peak, -1 dBFS: loud, and 16-bit rounding can never clip


def pitch_frequency(pitch: int) -> float:
    """The equal-tempered frequency of a MIDI pitch in Hz (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def note_envelope(length: int, sample_rate: int) -> np.ndarray:
    """Gain over ``length`` samples: 0 at the first sample, and 0 one sample after the last."""
    i = np.arange(length, dtype=np.float64)
    attack = min(ATTACK_SECONDS * sample_rate, length / 4)
    release = min(RELEASE_SECONDS * sample_rate, length / 3)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(i / attack, 0.0, 1.0))  # raised cosines: no corner to hear
    fall = 0.5 - 0.5 * np.cos(np.pi * np.clip((length - i) / release, 0.0, 1.0))
    body = SUSTAIN_LEVEL + (1.0 - SUSTAIN_LEVEL) * np.exp(-np.maximum(i - attack, 0.0) / (DECAY_SECONDS * sample_rate))
    return rise * body * fall


def note_tone(pitch: int, length: int, sample_rate: int) -> np.ndarray:
    """One note of ``length`` samples: harmonics below the Nyquist frequency, under the envelope."""
    time = np.arange(length, dtype=np.float64) / sample_rate
    fundamental = pitch_frequency(pitch)
    tone = np.zeros(length)
    for number, amplitude in enumerate(HARMONICS, start=1):
        if fundamental * number < sample_rate / 2:  # higher ones would alias to other pitches
            tone += amplitude * np.sin(2 * np.pi * fundamental * number * time)
    return tone * note_envelope(length, sample_rate)


def _check_settings(steps_per_quarter: int, tempo: float, sample_rate: int) -> None:
    if (
        isinstance(steps_per_quarter, bool)
        or not isinstance(steps_per_quarter, numbers.Integral)
        or steps_per_quarter < 1
    ):
        raise ValueError(f"steps_per_quarter {steps_per_quarter!r}: expected a positive integer")
    check_tempo(tempo, "tempo")  # one range for WAV and MIDI: --tempo means the same for both
    low, high = SAMPLE_RATES
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or not low <= sample_rate <= high:
        raise ValueError(f"sample_rate {sample_rate!r}: expected an integer from {low} to {high} Hz, e.g. 44100")


def render_melody(
    melody: Sequence[str],
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    tempo: float = DEFAULT_TEMPO,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
) -> np.ndarray:
    """The melody as a mono waveform (float64, peak ``PEAK``; all zeros if it has only rests).

    It lasts exactly the melody's steps at ``tempo`` quarter notes per minute,
    rounded to whole samples. ValueError names a bad token or setting.
    """
    if isinstance(melody, str):
        raise TypeError("melody: expected a list of tokens, got a string (split it: text.split())")
    _check_settings(steps_per_quarter, tempo, sample_rate)
    events = melody_events(melody)
    highest = max((pitch for pitch, _ in events if pitch is not None), default=None)
    if highest is not None and pitch_frequency(highest) >= sample_rate / 2:
        raise ValueError(
            f"pitch {highest} ({pitch_frequency(highest):,.0f} Hz) is too high for sample_rate {sample_rate}, "
            f"which holds frequencies below {sample_rate / 2:,.0f} Hz: use sample_rate=44100"
        )
    samples_per_step = sample_rate * 60.0 / (tempo * steps_per_quarter)
    total_steps = sum(length for _, length in events)
    if total_steps * samples_per_step > MAX_SECONDS * sample_rate:
        seconds = total_steps * samples_per_step / sample_rate
        raise ValueError(
            f"melody lasts {seconds:,.0f} s at tempo {tempo:g}; the synthesiser renders at most {MAX_SECONDS} s"
        )
    waveform = np.zeros(round(total_steps * samples_per_step))
    too_fast = f"tempo {float(tempo):g} is too fast for sample_rate {sample_rate}"
    if len(waveform) == 0:  # a WAV file of no samples
        raise ValueError(f"{too_fast}: the melody would last less than one sample")
    step = 0
    for pitch, length in events:
        # Boundaries are rounded from the step count, so rounding errors never add up along the tune.
        start, end = round(step * samples_per_step), round((step + length) * samples_per_step)
        if pitch is not None:
            if end == start:  # the note would be lost without a word
                raise ValueError(
                    f"{too_fast}: a note of {length} step(s) at {steps_per_quarter} steps per quarter note "
                    "would last less than one sample"
                )
            waveform[start:end] = note_tone(pitch, end - start, sample_rate)
        step += length
    peak = np.max(np.abs(waveform), initial=0.0)
    return waveform * (PEAK / peak) if peak > 0 else waveform


def wav_bytes(waveform: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file holding ``waveform`` (samples in -1..1)."""
    samples = np.asarray(waveform, dtype=np.float64)
    if samples.ndim != 1 or not np.all(np.abs(samples) <= 1.0):
        raise ValueError("waveform: expected one channel of finite samples in -1..1")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(
    melody: Sequence[str],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    tempo: float = DEFAULT_TEMPO,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
) -> Path:
    """Render a melody and write it as a mono 16-bit WAV file, atomically; returns the path."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a WAV file name")
    if not path.parent.is_dir():
        problem = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"{path}: cannot write the WAV file, {path.parent} {problem}")
    data = wav_bytes(
        render_melody(melody, steps_per_quarter=steps_per_quarter, tempo=tempo, sample_rate=sample_rate), sample_rate
    )
    try:
        write_bytes_atomically(path, data)
    except OSError as exc:  # the temporary file's name would only confuse: name the target
        raise OSError(exc.errno, f"cannot write the WAV file ({exc.strerror or exc})", str(path)) from None
    return path
