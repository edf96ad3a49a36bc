"""Conditioning a melody model on a meter and key: the primer opens with the tune header.

A model trained on tunes with headers (``<s> M:6/8 K:Dmaj 62 _ ...``)
has learnt what follows ``M:6/8``; priming it with ``<s> M:6/8 K:Dmaj``
asks for a jig in D. :func:`conditioned_primer` puts the header before the
user's own primer tokens (the start token goes before both, once, when the
ids are made) and names the meters and keys the model knows when it is
asked for another.
Plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from .tokenizers import BOS, MelodyTokenizer
from .tune_header import KEY_PREFIX, METER_PREFIX, key_tonic_pitch_class, make_header, split_header


def known_headers(tokenizer) -> tuple[list[str], list[str]]:
    """(meters, keys) in a melody vocabulary, as users write them: (["6/8", ...], ["Dmaj", ...])."""
    vocab = getattr(tokenizer, "vocab", ())
    meters = [token[len(METER_PREFIX) :] for token in vocab if token.startswith(METER_PREFIX)]
    keys = [token[len(KEY_PREFIX) :] for token in vocab if token.startswith(KEY_PREFIX)]
    return meters, keys


def _check_known(tokenizer: MelodyTokenizer, token: str, asked: str | None) -> None:
    """ValueError naming the meter/key (as ``asked``, else as the primer's) and listing those the model knows."""
    if token in tokenizer:
        return
    kind = "meter" if token.startswith(METER_PREFIX) else "key"
    named = f"{kind} {asked!r} ({token})" if asked is not None else f"the primer's {kind} {token}"
    known = known_headers(tokenizer)[0 if kind == "meter" else 1]
    if not known:
        raise ValueError(
            f"{named}: this model was trained on tunes without {kind} tokens, so it cannot be "
            f"conditioned on a {kind}; train it on tunes loaded with headers (load_melodies(..., headers=True), "
            "the default for score files)"
        )
    raise ValueError(f"{named} is not in this model's vocabulary; it knows {', '.join(known)}")


def _as_spelled_by(tokenizer: MelodyTokenizer, key: str) -> str:
    """A key token as the vocabulary spells it: ``K:A#maj`` is ``K:Bbmaj`` when only that one is known."""
    if key in tokenizer:
        return key
    mode, tonic = key[-3:], key_tonic_pitch_class(key)
    for token in known_headers(tokenizer)[1]:
        if token.endswith(mode) and key_tonic_pitch_class(KEY_PREFIX + token) == tonic:
            return KEY_PREFIX + token
    return key


def conditioned_primer(
    tokenizer, primer: Sequence[str] = (), meter: str | None = None, key: str | None = None
) -> list[str]:
    """The primer that conditions a melody model, without the start token: the header, then ``primer``.

    ``conditioned_primer(tok, meter="6/8", key="D")`` is ``["M:6/8", "K:Dmaj"]``;
    the model is fed ``<s>`` (if it uses one) and these. ``primer`` may start
    with ``<s>`` (dropped: it is not repeated) and with header tokens of its
    own; a meter or key given both there and as an argument must agree.
    ValueError names a meter or key the vocabulary lacks, listing those it has,
    or a tokenizer that is not a melody tokenizer.
    """
    if not isinstance(tokenizer, MelodyTokenizer):
        what = "no tokenizer" if tokenizer is None else f"a {tokenizer.kind} tokenizer"
        raise ValueError(f"meter and key condition melody models; this model has {what}")
    tokens = list(primer)
    if tokens[:1] == [BOS]:
        tokens = tokens[1:]
    own_header, body = split_header(tokens)
    header = {token[:2]: token for token in own_header}
    asked = {METER_PREFIX: meter, KEY_PREFIX: key}
    for token in make_header(meter, key):
        kind = token[:2]
        if kind == KEY_PREFIX:
            token = _as_spelled_by(tokenizer, token)
        if header.get(kind, token) != token:
            name = "meter" if kind == METER_PREFIX else "key"
            raise ValueError(f"{name} {asked[kind]!r} ({token}) but the primer starts with {header[kind]}")
        header[kind] = token
    for kind, token in header.items():
        _check_known(tokenizer, token, asked[kind])
    ordered = [header[kind] for kind in (METER_PREFIX, KEY_PREFIX) if kind in header]
    return ordered + body
