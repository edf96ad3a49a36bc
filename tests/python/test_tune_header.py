"""Meter and key header tokens: spelling, validation, and their place in melodies and vocabularies."""

import pytest

from lstmininet.melody import melody_events, validate_melody_tokens
from lstmininet.tokenizers import MelodyTokenizer
from lstmininet.tune_header import header_values, key_token, make_header, meter_token, split_header


@pytest.mark.parametrize(
    "text, token",
    [("D", "K:Dmaj"), ("Em", "K:Emin"), ("E minor", "K:Emin"), ("A dorian", "K:Ador"), ("bb mix", "K:Bbmix")],
)
def test_keys_as_users_write_them(text, token):
    assert key_token(text) == token


@pytest.mark.parametrize("text", ["H", "D blues", "", "Dmajor7"])
def test_bad_keys_are_named(text):
    with pytest.raises(ValueError, match="key"):
        key_token(text)


@pytest.mark.parametrize("text", ["6/7", "0/4", "4", "6/8/8", "99/4"])
def test_bad_meters_are_named(text):
    with pytest.raises(ValueError, match="meter"):
        meter_token(text)


def test_header_opens_a_melody_and_is_not_an_event():
    melody = ["M:6/8", "K:Dmaj", "62", "_", "r"]
    validate_melody_tokens(melody)
    assert melody_events(melody) == [(62, 2), (None, 1)]
    assert split_header(melody) == (["M:6/8", "K:Dmaj"], ["62", "_", "r"])
    assert header_values(melody) == {"meter": "6/8", "key": "Dmaj"}
    assert make_header("6/8", "D") == ["M:6/8", "K:Dmaj"]


@pytest.mark.parametrize(
    "melody, problem",
    [
        (["M:6/8"], "only a header"),
        (["K:Dmaj", "M:6/8", "60"], "meter first"),
        (["M:6/8", "M:3/4", "60"], "at most one"),
        (["K:D", "60"], "write it as 'K:Dmaj'"),
        (["M:6/8", "_"], "hold cannot start"),
        (["60", "M:6/8"], "unknown token"),
    ],
)
def test_malformed_headers_are_named(melody, problem):
    with pytest.raises(ValueError, match=problem):
        validate_melody_tokens(melody)


def test_vocabulary_holds_headers_and_decoding_keeps_only_a_leading_one():
    tokenizer = MelodyTokenizer.build(
        [["M:6/8", "K:Dmaj", "62", "_", "r"], ["K:Gmaj", "60"]], add_bos_eos=True, encoding="grid"
    )
    assert tokenizer.vocab == ["<s>", "</s>", "M:6/8", "K:Dmaj", "K:Gmaj", "r", "_", "60", "62"]
    sampled = tokenizer.encode(["<s>", "K:Gmaj", "M:6/8", "K:Dmaj", "_", "62", "K:Dmaj", "60", "</s>", "62"])
    assert tokenizer.decode_melody(sampled) == ["M:6/8", "K:Gmaj", "r", "62", "60"]
