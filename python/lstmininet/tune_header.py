"""Tune headers: the meter and key tokens that open a melody, as folk-rnn's ABC tokens do.

A melody may start with header tokens, before its first note or rest:

* ``M:6/8``  the time signature (numerator 1..64, denominator 1, 2, 4, ..., 64),
* ``K:Dmaj`` the key: tonic ``A``..``G`` with ``#`` or ``b``, then a mode
  (``maj``, ``min``, ``dor``, ``phr``, ``lyd``, ``mix``, ``loc``).

At most one of each, meter first. The model learns them like any other
token, so ``generate(..., meter="6/8", key="D")`` conditions a tune by
priming it with them. Plain Python, below :mod:`lstmininet.melody`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

METER_PREFIX = "M:"
KEY_PREFIX = "K:"
MODES = ("maj", "min", "dor", "phr", "lyd", "mix", "loc")
# What users type for a mode -> the token's spelling.
_MODE_NAMES = {
    "": "maj",
    "m": "min",
    "major": "maj",
    "minor": "min",
    "ion": "maj",
    "ionian": "maj",
    "aeo": "min",
    "aeolian": "min",
    "dorian": "dor",
    "phrygian": "phr",
    "lydian": "lyd",
    "mixolydian": "mix",
    "locrian": "loc",
    **{mode: mode for mode in MODES},
}
_METER = re.compile(r"([1-9][0-9]?)/([1-9][0-9]?)")
_KEY = re.compile(r"([A-Ga-g])([#b]?)\s*([A-Za-z]*)")


def is_header_token(token: str) -> bool:
    return token.startswith((METER_PREFIX, KEY_PREFIX))


def mode_token(name: str) -> str | None:
    """A mode as written (``"dorian"``, ``"minor"``, ``"m"``; music21's names) -> ``"dor"`` ...; else None."""
    return _MODE_NAMES.get(name.strip().lower())


def meter_token(meter: str) -> str:
    """``"6/8"`` (or ``"M:6/8"``) -> ``"M:6/8"``; ValueError naming the text if it is not a time signature."""
    text = meter.strip()
    text = text[len(METER_PREFIX) :] if text.startswith(METER_PREFIX) else text
    match = _METER.fullmatch(text)
    if match:
        numerator, denominator = int(match[1]), int(match[2])
        if numerator <= 64 and denominator in (1, 2, 4, 8, 16, 32, 64):
            return f"{METER_PREFIX}{numerator}/{denominator}"
    raise ValueError(f"meter {meter!r}: expected a time signature such as '4/4' or '6/8'")


def key_token(key: str) -> str:
    """``"D"``, ``"Dm"``, ``"E minor"``, ``"A dorian"``, ``"K:Gmix"`` -> ``"K:Dmaj"`` ...; ValueError otherwise."""
    text = key.strip()
    text = text[len(KEY_PREFIX) :] if text.startswith(KEY_PREFIX) else text
    match = _KEY.fullmatch(text)
    mode = mode_token(match[3]) if match else None
    if mode is None:
        raise ValueError(
            f"key {key!r}: expected a tonic A..G (with # or b) and an optional mode "
            f"({', '.join(MODES)}, major, minor, m), such as 'D', 'Em' or 'A dorian'"
        )
    return f"{KEY_PREFIX}{match[1].upper()}{match[2]}{mode}"


def validate_header_token(token: str) -> None:
    """ValueError if a token that looks like a header is not a canonical one (``M:6/8``, ``K:Dmaj``)."""
    canonical = meter_token(token) if token.startswith(METER_PREFIX) else key_token(token)
    if canonical != token:
        raise ValueError(f"header token {token!r}: write it as {canonical!r}")


def split_header(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """(leading header tokens, the rest). Headers after the first note or rest stay in the rest."""
    count = 0
    while count < len(tokens) and is_header_token(tokens[count]):
        count += 1
    return list(tokens[:count]), list(tokens[count:])


def header_values(tokens: Sequence[str]) -> dict[str, str]:
    """``{"meter": "6/8", "key": "Dmaj"}`` from a melody's header (keys absent when the header lacks them)."""
    header, _ = split_header(tokens)
    values = {}
    for token in header:
        name = "meter" if token.startswith(METER_PREFIX) else "key"
        values[name] = token.split(":", 1)[1]
    return values


def make_header(meter: str | None = None, key: str | None = None) -> list[str]:
    """The header tokens for a meter and/or key given as users write them (meter first)."""
    for name, value, example in (("meter", meter, "'6/8'"), ("key", key, "'D' or 'A dorian'")):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a string such as {example}, got {value!r}")
    return ([meter_token(meter)] if meter is not None else []) + ([key_token(key)] if key is not None else [])


# --------------------------------------------------------------------------
# Keys as pitch classes: scales and transposition
# --------------------------------------------------------------------------

_LETTER_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Sharps in the major key signature of each natural tonic (F: one flat).
_LETTER_SHARPS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
_ACCIDENTALS = {"": 0, "#": 1, "b": -1}
# A mode's signature against the major key on the same tonic (D dorian: two sharps fewer than D major).
_MODE_SHARPS = {"lyd": 1, "maj": 0, "mix": -1, "dor": -2, "min": -3, "phr": -4, "loc": -5}
MAJOR_SCALE_STEPS = (0, 2, 4, 5, 7, 9, 11)  # semitones above the tonic


def _key_parts(token: str) -> tuple[str, str, str]:
    """``"K:Bbdor"`` -> ``("B", "b", "dor")``; ValueError if it is not a canonical key token."""
    validate_header_token(token)
    if not token.startswith(KEY_PREFIX):
        raise ValueError(f"{token!r} is not a key token (K:...)")
    body = token[len(KEY_PREFIX) :]
    return body[0], body[1:-3], body[-3:]


def key_sharps(token: str) -> int:
    """Sharps (positive) or flats (negative) in the key signature of a key token: ``K:Ador`` -> 1."""
    letter, accidental, mode = _key_parts(token)
    return _LETTER_SHARPS[letter] + 7 * _ACCIDENTALS[accidental] + _MODE_SHARPS[mode]


def key_tonic_pitch_class(token: str) -> int:
    """The tonic as a pitch class 0..11 (C = 0): ``K:Bbmaj`` -> 10."""
    letter, accidental, _ = _key_parts(token)
    return (_LETTER_PITCH_CLASSES[letter] + _ACCIDENTALS[accidental]) % 12


def key_scale(token: str) -> frozenset[int]:
    """The seven pitch classes of the key's mode: ``K:Edor`` -> the notes of D major."""
    # Every mode here is a major scale started elsewhere: its relative major's tonic is
    # a fifth (7 semitones) per missing sharp away.
    relative_major = (7 * key_sharps(token)) % 12
    return frozenset((relative_major + step) % 12 for step in MAJOR_SCALE_STEPS)


def transpose_key_token(token: str, semitones: int) -> str:
    """The key of a tune moved by ``semitones``: ``K:Dmaj`` up 2 is ``K:Emaj``.

    Spelled by :func:`spell_key`, ties going to the side (sharps or flats) of
    the original key's signature.
    """
    _, _, mode = _key_parts(token)
    target = key_tonic_pitch_class(token) + semitones
    return spell_key(target, mode, prefer_flats=key_sharps(token) < 0)


def spell_key(tonic_pitch_class: int, mode: str, prefer_flats: bool = False) -> str:
    """The key token for a tonic pitch class (C = 0) and a mode (``maj``, ``dor``, ...).

    Of the spellings of the tonic (a letter with ``#``, ``b`` or none) the one
    whose key signature has the fewest sharps or flats wins (``K:Dbmaj``, 5
    flats, not ``K:C#maj``, 7 sharps); on a tie (``F#``/``Gb`` major, 6 each)
    flats if ``prefer_flats``, else sharps.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    target = tonic_pitch_class % 12
    candidates = [
        f"{KEY_PREFIX}{letter}{accidental}{mode}"
        for letter, pitch_class in _LETTER_PITCH_CLASSES.items()
        for accidental, shift in _ACCIDENTALS.items()
        if (pitch_class + shift) % 12 == target
    ]

    def signature_size(candidate: str) -> tuple[int, bool]:
        sharps = key_sharps(candidate)
        return abs(sharps), (sharps > 0) if prefer_flats else (sharps < 0)

    return min(candidates, key=signature_size)
