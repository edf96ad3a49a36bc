"""Pitch + duration tokens: the conversion, the tokenizer's two encodings, robust decoding, old dicts."""

import json
import struct

import numpy as np
import pytest

from checkpoint_layout import fields, with_checksum
from lstmininet import LSTM, load
from lstmininet.duration_tokens import (
    decode_duration_tokens,
    parse_duration,
    parse_duration_line,
    to_duration_tokens,
)
from lstmininet.input_limits import InputLimitError
from lstmininet.melody import validate_melody_tokens
from lstmininet.tokenizers import MelodyTokenizer, tokenizer_from_dict

# Written by hand: a jig with a header, a rest, a triplet-free bar and held notes (12 steps per quarter).
JIG = "M:6/8 K:Dmaj 62 _ _ _ _ _ 66 _ _ _ _ _ r _ _ _ _ _ 69 _ _ 71 _ _ 69 _ _ _ _ _ _ _ _".split()
JIG_EVENTS = "M:6/8 K:Dmaj 62 d6 66 d6 r d6 69 d3 71 d3 69 d9".split()
TRIPLET = "67 _ _ _ 69 _ _ _ 71 _ _ _ 72 _ _ _ _ _ _ _ _ _ _ _".split()  # eighth-note triplet, then a quarter
MELODIES = [JIG, TRIPLET, "60 62 64 _ r 65".split()]


def test_grid_melody_to_duration_tokens_and_back_is_exact():
    assert to_duration_tokens(JIG) == JIG_EVENTS
    assert parse_duration_line(JIG_EVENTS) == JIG
    assert to_duration_tokens(TRIPLET) == "67 d4 69 d4 71 d4 72 d12".split()


def test_long_events_become_a_chain_of_length_tokens():
    long_note = ["60"] + ["_"] * 599
    assert to_duration_tokens(long_note) == ["60", "d512", "d88"]
    assert to_duration_tokens(long_note, max_token_steps=None) == ["60", "d600"]
    assert decode_duration_tokens(["60", "d512", "d88"]) == long_note


@pytest.mark.parametrize(
    "token, steps", [("d3", 3), ("d512", 512), ("d0", None), ("d03", None), ("d", None), ("3", None), ("d1x", None)]
)
def test_length_tokens_have_one_spelling(token, steps):
    assert parse_duration(token) == steps


def test_tokenizer_builds_duration_tokens_on_twelve_steps_by_default():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True)
    assert tokenizer.encoding == "duration" and tokenizer.steps_per_quarter == 12
    assert tokenizer.vocab == (
        "<s> </s> M:6/8 K:Dmaj r 60 62 64 65 66 67 69 71 72 d1 d2 d3 d4 d6 d9 d12".split()
    )  # specials, meter, key, r, pitches, lengths ascending (numerically: d12 after d9)


@pytest.mark.parametrize("encoding", ["duration", "grid"])
def test_encode_decode_round_trip_in_both_encodings(encoding):
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True, encoding=encoding)
    for melody in MELODIES:
        ids = tokenizer.encode_melody(melody)
        assert tokenizer.decode_melody(ids) == melody
    events = tokenizer.decode(tokenizer.encode_melody(JIG))
    assert events == ["<s>", *(JIG_EVENTS if encoding == "duration" else JIG), "</s>"]


def test_grid_encoding_keeps_the_old_vocabulary():
    tokenizer = MelodyTokenizer.build(MELODIES[1:], encoding="grid", steps_per_quarter=4)
    assert tokenizer.vocab == "r _ 60 62 64 65 67 69 71 72".split()


def _decode(tokens):
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True)
    return tokenizer.decode_melody(tokenizer.encode(tokens))


@pytest.mark.parametrize(
    "sampled, melody",
    [
        ("<s> 62 d3 r d6 </s> 60 d1", "62 _ _ r _ _ _ _ _"),  # stop at </s>
        ("62 64 d2", "62 64 _"),  # a pitch with no length after it lasts one step
        ("d3 d1 62 d1", "62"),  # lengths with no event before them are dropped
        ("62 d12 d6", "62" + " _" * 17),  # lengths right after each other add up
        ("K:Dmaj M:6/8 K:Dmaj 62 d1 M:6/8 64 d2", "M:6/8 K:Dmaj 62 64 _"),  # one header, leading only
        ("r", "r"),
        ("<s> M:6/8 </s>", "M:6/8"),  # a header alone (the caller sees no notes)
        ("", ""),
    ],
)
def test_decoding_rules_for_sampled_sequences(sampled, melody):
    assert _decode(sampled.split()) == melody.split()


def test_any_sampled_id_sequence_decodes_to_a_valid_melody():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True)
    rng = np.random.default_rng(0)
    for _ in range(300):
        ids = rng.integers(0, len(tokenizer), size=int(rng.integers(1, 30)))
        melody = tokenizer.decode_melody(ids)
        if any(not t.startswith(("M:", "K:")) for t in melody):
            validate_melody_tokens(melody)
            assert tokenizer.decode_melody(tokenizer.encode_melody(melody)) == melody


def test_a_length_missing_from_the_vocabulary_is_written_with_the_lengths_it_has():
    tokenizer = MelodyTokenizer(["r", "60", "d2", "d3"])
    assert tokenizer.encoding == "duration"  # inferred from the length tokens
    melody = "60 _ _ _ _ _ _ r _ _ _ _".split()  # 7 steps, then 5
    assert tokenizer.melody_tokens(melody) == "60 d3 d2 d2 r d3 d2".split()
    assert tokenizer.decode_melody(tokenizer.encode_melody(melody)) == melody
    with pytest.raises(ValueError, match=r"event 1 lasts 1 grid step\(s\): no sum of the vocabulary's lengths"):
        tokenizer.encode_melody(["60"])


def test_primer_may_be_empty_a_header_or_notes():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True)
    assert tokenizer.decode(tokenizer.encode_primer([])) == ["<s>"]
    assert tokenizer.decode(tokenizer.encode_primer(["M:6/8"])) == ["<s>", "M:6/8"]
    assert tokenizer.decode(tokenizer.encode_primer("60 _ 62".split())) == "<s> 60 d2 62 d1".split()


@pytest.mark.parametrize(
    "vocab, encoding, message",
    [
        (["r", "60", "d3"], "grid", "length token 'd3' in a grid encoding"),
        (["r", "_", "60", "d3"], None, "'_' in a duration encoding"),
        (["r", "60", "d513"], None, r"length token 'd513' outside d1..d512"),
        (["r", "60"], "notes", "encoding must be one of"),
    ],
)
def test_constructor_refuses_mixed_or_unknown_encodings(vocab, encoding, message):
    with pytest.raises(ValueError, match=message):
        MelodyTokenizer(vocab, encoding=encoding)


def test_to_dict_stores_the_encoding_and_a_dict_without_it_is_the_old_grid():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True)
    d = json.loads(json.dumps(tokenizer.to_dict()))
    assert d["encoding"] == "duration" and d["steps_per_quarter"] == 12
    assert tokenizer_from_dict(d) == tokenizer
    # What lstmininet wrote before encodings existed (and before steps_per_quarter): the sixteenth grid.
    old = {"kind": "melody", "format_version": 1, "vocab": ["<s>", "</s>", "r", "_", "60", "62"], "add_bos_eos": True}
    rebuilt = tokenizer_from_dict(old)
    assert (rebuilt.encoding, rebuilt.steps_per_quarter) == ("grid", 4)
    assert rebuilt.decode_melody(rebuilt.encode("<s> 60 _ r 62 </s>".split())) == "60 _ r 62".split()
    with pytest.raises(ValueError, match="encoding 'midi' is not one of"):
        tokenizer_from_dict({**d, "encoding": "midi"})


def test_a_checkpoint_written_before_encodings_loads_as_grid(tmp_path):
    tokenizer = MelodyTokenizer.build(MELODIES[1:], add_bos_eos=True, encoding="grid", steps_per_quarter=4)
    path = tmp_path / "old.lmn"
    LSTM(len(tokenizer), hidden_size=4, seed=0, tokenizer=tokenizer).save(path)
    data = path.read_bytes()
    f = fields(data)
    metadata = json.loads(data[f["metadata"].offset : f["metadata"].offset + f["metadata"].size])
    del metadata["tokenizer"]["encoding"]  # the shape older versions wrote
    text = json.dumps(metadata).encode()
    damaged = data[: f["vocabulary.count"].offset] + struct.pack("<II", 0, len(text)) + text
    damaged += data[f["metadata"].offset + f["metadata"].size :]
    path.write_bytes(with_checksum(damaged))
    loaded = load(path).tokenizer
    assert loaded.encoding == "grid" and loaded == tokenizer


@pytest.mark.parametrize(
    "line, error, message",
    [
        ("60 d3 62", ValueError, r"token 3 '62': the line ends before its length"),
        ("60 d3 d2", ValueError, r"token 3 'd2': a length must follow a pitch or 'r'"),
        ("60 _", ValueError, r"token 2 '_': expected a length such as 'd3' after '60'"),
        ("600 d3", ValueError, r"token 1 '600': unknown token"),
        ("M:6/8", ValueError, r"empty melody \(only a header\)"),
        ("60 d513", InputLimitError, r"token 2 'd513': a note or rest longer than 512 grid steps"),
        ("60 d300 62 d300", InputLimitError, r"token 4: the tune is longer than 500 grid steps"),
    ],
)
def test_strict_duration_lines_name_line_and_token(line, error, message):
    with pytest.raises(error, match=r"f\.txt, line 7: " + message):
        parse_duration_line(line.split(), "f.txt", 7, max_note_steps=512, max_tune_steps=500)
