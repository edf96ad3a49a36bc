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
    mode = _MODE_NAMES.get(match[3].lower()) if match else None
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
    return ([meter_token(meter)] if meter is not None else []) + ([key_token(key)] if key is not None else [])
