"""O'Neill's tunes on 12 steps per quarter: none skipped, triplets exact through MIDI and MusicXML, the committed file.

Loading all of ``oneills1850`` takes minutes; these tests read two small files of it
(10 songs each) and check the committed data/Melody.txt against its own header.
"""

import re
from pathlib import Path

import pytest

from lstmininet.conditioning import known_headers
from lstmininet.datasets import load_melodies, load_melodies_with_report, read_melody_file
from lstmininet.melody import change_grid
from lstmininet.melody_file import MelodyFormat
from lstmininet.midi import read_midi, write_midi, write_musicxml
from lstmininet.tokenizers import MelodyTokenizer
from lstmininet.tune_header import split_header

REPO_ROOT = Path(__file__).resolve().parents[2]
TRIPLETS = "oneills1850/0721-0730.abc"  # 10 songs: 2 with triplets (off the 1/16 grid), all on the 12 grid
THIRTY_SECONDS = "oneills1850/0626-0635.abc"  # 10 songs: 2 with notes finer than the 12 grid


def test_no_oneill_tune_is_skipped_for_rhythm_with_the_defaults(tmp_path):
    options = {"cache_dir": tmp_path, "progress": False}
    _, sixteenths = load_melodies_with_report(TRIPLETS, steps_per_quarter=4, off_grid="skip", **options)
    assert sixteenths.skipped == {"off_grid": 2}  # the point of the file: triplets
    _, twelve = load_melodies_with_report(TRIPLETS, **options)
    assert twelve.steps_per_quarter == 12 and twelve.songs_loaded == 10 and twelve.songs_skipped == 0
    assert twelve.songs_quantized == 0  # triplets are on the grid of 12: nothing rounded
    # Notes finer than the grid (32nds) are rounded by default, as in data/Melody.txt: no tune is lost.
    _, rounded = load_melodies_with_report(THIRTY_SECONDS, **options)
    assert rounded.songs_loaded == 10 and rounded.songs_skipped == 0
    assert rounded.songs_quantized == 2 and rounded.notes_quantized > 0
    _, strict = load_melodies_with_report(THIRTY_SECONDS, off_grid="skip", **options)
    assert strict.skipped == {"off_grid": 2}


def test_triplet_tunes_come_back_exact_through_tokens_midi_and_musicxml(tmp_path):
    melodies = load_melodies(TRIPLETS, cache_dir=tmp_path, progress=False)
    triplet_tunes = [m for m in melodies if change_grid(m, 12, 4).tokens is None]  # the 1/16 grid cannot hold them
    assert len(triplet_tunes) == 2
    tokenizer = MelodyTokenizer.build(melodies, add_bos_eos=True)
    for index, melody in enumerate(triplet_tunes):
        assert tokenizer.decode_melody(tokenizer.encode_melody(melody)) == melody
        assert [t[:2] for t in split_header(melody)[0]] == ["M:", "K:"]  # the files carry the header too
        midi = write_midi(melody, tmp_path / f"t{index}.mid", steps_per_quarter=12)
        assert read_midi(midi, steps_per_quarter=12) == melody
        xml = write_musicxml(melody, tmp_path / f"t{index}.musicxml", steps_per_quarter=12)
        assert load_melodies(xml, steps_per_quarter=12, cache=False, progress=False) == [melody]


def test_committed_melody_txt_holds_every_tune_as_its_header_says():
    path = REPO_ROOT / "data" / "Melody.txt"
    melodies, form = read_melody_file(path)
    assert form == MelodyFormat(12, "duration")
    text = path.read_text(encoding="utf-8")
    counts = re.search(r"^# (\d+) tunes, (\d+) tokens, vocabulary (\d+); (\d+) duplicate tunes removed\.$", text, re.M)
    conversion = re.search(r"^# Conversion: (\d+) songs loaded from 39 files(.*)$", text, re.M)
    assert counts and conversion, "the header lines scripts/build_melody_txt.py writes"
    assert "skipped" not in conversion[2]  # every O'Neill song converted
    assert int(counts[1]) + int(counts[4]) == int(conversion[1]) == 2009
    tokenizer = MelodyTokenizer.build(melodies)
    tokens = sum(len(tokenizer.melody_tokens(m)) for m in melodies)
    assert (int(counts[1]), int(counts[2]), int(counts[3])) == (len(melodies), tokens, len(tokenizer))
    assert len({" ".join(m) for m in melodies}) == len(melodies)  # duplicates removed
    assert {"r", "d4", "d6", "d12"} <= set(tokenizer.vocab)  # rests, triplet eighths, eighths, quarters
    assert all([t[:2] for t in split_header(m)[0]] == ["M:", "K:"] for m in melodies)  # each opens with meter, key
    meters, keys = known_headers(tokenizer)
    vocabulary = re.search(r"^# Vocabulary: (\d+) meters, (\d+) keys, r, (\d+) MIDI pitches", text, re.M)
    assert vocabulary and tuple(map(int, vocabulary.groups())) == (len(meters), len(keys), len(tokenizer.pitches))
    assert {"6/8", "2/2", "3/4"} <= set(meters) and {"Dmaj", "Gmaj", "Ador"} <= set(keys)  # jigs, reels, ...


@pytest.mark.parametrize("grid", [4, 12])
def test_the_old_sixteenth_grid_stays_trainable(tmp_path, grid):
    melodies = load_melodies(TRIPLETS, steps_per_quarter=grid, cache_dir=tmp_path, progress=False)
    tokenizer = MelodyTokenizer.build(melodies, add_bos_eos=True, steps_per_quarter=grid, encoding="grid")
    assert "_" in tokenizer and all(tokenizer.decode_melody(tokenizer.encode_melody(m)) == m for m in melodies)
