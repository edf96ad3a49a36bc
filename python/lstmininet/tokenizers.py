"""Tokenizers: map melody grid tokens or text characters to integer ids and back.

The melody grid grammar (pitches ``0``..``127``, rest ``r``, hold ``_``) and
its validation live in :mod:`lstmininet.melody`; the names are re-exported
here because tokenizers are where most code meets them.

A tokenizer's ``to_dict()`` is stored inside model checkpoints, so a
checkpoint alone is enough to decode what the model generates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .melody import HOLD, MIDI_PITCH_MAX, MIDI_PITCH_MIN, REST, parse_pitch, validate_melody_tokens
from .pitch_mapping import PitchFitReport, fit_melody
from .tune_header import is_header_token, split_header

__all__ = [
    "BOS",
    "EOS",
    "HOLD",
    "MIDI_PITCH_MAX",
    "MIDI_PITCH_MIN",
    "REST",
    "SPECIAL_TOKENS",
    "TOKENIZER_FORMAT_VERSION",
    "CharTokenizer",
    "MelodyTokenizer",
    "parse_pitch",
    "tokenizer_from_dict",
    "validate_melody_tokens",
]

BOS = "<s>"
EOS = "</s>"
SPECIAL_TOKENS = (BOS, EOS)

# Bumped whenever to_dict() changes shape, so old checkpoints fail loudly.
TOKENIZER_FORMAT_VERSION = 1


def _melody_token_order(token: str) -> tuple[int, int, str]:
    """Sort key giving the documented vocabulary order: specials, meters, keys, r, _, pitches."""
    if token in SPECIAL_TOKENS:
        return (0, SPECIAL_TOKENS.index(token), "")
    if is_header_token(token):
        return (1, 0 if token.startswith("M:") else 1, token)
    if token == REST:
        return (2, 0, "")
    if token == HOLD:
        return (3, 0, "")
    return (4, int(token), "")


class _VocabularyTokenizer:
    """Shared id <-> token mapping; subclasses decide what a token is."""

    kind = "base"

    def __init__(self, vocab: Sequence[str]):
        vocab = list(vocab)
        if not vocab:
            raise ValueError(f"{type(self).__name__}: vocabulary is empty")
        ids = {token: index for index, token in enumerate(vocab)}
        if len(ids) != len(vocab):
            duplicates = sorted({t for t in vocab if vocab.count(t) > 1})
            raise ValueError(f"{type(self).__name__}: duplicate tokens in vocabulary: {duplicates}")
        self.vocab: list[str] = vocab
        self._ids = ids

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={len(self)})"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; an unknown token raises ValueError naming it."""
        ids = []
        for position, token in enumerate(tokens):
            try:
                ids.append(self._ids[token])
            except KeyError:
                raise ValueError(
                    f"token {token!r} at position {position} is not in the {self.kind} vocabulary ({len(self)} tokens)"
                ) from None
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids to tokens; an id outside the vocabulary raises ValueError."""
        tokens = []
        for position, raw in enumerate(ids):
            index = int(raw)  # accepts numpy integers too
            if not 0 <= index < len(self.vocab):
                raise ValueError(
                    f"id {index} at position {position} is outside the vocabulary (0..{len(self.vocab) - 1})"
                )
            tokens.append(self.vocab[index])
        return tokens


class MelodyTokenizer(_VocabularyTokenizer):
    """Vocabulary of grid tokens (pitches, ``r``, ``_``, optional ``<s>``/``</s>``)."""

    kind = "melody"

    def __init__(self, vocab: Sequence[str], add_bos_eos: bool = False, steps_per_quarter: int = 4):
        super().__init__(vocab)
        if not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
            raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")
        for token in self.vocab:
            if is_header_token(token):
                validate_melody_tokens([token, REST], source="MelodyTokenizer vocabulary")
            elif token not in SPECIAL_TOKENS:
                validate_melody_tokens([REST, token], source="MelodyTokenizer vocabulary")
        if add_bos_eos and not all(t in self._ids for t in SPECIAL_TOKENS):
            raise ValueError(f"add_bos_eos=True needs {BOS!r} and {EOS!r} in the vocabulary")
        self.add_bos_eos = bool(add_bos_eos)
        self.steps_per_quarter = steps_per_quarter

    @classmethod
    def build(
        cls,
        melodies: Iterable[Sequence[str]],
        add_bos_eos: bool = False,
        steps_per_quarter: int = 4,
    ) -> MelodyTokenizer:
        """Collect the tokens that occur in ``melodies`` into a sorted vocabulary.

        Order is fixed (special tokens, meters, keys, ``r``, ``_``, pitches ascending), so the
        same data always gives the same ids. ``r``/``_`` appear only if used.
        """
        seen: set[str] = set(SPECIAL_TOKENS) if add_bos_eos else set()
        count = 0
        for index, melody in enumerate(melodies):
            validate_melody_tokens(melody, source=f"MelodyTokenizer.build: melody {index + 1}")
            seen.update(melody)
            count += 1
        if count == 0:
            raise ValueError("MelodyTokenizer.build: no melodies given")
        vocab = sorted(seen, key=_melody_token_order)
        return cls(vocab, add_bos_eos=add_bos_eos, steps_per_quarter=steps_per_quarter)

    @property
    def pitches(self) -> list[int]:
        """The MIDI pitches the vocabulary can express, ascending."""
        return [p for p in map(parse_pitch, self.vocab) if p is not None]  # not specials, headers, r, _

    def fit_melody(self, melody: Sequence[str], report: PitchFitReport | None = None) -> list[str]:
        """The melody with pitches this vocabulary lacks moved into it (by octaves; see lstmininet.pitch_mapping)."""
        return fit_melody(melody, self, report)

    def encode_melody(self, melody: Sequence[str], fit_pitches: bool = False) -> list[int]:
        """Encode one melody, wrapped in ``<s>`` ... ``</s>`` when enabled.

        An unknown pitch raises ValueError naming it; with ``fit_pitches`` it is
        moved into the vocabulary instead (:meth:`fit_melody`).
        """
        if fit_pitches:
            melody = self.fit_melody(melody)
        if self.add_bos_eos:
            return self.encode([BOS, *melody, EOS])
        return self.encode(melody)

    def decode_melody(self, ids: Iterable[int]) -> list[str]:
        """Decode generated ids to a plain melody: drop ``<s>``, stop at ``</s>``.

        A model may sample ``_`` before any note or rest; with nothing to hold
        it is read as a rest, so the result is always a valid melody. Meter and
        key tokens are kept only before the first note or rest, one of each.
        """
        melody: list[str] = []
        for token in self.decode(ids):
            if token == EOS:
                break
            if token == BOS:
                continue
            if is_header_token(token):
                # Only a leading header is a header: one sampled inside a tune, or a repeat, is dropped.
                header, body = split_header(melody)
                if not body and token[:2] not in [h[:2] for h in header]:
                    melody = split_header([*header, token])[0]
                    melody.sort(key=lambda t: t[:2] != "M:")
                continue
            melody.append(REST if token == HOLD and not split_header(melody)[1] else token)
        return melody

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "format_version": TOKENIZER_FORMAT_VERSION,
            "vocab": list(self.vocab),
            "add_bos_eos": self.add_bos_eos,
            "steps_per_quarter": self.steps_per_quarter,
        }


class CharTokenizer(_VocabularyTokenizer):
    """Vocabulary of single characters for plain-text models."""

    kind = "char"

    def __init__(self, vocab: Sequence[str]):
        super().__init__(vocab)
        for char in self.vocab:
            if not isinstance(char, str) or len(char) != 1:
                raise ValueError(f"CharTokenizer vocabulary entries must be single characters, got {char!r}")

    @classmethod
    def build(cls, texts: str | Iterable[str]) -> CharTokenizer:
        """Collect the characters of one text or several texts, sorted by code point."""
        if isinstance(texts, str):
            texts = [texts]
        chars: set[str] = set()
        for text in texts:
            chars.update(text)
        if not chars:
            raise ValueError("CharTokenizer.build: no characters in the given text")
        return cls(sorted(chars))

    def decode_text(self, ids: Iterable[int]) -> str:
        """Decode ids straight to a string."""
        return "".join(self.decode(ids))

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "format_version": TOKENIZER_FORMAT_VERSION,
            "vocab": list(self.vocab),
        }


_TOKENIZER_KINDS = {MelodyTokenizer.kind: MelodyTokenizer, CharTokenizer.kind: CharTokenizer}


def tokenizer_from_dict(d: dict) -> MelodyTokenizer | CharTokenizer:
    """Rebuild a tokenizer from ``to_dict()`` output (e.g. checkpoint metadata)."""
    if not isinstance(d, dict) or "kind" not in d:
        raise ValueError("tokenizer metadata must be a dict with a 'kind' field")
    kind = d["kind"]
    if kind not in _TOKENIZER_KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r} (known: {sorted(_TOKENIZER_KINDS)})")
    version = d.get("format_version", TOKENIZER_FORMAT_VERSION)
    if version != TOKENIZER_FORMAT_VERSION:
        raise ValueError(
            f"tokenizer format version {version} is not supported "
            f"(this lstmininet reads version {TOKENIZER_FORMAT_VERSION})"
        )
    vocab = d.get("vocab")
    if not isinstance(vocab, list):
        raise ValueError(f"{kind} tokenizer metadata has no 'vocab' list")
    if not all(isinstance(token, str) for token in vocab):
        raise ValueError(f"{kind} tokenizer metadata: every 'vocab' entry must be a string")
    if kind == MelodyTokenizer.kind:
        steps_per_quarter = d.get("steps_per_quarter", 4)
        if isinstance(steps_per_quarter, bool) or not isinstance(steps_per_quarter, int):
            raise ValueError(f"melody tokenizer metadata: steps_per_quarter {steps_per_quarter!r} is not an integer")
        return MelodyTokenizer(
            vocab,
            add_bos_eos=bool(d.get("add_bos_eos", False)),
            steps_per_quarter=steps_per_quarter,
        )
    return CharTokenizer(vocab)
