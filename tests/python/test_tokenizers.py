"""Tokenizers: vocabulary order, round trips, serialisation and clear errors."""

import json

import numpy as np
import pytest

from lstmininet.tokenizers import (
    CharTokenizer,
    MelodyTokenizer,
    tokenizer_from_dict,
    validate_melody_tokens,
)

MELODIES = [
    "67 _ 69 _ r _ 72 _ _ _".split(),
    "60 62 64 65 67".split(),
    "55 _ _ _ r 60".split(),
]


def test_melody_vocab_is_sorted_specials_rest_hold_then_pitches_numerically():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True, encoding="grid")
    assert tokenizer.vocab == ["<s>", "</s>", "r", "_", "55", "60", "62", "64", "65", "67", "69", "72"]
    assert len(tokenizer) == 12
    assert tokenizer.pitches == [55, 60, 62, 64, 65, 67, 69, 72]


def test_melody_vocab_does_not_depend_on_melody_order():
    forward = MelodyTokenizer.build(MELODIES)
    backward = MelodyTokenizer.build(list(reversed(MELODIES)))
    assert forward.vocab == backward.vocab
    assert "<s>" not in forward.vocab  # specials are off by default


def test_melody_encode_decode_round_trip():
    tokenizer = MelodyTokenizer.build(MELODIES, encoding="grid")
    for melody in MELODIES:
        ids = tokenizer.encode(melody)
        assert all(isinstance(i, int) for i in ids)
        assert tokenizer.decode(ids) == melody
        assert tokenizer.decode(np.array(ids, dtype=np.int64)) == melody


def test_encode_melody_wraps_in_bos_eos_and_decode_melody_strips_them():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True)
    ids = tokenizer.encode_melody(MELODIES[0])
    assert tokenizer.decode(ids)[0] == "<s>" and tokenizer.decode(ids)[-1] == "</s>"
    generated = ids + tokenizer.encode(["60", "62"])  # junk after </s> is cut off
    assert tokenizer.decode_melody(generated) == MELODIES[0]


def test_encode_unknown_token_names_token_and_position():
    tokenizer = MelodyTokenizer.build(MELODIES)
    with pytest.raises(ValueError, match=r"'99' at position 2"):
        tokenizer.encode(["60", "62", "99"])


def test_decode_id_outside_vocabulary_is_an_error():
    tokenizer = MelodyTokenizer.build(MELODIES)
    with pytest.raises(ValueError, match=r"id 40 at position 1"):
        tokenizer.decode([0, 40])


def test_to_dict_is_json_and_rebuilds_an_equal_tokenizer():
    tokenizer = MelodyTokenizer.build(MELODIES, add_bos_eos=True, steps_per_quarter=8)
    d = json.loads(json.dumps(tokenizer.to_dict()))
    assert d["kind"] == "melody"
    rebuilt = tokenizer_from_dict(d)
    assert isinstance(rebuilt, MelodyTokenizer)
    assert rebuilt == tokenizer
    assert rebuilt.steps_per_quarter == 8 and rebuilt.add_bos_eos


def test_tokenizer_from_dict_rejects_unknown_kind_and_version():
    with pytest.raises(ValueError, match="unknown tokenizer kind 'word'"):
        tokenizer_from_dict({"kind": "word", "vocab": ["a"]})
    with pytest.raises(ValueError, match="format version 99"):
        tokenizer_from_dict({"kind": "char", "vocab": ["a"], "format_version": 99})


def test_build_rejects_bad_melodies_naming_line_and_token():
    with pytest.raises(ValueError, match=r"melody 2: token 3 '130': MIDI pitch outside 0\.\.127"):
        MelodyTokenizer.build([["60"], ["60", "62", "130"]])


@pytest.mark.parametrize(
    "tokens, message",
    [
        (["60", "x"], r"song\.txt, line 7: token 2 'x': unknown token"),
        (["60", "128"], r"song\.txt, line 7: token 2 '128': MIDI pitch outside 0\.\.127"),
        (["60", "-1"], r"token 2 '-1': MIDI pitch outside"),
        (["_", "60"], r"song\.txt, line 7: token 1 '_': a hold cannot start"),
        (["60", "<s>"], r"token 2 '<s>': unknown token"),
        (["060"], r"token 1 '060': unknown token"),
    ],
)
def test_validate_melody_tokens_errors_name_source_line_and_token(tokens, message):
    with pytest.raises(ValueError, match=message):
        validate_melody_tokens(tokens, source="song.txt", line=7)


def test_validate_accepts_grid_and_bare_pitch_melodies():
    validate_melody_tokens("0 127 r _ _ 64 _".split())
    validate_melody_tokens("76 74 71 69".split())
    validate_melody_tokens(["r", "_", "60"])  # a melody may open with a rest


def test_char_tokenizer_round_trip_and_serialisation():
    text = "To be, or not to be:\nthat is the question."
    tokenizer = CharTokenizer.build(text)
    assert tokenizer.vocab == sorted(set(text))
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == list(text)
    assert tokenizer.decode_text(ids) == text
    rebuilt = tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    assert isinstance(rebuilt, CharTokenizer) and rebuilt.decode_text(ids) == text


def test_char_tokenizer_builds_from_several_texts_and_names_unknown_char():
    tokenizer = CharTokenizer.build(["abc", "cd"])
    assert tokenizer.vocab == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match=r"'z' at position 1"):
        tokenizer.encode("az")
    with pytest.raises(ValueError, match="no characters"):
        CharTokenizer.build("")


def test_decode_melody_reads_an_opening_hold_as_a_rest():
    tok = MelodyTokenizer.build([["60", "_", "r", "62"]], add_bos_eos=True, encoding="grid")
    ids = tok.encode(["<s>", "_", "_", "60", "_", "</s>", "62"])
    assert tok.decode_melody(ids) == ["r", "_", "60", "_"]
