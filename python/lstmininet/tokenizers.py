"""Tokenizers: map melodies or text characters to integer ids and back.

The melody grid grammar (pitches ``0``..``127``, rest ``r``, hold ``_``) and
its validation live in :mod:`lstmininet.melody`; the names are re-exported
here because tokenizers are where most code meets them. A melody tokenizer
takes and gives grid melodies and encodes them as grid tokens or as pitch +
duration tokens (:mod:`lstmininet.duration_tokens`), its ``encoding``.

A tokenizer's ``to_dict()`` is stored inside model checkpoints, so a
checkpoint alone is enough to decode what the model generates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .duration_tokens import (
    ENCODINGS,
    MAX_DURATION_TOKEN_STEPS,
    decode_duration_tokens,
    duration_token,
    is_duration_token,
    parse_duration,
    to_duration_tokens,
)
from .melody import (
    DEFAULT_STEPS_PER_QUARTER,
    HOLD,
    LEGACY_STEPS_PER_QUARTER,
    MIDI_PITCH_MAX,
    MIDI_PITCH_MIN,
    REST,
    melody_events,
    parse_pitch,
    validate_melody_tokens,
)
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
    """Sort key giving the documented vocabulary order: specials, meters, keys, r, _, pitches, lengths."""
    if token in SPECIAL_TOKENS:
        return (0, SPECIAL_TOKENS.index(token), "")
    if is_header_token(token):
        return (1, 0 if token.startswith("M:") else 1, token)
    if token == REST:
        return (2, 0, "")
    if token == HOLD:
        return (3, 0, "")
    length = parse_duration(token)
    if length is not None:
        return (5, length, "")
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
    """Melody vocabulary in one of two encodings; melodies in and out are grid tokens.

    * ``encoding="duration"`` (what :meth:`build` makes by default): each note
      or rest is its pitch (or ``r``) followed by a length token ``d<N>``, N
      grid steps: ``62 d3 r d6``. Events longer than 512 steps are a chain
      (``d512 d88``). A length the vocabulary lacks is written as the fewest
      vocabulary lengths that add up to it.
    * ``encoding="grid"``: each grid token (``60``, ``r``, ``_``) is a token.

    Header tokens (``M:6/8 K:Dmaj``) open a melody in both. Vocabulary
    order: ``<s>``, ``</s>``, meters, keys, ``r``, ``_``, pitches, lengths.
    """

    kind = "melody"

    def __init__(
        self,
        vocab: Sequence[str],
        add_bos_eos: bool = False,
        steps_per_quarter: int = LEGACY_STEPS_PER_QUARTER,
        encoding: str | None = None,
    ):
        super().__init__(vocab)
        if isinstance(steps_per_quarter, bool) or not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
            raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter!r}")
        lengths = [parse_duration(t) for t in self.vocab]
        if encoding is None:  # a vocabulary with length tokens is the duration encoding
            encoding = "duration" if any(n is not None for n in lengths) else "grid"
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        for token, length in zip(self.vocab, lengths, strict=True):
            if length is not None:
                if encoding == "grid":
                    raise ValueError(f"MelodyTokenizer vocabulary: length token {token!r} in a grid encoding")
                if not 1 <= length <= MAX_DURATION_TOKEN_STEPS:
                    raise ValueError(
                        f"MelodyTokenizer vocabulary: length token {token[:24]!r} outside "
                        f"d1..d{MAX_DURATION_TOKEN_STEPS}"
                    )
            elif token == HOLD and encoding == "duration":
                raise ValueError("MelodyTokenizer vocabulary: '_' in a duration encoding (lengths are 'd<N>' tokens)")
            elif is_header_token(token):
                validate_melody_tokens([token, REST], source="MelodyTokenizer vocabulary")
            elif token not in SPECIAL_TOKENS:
                validate_melody_tokens([REST, token], source="MelodyTokenizer vocabulary")
        if add_bos_eos and not all(t in self._ids for t in SPECIAL_TOKENS):
            raise ValueError(f"add_bos_eos=True needs {BOS!r} and {EOS!r} in the vocabulary")
        self.add_bos_eos = bool(add_bos_eos)
        self.steps_per_quarter = steps_per_quarter
        self.encoding = encoding
        self._lengths = sorted(n for n in lengths if n is not None)
        self._length_splits: dict[int, list[int] | None] = {}

    @classmethod
    def build(
        cls,
        melodies: Iterable[Sequence[str]],
        add_bos_eos: bool = False,
        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
        encoding: str = "duration",
    ) -> MelodyTokenizer:
        """Collect the tokens ``melodies`` (grid tokens) use in ``encoding`` into a sorted vocabulary.

        Order is fixed (special tokens, meters, keys, ``r``, ``_``, pitches ascending,
        lengths ascending), so the same data always gives the same ids. ``r``/``_`` appear only if used.
        ``steps_per_quarter`` is the melodies' grid (for MIDI and scores made from generated tunes).
        """
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        seen: set[str] = set(SPECIAL_TOKENS) if add_bos_eos else set()
        count = 0
        for index, melody in enumerate(melodies):
            validate_melody_tokens(melody, source=f"MelodyTokenizer.build: melody {index + 1}")
            seen.update(to_duration_tokens(melody) if encoding == "duration" else melody)
            count += 1
        if count == 0:
            raise ValueError("MelodyTokenizer.build: no melodies given")
        vocab = sorted(seen, key=_melody_token_order)
        return cls(vocab, add_bos_eos=add_bos_eos, steps_per_quarter=steps_per_quarter, encoding=encoding)

    @property
    def pitches(self) -> list[int]:
        """The MIDI pitches the vocabulary can express, ascending."""
        return [p for p in map(parse_pitch, self.vocab) if p is not None]  # not specials, headers, r, _

    @property
    def grid_tokens(self) -> list[str]:
        """The grid tokens this tokenizer's melodies may use (``_`` whenever lengths can be written)."""
        tokens = [t for t in self.vocab if t not in SPECIAL_TOKENS and parse_duration(t) is None]
        if self.encoding == "duration" and self._lengths:
            tokens.append(HOLD)
        return tokens

    def fit_melody(self, melody: Sequence[str], report: PitchFitReport | None = None) -> list[str]:
        """The melody with pitches this vocabulary lacks moved into it (by octaves; see lstmininet.pitch_mapping)."""
        return fit_melody(melody, self.grid_tokens, report)

    def melody_tokens(self, melody: Sequence[str]) -> list[str]:
        """A grid melody in this encoding (no ``<s>``/``</s>``); ValueError if a length cannot be written."""
        if self.encoding == "grid":
            validate_melody_tokens(melody, source="melody")
            return list(melody)
        tokens = split_header(melody)[0]
        for position, (pitch, steps) in enumerate(melody_events(melody), start=1):
            parts = self._split_length(steps)
            if parts is None:
                raise ValueError(
                    f"event {position} lasts {steps} grid step(s): no sum of the vocabulary's lengths "
                    f"({', '.join(duration_token(n) for n in self._lengths) or 'none'}) makes it"
                )
            tokens.append(REST if pitch is None else str(pitch))
            tokens += [duration_token(n) for n in parts]
        return tokens

    def _split_length(self, steps: int) -> list[int] | None:
        """The fewest vocabulary lengths adding up to ``steps``, largest first; None if none do."""
        if steps in self._length_splits:
            return self._length_splits[steps]
        known = self._lengths
        if steps in known:
            return [steps]
        parts: list[int] = []
        remaining = steps
        if known:
            while remaining > 2 * known[-1]:  # long notes: whole chains of the longest length first
                parts.append(known[-1])
                remaining -= known[-1]
        # Fewest tokens for the rest; scanning lengths longest first breaks ties towards long first parts.
        best: list[tuple[int, int] | None] = [(0, 0)] + [None] * remaining
        for total in range(1, remaining + 1):
            for length in reversed(known):
                if length <= total and best[total - length] is not None:
                    count = best[total - length][0] + 1
                    if best[total] is None or count < best[total][0]:
                        best[total] = (count, length)
        if best[remaining] is None:
            result = None
        else:
            while remaining:
                parts.append(best[remaining][1])
                remaining -= best[remaining][1]
            result = parts
        if len(self._length_splits) < 4096:
            self._length_splits[steps] = result
        return result

    def encode_melody(self, melody: Sequence[str], fit_pitches: bool = False) -> list[int]:
        """Encode one grid melody in this encoding, wrapped in ``<s>`` ... ``</s>`` when enabled.

        An unknown pitch raises ValueError naming it; with ``fit_pitches`` it is
        moved into the vocabulary instead (:meth:`fit_melody`).
        """
        if fit_pitches:
            melody = self.fit_melody(melody)
        tokens = self.melody_tokens(melody)
        if self.add_bos_eos:
            return self.encode([BOS, *tokens, EOS])
        return self.encode(tokens)

    def encode_primer(self, melody: Sequence[str]) -> list[int]:
        """Ids that start a generated tune: ``<s>`` (when enabled), then ``melody`` (grid tokens) if any.

        ``melody`` may be empty or only a header (``M:6/8 K:Dmaj``). In the
        duration encoding the last note's length may still grow: a sampled
        length token right after it adds to it.
        """
        start = [BOS] if self.add_bos_eos else []
        header, body = split_header(melody)
        tokens = self.melody_tokens(melody) if body else header
        return self.encode([*start, *tokens])

    def continues_note(self, token_id: int) -> bool:
        """Whether the token lengthens the note or rest before it (``_``, or a length token such as ``d6``)."""
        token = self.vocab[token_id]
        return token == HOLD or is_duration_token(token)

    def decode_melody(self, ids: Iterable[int]) -> list[str]:
        """Decode any id sequence (as generated) to a valid grid melody.

        ``<s>`` is dropped, ``</s>`` ends the melody. Meter and key tokens are
        kept only before the first note or rest, one of each (meter first).
        Grid encoding: a ``_`` before any note or rest is read as a rest.
        Duration encoding: a pitch or ``r`` lasts the sum of the length tokens
        right after it, one step if none follows; a length token with nothing
        before it to measure is dropped (:func:`~lstmininet.duration_tokens.decode_duration_tokens`).
        """
        header: list[str] = []
        body: list[str] = []
        for token in self.decode(ids):
            if token == EOS:
                break
            if token == BOS:
                continue
            if is_header_token(token):
                # Only a leading header is a header: one sampled inside a tune, or a repeat, is dropped.
                if not body and token[:2] not in [h[:2] for h in header]:
                    header = sorted([*header, token], key=lambda t: t[:2] != "M:")
                continue
            body.append(token)
        if self.encoding == "duration":
            return header + decode_duration_tokens(body)
        if body[:1] == [HOLD]:
            body[0] = REST
        return header + body

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "format_version": TOKENIZER_FORMAT_VERSION,
            "vocab": list(self.vocab),
            "add_bos_eos": self.add_bos_eos,
            "steps_per_quarter": self.steps_per_quarter,
            "encoding": self.encoding,
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
        # Written before these fields existed: the sixteenth grid, grid tokens.
        steps_per_quarter = d.get("steps_per_quarter", LEGACY_STEPS_PER_QUARTER)
        if isinstance(steps_per_quarter, bool) or not isinstance(steps_per_quarter, int):
            raise ValueError(f"melody tokenizer metadata: steps_per_quarter {steps_per_quarter!r} is not an integer")
        encoding = d.get("encoding", "grid")
        if encoding not in ENCODINGS:
            raise ValueError(f"melody tokenizer metadata: encoding {str(encoding)[:24]!r} is not one of {ENCODINGS}")
        return MelodyTokenizer(
            vocab,
            add_bos_eos=bool(d.get("add_bos_eos", False)),
            steps_per_quarter=steps_per_quarter,
            encoding=encoding,
        )
    return CharTokenizer(vocab)
