"""Moving unknown pitches into a vocabulary: whole tunes by octaves first, else single notes."""

import pytest

from lstmininet.pitch_mapping import PitchFitReport, fit_melodies, fit_melody
from lstmininet.tokenizers import MelodyTokenizer

VOCAB = MelodyTokenizer(["<s>", "</s>", "r", "_", "60", "62", "64", "65", "67", "72", "74"], add_bos_eos=True)


def test_a_tune_in_the_vocabulary_is_unchanged():
    report = PitchFitReport()
    assert fit_melody(["60", "_", "r", "64"], VOCAB, report) == ["60", "_", "r", "64"]
    assert not report.changed


def test_a_tune_one_octave_low_moves_up_as_a_whole():
    report = PitchFitReport()
    assert fit_melody(["48", "_", "50", "52", "r", "55"], VOCAB, report) == ["60", "_", "62", "64", "r", "67"]
    assert (report.tunes_moved_by_octaves, report.notes_moved) == (1, 0)


def test_a_tune_two_octaves_high_moves_down():
    assert fit_melody(["84", "86", "88"], VOCAB) == ["60", "62", "64"]


def test_the_smallest_move_wins_and_up_before_down():
    # 50 fits at +12 (62) and +24 (74): +12 is taken.
    assert fit_melody(["50"], VOCAB) == ["62"]
    # 60 -> 72 is +12, 84 -> 72 is -12: both fit one octave; up is tried first, so 48 60 -> 60 72.
    assert fit_melody(["48", "60"], VOCAB) == ["60", "72"]


def test_notes_that_no_octave_move_fits_go_to_the_nearest_pitch_of_their_class():
    report = PitchFitReport()
    # 61 (C#) has no pitch class in VOCAB: nearest pitch 60 (60 and 62 tie, the lower wins).
    # 77 (F) -> 65, the only F; 76 (E) -> 64, the only E; 60 stays.
    assert fit_melody(["60", "61", "77", "76"], VOCAB, report) == ["60", "60", "65", "64"]
    assert (report.tunes_moved_by_octaves, report.notes_moved, report.tunes_with_notes_moved) == (0, 3, 1)
    assert "3 notes in 1 tunes moved" in report.summary()


def test_a_vocabulary_without_holds_skips_held_tunes_with_the_reason():
    bare = MelodyTokenizer(["60", "62", "64"])
    fitted, report = fit_melodies([["60", "62"], ["60", "_", "62"], ["48", "50"]], bare)
    assert fitted == [["60", "62"], ["60", "62"]]
    assert report.tunes == 3 and report.tunes_skipped == 1 and report.tunes_moved_by_octaves == 1
    assert "1 of 3 tunes skipped" in report.summary() and "no held notes" in report.summary()


def test_a_bad_token_is_named():
    with pytest.raises(ValueError, match="'x9' at position 1: not a melody token"):
        fit_melody(["60", "x9"], VOCAB)
    # not moved by octaves into the range: 200 (or -5) is no MIDI pitch at all (--primer "200 _" became 80)
    for token in ("200", "128", "-5"):
        with pytest.raises(ValueError, match=f"'{token}' at position 1: not a MIDI pitch \\(0..127\\)"):
            fit_melody(["60", token], VOCAB)


def test_encode_melody_fits_pitches_only_when_asked():
    with pytest.raises(ValueError, match="'48'"):
        VOCAB.encode_melody(["48", "50"])
    assert VOCAB.encode_melody(["48", "50"], fit_pitches=True) == VOCAB.encode_melody(["60", "62"])
