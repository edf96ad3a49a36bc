"""Meter and key as tune headers: read from scores, moved by transposition, written to files, conditioning."""

from pathlib import Path

import pytest

import lstmininet
from lstmininet import LSTM
from lstmininet.cli import main
from lstmininet.conditioning import conditioned_primer, known_headers
from lstmininet.datasets import (
    augment_transpositions,
    load_melodies,
    load_melodies_with_report,
    save_melody_file,
    transpose_melody,
)
from lstmininet.metrics import in_scale_share
from lstmininet.midi import read_midi, tokens_to_stream, write_midi, write_musicxml
from lstmininet.pitch_mapping import PitchFitReport, fit_melody
from lstmininet.scores import LoadReport, score_to_tokens
from lstmininet.tokenizers import CharTokenizer, MelodyTokenizer
from lstmininet.tune_header import key_scale, transpose_key_token


def corpus_tune(path: str, number: int, folder: Path) -> Path:
    """One tune (by its X: number) of a music21 corpus ABC file, written alone so a test parses only it."""
    from music21 import common

    text = (Path(common.getCorpusFilePath()) / path).read_text(encoding="latin-1")
    tunes = {}
    for chunk in text.split("\nX:")[1:]:
        tunes[int(chunk.split("\n", 1)[0])] = "X:" + chunk
    out = folder / f"{Path(path).stem}-{number}.abc"
    out.write_text(tunes[number], encoding="utf-8")
    return out


def load_one(path: Path, **options) -> tuple[list[str], LoadReport]:
    melodies, report = load_melodies_with_report(path, off_grid="quantize", cache=False, progress=False, **options)
    assert len(melodies) == 1
    return melodies[0], report


# -- reading headers from scores -----------------------------------------------------


@pytest.mark.parametrize(
    "file, number, header",
    [
        ("oneills1850/0721-0730.abc", 721, ["M:6/8", "K:Dmaj"]),  # The Hag with the Money, a jig: M:6/8 K:D
        ("oneills1850/0759-0810.abc", 801, ["M:6/8", "K:Ddor"]),  # Con Casey's Jig: K:Ddor, a mode
        ("oneills1850/0001-0050.abc", 3, ["M:4/4", "K:Gmin"]),  # M:C (common time), K:Gm
    ],
)
def test_oneill_tunes_open_with_their_meter_and_key(tmp_path, file, number, header):
    melody, report = load_one(corpus_tune(file, number, tmp_path))
    without, _ = load_one(corpus_tune(file, number, tmp_path), headers=False)
    assert melody[:2] == header
    assert melody[2:] == without  # the notes are the same with or without the header
    assert report.songs_with_meter_changes == report.songs_with_key_changes == 0


def test_essen_songs_open_with_their_meter_and_key(tmp_path):
    melodies = load_melodies("essenFolksong/erk5.abc", cache_dir=tmp_path, progress=False)
    assert melodies[0][:2] == ["M:2/4", "K:Gmaj"]  # X:1 has "M: 2/4" and "K: G"
    assert all(m[0].startswith("M:") and m[1].startswith("K:") for m in melodies)  # every song has both fields


def test_a_meter_or_key_change_keeps_the_first_and_is_counted(tmp_path):
    from music21 import key, meter, note, stream

    # O'Neill's X:264 "I Leave You To Guess" goes from 5/4 to 6/8.
    melody, report = load_one(corpus_tune("oneills1850/0201-0300.abc", 264, tmp_path))
    assert melody[:2] == ["M:5/4", "K:Dmaj"]
    assert (report.songs_with_meter_changes, report.songs_with_key_changes) == (1, 0)
    assert "songs with meter changes: 1" in report.summary()
    # music21's ABC reader ignores K: fields inside a tune; MusicXML and built scores have key changes.
    first = stream.Measure([meter.TimeSignature("2/4"), key.Key("G"), note.Note(67, quarterLength=2)])
    second = stream.Measure([key.Key("F"), note.Note(65, quarterLength=2)])
    report = LoadReport()
    tokens = score_to_tokens(stream.Score([stream.Part([first, second])]), steps_per_quarter=1, report=report)
    assert tokens == ["M:2/4", "K:Gmaj", "67", "_", "65", "_"]
    assert (report.songs_with_meter_changes, report.songs_with_key_changes) == (0, 1)


def test_a_bare_key_signature_is_the_major_key_and_a_missing_field_has_no_token():
    from music21 import key, meter, note, stream

    part = stream.Part([key.KeySignature(-2), meter.TimeSignature("3/4"), note.Note(70), note.Note(74)])
    assert score_to_tokens(stream.Score([part]), steps_per_quarter=1) == ["M:3/4", "K:Bbmaj", "70", "74"]
    only_key = stream.Part([key.Key("e", "minor"), note.Note(64)])
    assert score_to_tokens(stream.Score([only_key]), steps_per_quarter=1) == ["K:Emin", "64"]
    bare = stream.Part([note.Note(64)])
    assert score_to_tokens(stream.Score([bare]), steps_per_quarter=1) == ["64"]
    assert score_to_tokens(stream.Score([only_key]), steps_per_quarter=1, headers=False) == ["64"]


def test_musicxml_corpus_work_and_a_meter_no_token_spells():
    from music21 import corpus, key, meter, note, stream

    chorale = score_to_tokens(corpus.parse("bach/bwv66.6"), off_grid="quantize")  # MusicXML, in F# minor
    assert chorale[:2] == ["M:4/4", "K:F#min"]
    report = LoadReport()
    odd = stream.Part([meter.TimeSignature("65/4"), key.Key("D"), note.Note(62)])  # numerators stop at 64
    assert score_to_tokens(stream.Score([odd]), steps_per_quarter=1, report=report) == ["K:Dmaj", "62"]
    assert report.header_values_dropped == 1 and "header values dropped: 1" in report.summary()


def test_headers_are_part_of_the_cache_key(tmp_path):
    tune = tmp_path / "tune.abc"
    tune.write_text("X:1\nM:3/4\nL:1/4\nK:Ador\nA B c|]\n")
    cache = tmp_path / "cache"
    with_header = load_melodies(tune, steps_per_quarter=1, cache_dir=cache, progress=False)
    without = load_melodies(tune, steps_per_quarter=1, cache_dir=cache, progress=False, headers=False)
    assert with_header == [["M:3/4", "K:Ador", "69", "71", "72"]]
    assert without == [["69", "71", "72"]]
    assert len(list(cache.glob("corpus-*.json"))) == 2
    cached, report = load_melodies_with_report(tune, steps_per_quarter=1, cache_dir=cache, progress=False)
    assert cached == with_header and report.from_cache


def test_headers_false_strips_them_from_a_melody_file(tmp_path):
    path = tmp_path / "tunes.txt"
    path.write_text("M:6/8 K:Dmaj 62 _ 64\n60 _\n")
    assert load_melodies(path) == [["M:6/8", "K:Dmaj", "62", "_", "64"], ["60", "_"]]
    assert load_melodies(path, headers=False) == [["62", "_", "64"], ["60", "_"]]


def test_a_sharp_key_survives_a_melody_file(tmp_path):
    # '#' starts a comment only at the start of a word: K:F#min is a key, not "K:F" and a comment.
    path = tmp_path / "tunes.txt"
    save_melody_file([["M:6/8", "K:F#min", "66", "_"]], path, header=["F# minor # and a comment"])
    path.write_text(path.read_text() + "60 _ #comment\n")
    assert load_melodies(path) == [["M:6/8", "K:F#min", "66", "_"], ["60", "_"]]


# -- transposition moves the key -------------------------------------------------------


@pytest.mark.parametrize(
    "token, semitones, moved",
    [
        ("K:Dmaj", 2, "K:Emaj"),
        ("K:Dmaj", -1, "K:Dbmaj"),  # 5 flats, not C# major's 7 sharps
        ("K:Bmin", 2, "K:C#min"),  # 4 sharps, not Db minor's 8 flats
        ("K:Cmaj", 6, "K:F#maj"),  # F# / Gb major tie at 6: C major has no flats, so sharps
        ("K:Fmaj", 1, "K:Gbmaj"),  # the same tie from a flat key: flats
        ("K:Ador", 2, "K:Bdor"),
        ("K:Emin", 1, "K:Fmin"),
        ("K:Amix", 1, "K:Bbmix"),  # 3 flats, not A# mixolydian's 9 sharps
        ("K:Gmaj", -12, "K:Gmaj"),
    ],
)
def test_transposing_moves_the_key_token_spelled_with_fewest_accidentals(token, semitones, moved):
    assert transpose_key_token(token, semitones) == moved


def test_transpose_melody_and_augmentation_move_the_key_and_keep_the_meter():
    tune = ["M:6/8", "K:Dmaj", "62", "_", "66"]
    assert transpose_melody(tune, 2) == ["M:6/8", "K:Emaj", "64", "_", "68"]
    assert augment_transpositions([tune], semitones=[-2, 0]) == [["M:6/8", "K:Cmaj", "60", "_", "64"], tune]


def test_transpose_to_c_moves_the_key_token_with_the_notes(tmp_path):
    # The Hag with the Money is in D major and analyses so: it moves down 2 to C major.
    path = corpus_tune("oneills1850/0721-0730.abc", 721, tmp_path)
    original, _ = load_one(path)
    moved, report = load_one(path, transpose="C")
    assert moved[:2] == ["M:6/8", "K:Cmaj"] and report.songs_transposed == 1
    assert moved[2:] == transpose_melody(original[2:], -2)


def test_transpose_to_c_of_a_melody_file_moves_its_key(tmp_path):
    path = tmp_path / "tunes.txt"
    path.write_text("M:2/4 K:Dmaj 62 64 66 67 69 71 73 74 _ _ 69 66 62 _ _ _\n")  # D major up and down
    (melody,) = load_melodies(path, transpose="C")
    assert melody[:3] == ["M:2/4", "K:Cmaj", "60"]


# -- MIDI and MusicXML carry the header ---------------------------------------------------

JIG = "M:6/8 K:Emin 64 _ 66 67 _ 69 71 _ _ _ _ _".split()


def test_midi_round_trip_keeps_meter_and_key(tmp_path):
    from music21 import converter, key, meter

    path = write_midi(JIG, tmp_path / "jig.mid", steps_per_quarter=2)
    parsed = converter.parse(path)
    assert [ts.ratioString for ts in parsed.recurse().getElementsByClass(meter.TimeSignature)][:1] == ["6/8"]
    keys = list(parsed.recurse().getElementsByClass(key.KeySignature))
    assert keys and keys[0].sharps == 1
    assert read_midi(path, steps_per_quarter=2) == JIG


def test_musicxml_round_trip_keeps_meter_and_a_modal_key(tmp_path):
    tune = ["M:3/4", "K:Ador", *JIG[2:]]
    path = write_musicxml(tune, tmp_path / "tune.musicxml", steps_per_quarter=2)
    assert read_midi(path, steps_per_quarter=2) == tune


def test_midi_keeps_a_modal_key_beside_its_signature(tmp_path):
    # A MIDI key signature is major or minor: A dorian is written as one sharp, its mode in a text event.
    from music21 import converter, key

    tune = ["M:6/8", "K:Ador", *JIG[2:]]
    path = write_midi(tune, tmp_path / "dorian.mid", steps_per_quarter=2)
    assert read_midi(path, steps_per_quarter=2) == tune
    plain = converter.parse(path)  # what another program sees: the signature of G major
    assert [k.sharps for k in plain.recurse().getElementsByClass(key.KeySignature)][:1] == [1]
    assert b"K:Ador" in path.read_bytes()
    assert b"K:Emin" not in write_midi(JIG, tmp_path / "minor.mid").read_bytes()  # major and minor need no text


def test_stream_without_header_is_in_four_four_as_before():
    from music21 import key, meter

    score = tokens_to_stream(["60", "_"])
    assert not list(score.recurse().getElementsByClass(meter.TimeSignature))
    assert not list(score.recurse().getElementsByClass(key.KeySignature))
    with_header = tokens_to_stream(["M:6/8", "K:Bbdor", "60", "_"])
    (signature,) = with_header.recurse().getElementsByClass(key.Key)
    assert (signature.tonic.name, signature.mode) == ("B-", "dorian")


# -- everything else skips the header -------------------------------------------------------


def test_fit_melody_keeps_known_header_tokens_and_leaves_out_unknown_ones():
    vocabulary = MelodyTokenizer.build([["M:6/8", "K:Dmaj", "62", "74"]])
    report = PitchFitReport()
    assert fit_melody(["M:6/8", "K:Dmaj", "50"], vocabulary, report) == ["M:6/8", "K:Dmaj", "62"]
    assert fit_melody(["M:3/4", "K:Dmaj", "62"], vocabulary, report) == ["K:Dmaj", "62"]
    assert report.header_tokens_dropped == 1 and "1 meter/key tokens" in report.summary()
    assert vocabulary.pitches == [62, 74]


def test_in_key_share_uses_the_key_token():
    # A dorian's F# is outside A minor; without a header the best diatonic scale holds all.
    notes = ["69", "71", "72", "74", "76", "78", "79", "81"]
    assert in_scale_share(["K:Ador", *notes], 4) == 1.0
    assert in_scale_share(["K:Amin", *notes], 4) == 7 / 8
    assert in_scale_share(notes, 4) == 1.0
    assert sorted(key_scale("K:Ador")) == [0, 2, 4, 6, 7, 9, 11]


# -- conditioning generation ----------------------------------------------------------------

TUNES = [["M:6/8", "K:Dmaj", "62", "_", "_", "66", "69", "_"], ["M:3/4", "K:Gmaj", "67", "_", "71", "_", "74", "_"]]


@pytest.fixture(scope="module")
def header_model():
    tokenizer = MelodyTokenizer.build(TUNES, add_bos_eos=True)
    model = LSTM(len(tokenizer), hidden_size=24, seed=0, tokenizer=tokenizer)
    model.fit([tokenizer.encode_melody(t) for t in TUNES * 8], epochs=30, batch_size=4, lr=0.03, progress=False)
    return model


def test_generate_feeds_start_token_then_header_then_primer(header_model):
    tok = header_model.tokenizer
    fed = tok.encode(["<s>", "M:6/8", "K:Dmaj"])
    assert header_model.generate(None, 20, meter="6/8", key="D", seed=3) == header_model.generate(fed, 20, seed=3)
    with_primer = tok.encode(["<s>", "M:6/8", "K:Dmaj", "62", "d2"])  # pitch + duration tokens (the default)
    for primer in (tok.encode(["62", "d2"]), tok.encode(["<s>", "62", "d2"])):  # <s> is not repeated
        assert header_model.generate(primer, 20, meter="6/8", key="D", seed=3) == header_model.generate(
            with_primer, 20, seed=3
        )
    batched = header_model.generate([], 20, meter="3/4", seed=5, num_samples=3)
    assert batched == header_model.generate(tok.encode(["<s>", "M:3/4"]), 20, seed=5, num_samples=3)


def test_a_trained_model_follows_the_header(header_model):
    tok = header_model.tokenizer
    for meter, key in (("6/8", "K:Dmaj"), ("3/4", "K:Gmaj")):
        ids = header_model.generate([], 1, meter=meter, temperature=0)
        assert tok.decode(ids) == [key]  # learnt: 6/8 tunes are in D, 3/4 tunes in G


def test_conditioning_errors_name_the_meter_or_key_and_list_the_known_ones(header_model):
    with pytest.raises(ValueError, match=r"meter '5/4' \(M:5/4\) is not in this model's vocabulary; it knows 3/4, 6/8"):
        header_model.generate([], 5, meter="5/4")
    with pytest.raises(ValueError, match=r"key 'Em' \(K:Emin\) is not in this model's vocabulary; it knows Dmaj, Gmaj"):
        header_model.generate([], 5, key="Em")
    with pytest.raises(ValueError, match="key 'H'"):
        header_model.generate([], 5, key="H")
    tok = header_model.tokenizer
    with pytest.raises(ValueError, match=r"meter '3/4' \(M:3/4\) but the primer starts with M:6/8"):
        header_model.generate(tok.encode(["<s>", "M:6/8"]), 5, meter="3/4")
    assert known_headers(tok) == (["3/4", "6/8"], ["Dmaj", "Gmaj"])


def test_a_key_is_found_under_the_vocabularys_spelling():
    # --key A# was refused although the model knew K:Bbmaj, the same key
    tok = MelodyTokenizer.build([["K:Bbmaj", "70", "_"], ["K:F#min", "66", "_"]], add_bos_eos=True)
    assert conditioned_primer(tok, key="A#") == ["K:Bbmaj"]
    assert conditioned_primer(tok, key="Gbm") == ["K:F#min"]
    assert conditioned_primer(tok, key="F#m") == ["K:F#min"]
    with pytest.raises(ValueError, match=r"key 'A#m' \(K:A#min\) is not in this model's vocabulary"):
        conditioned_primer(tok, key="A#m")  # B-flat minor is another key


def test_models_without_headers_say_they_cannot_be_conditioned():
    plain = MelodyTokenizer.build([["60", "_", "62"]], add_bos_eos=True)
    with pytest.raises(ValueError, match="trained on tunes without meter tokens"):
        LSTM(len(plain), hidden_size=4, tokenizer=plain).generate([], 5, meter="6/8")
    text = CharTokenizer.build("abc")
    with pytest.raises(ValueError, match="meter and key condition melody models; this model has a char tokenizer"):
        LSTM(len(text), hidden_size=4, tokenizer=text).generate([0], 5, key="D")
    with pytest.raises(ValueError, match="this model has no tokenizer"):
        LSTM(5, hidden_size=4).generate([0], 5, meter="6/8")
    assert conditioned_primer(plain, ["<s>", "62"]) == ["62"]  # the start token is the caller's to add, once


def test_done_when_a_generated_six_eight_tune_reads_back_in_six_eight(tmp_path):
    # Two O'Neill tunes with headers (a 6/8 jig, a 3/4 air), a few epochs; the 6/8 tune's MIDI read by music21.
    from music21 import converter, meter

    tunes = [load_one(corpus_tune("oneills1850/0721-0730.abc", 721, tmp_path))[0]]
    tunes.append(load_one(corpus_tune("oneills1850/0051-0100.abc", 61, tmp_path))[0])
    assert [t[0] for t in tunes] == ["M:6/8", "M:3/4"]
    tok = MelodyTokenizer.build(tunes, add_bos_eos=True)
    model = LSTM(len(tok), hidden_size=32, seed=0, tokenizer=tok)
    model.fit([tok.encode_melody(t) for t in tunes], epochs=3, seq_len=64, lr=0.01, progress=False)

    primer = tok.encode(["<s>", *conditioned_primer(tok, meter="6/8")])
    ids = model.generate(primer, 300, meter="6/8", seed=1, stop_token=tok.encode(["</s>"])[0])
    tune = tok.decode_melody(primer + ids)
    assert tune[0] == "M:6/8"
    parsed = converter.parse(write_midi(tune, tmp_path / "jig.mid"))
    assert [ts.ratioString for ts in parsed.recurse().getElementsByClass(meter.TimeSignature)][:1] == ["6/8"]


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("header_model")
    data = folder / "tunes.txt"
    data.write_text("\n".join(" ".join(t) for t in TUNES * 4) + "\n")
    model = folder / "tiny.lmn"
    flags = ["--epochs", "20", "--hidden", "16", "--lr", "0.03", "--batch-size", "4", "--quiet", "--val-fraction", "0"]
    assert main(["train", str(data), "--out", str(model), *flags]) == 0
    return model


def _printed_tunes(out: str) -> list[list[str]]:
    """The tunes `generate` printed, as token lists (its Melody.txt grid line is a '#' line)."""
    return [line.split() for line in out.splitlines() if line.strip() and not line.startswith("#")]


def test_cli_generate_with_meter_and_key_writes_them(cli_model, tmp_path, capsys):
    from music21 import converter, key, meter

    code = main(["generate", str(cli_model), "--meter", "6/8", "--key", "D", "--seed", "1", "--length", "30",
                 "--midi", str(tmp_path / "jig.mid")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert _printed_tunes(out)[0][:2] == ["M:6/8", "K:Dmaj"]
    parsed = converter.parse(tmp_path / "jig.mid")
    assert next(parsed.recurse().getElementsByClass(meter.TimeSignature)).ratioString == "6/8"
    assert next(parsed.recurse().getElementsByClass(key.KeySignature)).sharps == 2


def test_cli_generate_names_an_unknown_meter_and_info_lists_the_known(cli_model, capsys):
    assert main(["generate", str(cli_model), "--meter", "9/8"]) == 2
    err = capsys.readouterr().err
    assert "meter '9/8' (M:9/8) is not in this model's vocabulary; it knows 3/4, 6/8" in err
    assert main(["info", str(cli_model)]) == 0
    out = capsys.readouterr().out
    assert "meters      3/4 6/8" in out and "keys        Dmaj Gmaj" in out


def test_cli_generate_stops_at_the_tune_end(cli_model, capsys):
    model = lstmininet.load(cli_model)
    tok = model.tokenizer
    assert main(["generate", str(cli_model), "--meter", "3/4", "--seed", "2", "--length", "500"]) == 0
    (printed,) = _printed_tunes(capsys.readouterr().out)
    primer = tok.encode(["<s>", "M:3/4"])
    # the CLI samples its tunes in one batched pass: tune 0 draws from sample_seed(seed, 0)
    ids = model.generate(primer, 500, seed=lstmininet.sample_seed(2, 0), stop_token=tok.encode(["</s>"])[0])
    assert ids[-1] == tok.encode(["</s>"])[0] and len(ids) < 500  # the sampled tune ended
    assert printed == tok.decode_melody(primer + ids)


def test_cli_reports_a_tune_that_ends_right_after_its_header_as_empty(tmp_path, capsys):
    # A model that learnt only "<s> M:6/8 </s>" ends every tune at once: nothing to write, and no crash.
    data = tmp_path / "tunes.txt"
    data.write_text("M:6/8 60\n" * 2)
    model = tmp_path / "m.lmn"
    assert main(["train", str(data), "--out", str(model), "--epochs", "1", "--quiet", "--val-fraction", "0"]) == 0
    trained = lstmininet.load(model)
    tok = trained.tokenizer
    state = trained.state_dict()
    state["fc.bias"][:] = -50.0
    state["fc.bias"][tok.encode(["</s>"])[0]] = 50.0  # always end the tune
    trained.load_state_dict(state)
    trained.save(model)
    # no tune at all came out: an error (status 2), not a silent success
    assert main(["generate", str(model), "--meter", "6/8", "--midi", str(tmp_path / "t.mid")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "melody 1: empty (the model ended the song before its first note)" in captured.err
    assert "no tune came out, the sample was empty" in captured.err
    assert not (tmp_path / "t.mid").exists()


def test_cli_primer_may_carry_a_header_that_meter_and_key_complete(cli_model, capsys):
    args = ["generate", str(cli_model), "--seed", "3", "--length", "10"]
    assert main([*args, "--primer", "M:6/8 62 _", "--key", "D"]) == 0
    assert _printed_tunes(capsys.readouterr().out)[0][:4] == ["M:6/8", "K:Dmaj", "62", "_"]
    assert main([*args, "--primer", "M:3/4 67", "--meter", "6/8"]) == 2
    assert "meter '6/8' (M:6/8) but the primer starts with M:3/4" in capsys.readouterr().err
    assert main([*args, "--primer", "K:F#min 66"]) == 2
    assert "the primer's key K:F#min is not in this model's vocabulary; it knows Dmaj, Gmaj" in capsys.readouterr().err


def test_evaluate_a_model_without_headers_on_tunes_with_them(tmp_path, capsys):
    data = tmp_path / "plain.txt"
    data.write_text("67 _ 69 _ 71 _ _ _\n" * 4)
    model = tmp_path / "plain.lmn"
    assert main(["train", str(data), "--out", str(model), "--epochs", "1", "--quiet", "--val-fraction", "0"]) == 0
    tune = tmp_path / "tune.abc"
    tune.write_text("X:1\nM:2/4\nL:1/8\nK:G\nG A B2|]\n")  # read as M:2/4 K:Gmaj 67 _ 69 _ 71 _ _ _
    assert main(["evaluate", str(model), str(tune), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "2 meter/key tokens the model does not know left out" in captured.err
    # The notes (pitch + duration: 67 d2 69 d2 71 d4) and </s> are scored; the header is not.
    assert "(7 tokens)" in captured.out
