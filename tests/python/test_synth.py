"""The built-in synthesiser (lstmininet.synth) and `generate --wav`.

Expected frequencies are the equal-tempered table's (A4 = 440 Hz), written
out, and durations are counted from the tokens here, not by the synthesiser.
"""

from __future__ import annotations

import math
import re
import wave
from pathlib import Path

import numpy as np
import pytest

from lstmininet.cli import main
from lstmininet.synth import render_melody, write_wav

RATE = 22050


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as f:
        params = f.getparams()
        samples = np.frombuffer(f.readframes(params.nframes), dtype="<i2")
    return params, samples


def seconds(steps: int, steps_per_quarter: int, tempo: float) -> float:
    return steps / steps_per_quarter * 60 / tempo


def dominant_frequency(segment: np.ndarray, sample_rate: int) -> float:
    """The strongest frequency in a segment: Hann window, FFT zero-padded to bins of rate / (16 * length)."""
    size = 16 * len(segment)
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=size))
    return float(np.argmax(spectrum)) * sample_rate / size


# -- the waveform ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "steps", "steps_per_quarter", "tempo", "sample_rate"),
    [
        ("60 _ _ _ r _ 64 _ _", 9, 4, 120, 22050),
        ("M:6/8 K:Dmaj 62 _ _ 64 66 _ 67 _ _ _ _ _ r _ _", 15, 12, 90, 44100),  # header: no time
        ("72", 1, 4, 333.3, 22050),  # one short note, a tempo that rounds the length
    ],
)
def test_length_is_the_melody_duration_at_the_tempo(tokens, steps, steps_per_quarter, tempo, sample_rate):
    waveform = render_melody(tokens.split(), steps_per_quarter=steps_per_quarter, tempo=tempo, sample_rate=sample_rate)
    assert waveform.ndim == 1
    assert len(waveform) == round(seconds(steps, steps_per_quarter, tempo) * sample_rate)


def test_each_note_sounds_at_its_pitch():
    # Tempo 60: a quarter note (4 steps) lasts one second.
    waveform = render_melody("57 _ _ _ 69 _ _ _ 76 _ _ _".split(), steps_per_quarter=4, tempo=60, sample_rate=RATE)
    for index, expected_hz in enumerate((220.0, 440.0, 659.26)):  # A3, A4, E5
        note = waveform[index * RATE : (index + 1) * RATE]
        middle = note[RATE // 4 : 3 * RATE // 4]
        assert dominant_frequency(middle, RATE) == pytest.approx(expected_hz, abs=0.5)


def test_a_header_changes_nothing_audible():
    plain = render_melody("62 _ 66 _ 69 _ _ _".split(), steps_per_quarter=4)
    with_header = render_melody("M:6/8 K:Dmaj 62 _ 66 _ 69 _ _ _".split(), steps_per_quarter=4)
    np.testing.assert_array_equal(plain, with_header)


def test_rests_are_silent_and_notes_are_not():
    tokens = "r _ 60 _ r _ _ 62 _ r".split()
    waveform = render_melody(tokens, steps_per_quarter=4, tempo=130, sample_rate=RATE)  # steps of 2544.2 samples

    def samples(first: int, end: int) -> np.ndarray:
        return waveform[round(seconds(first, 4, 130) * RATE) : round(seconds(end, 4, 130) * RATE)]

    for first, end in [(0, 2), (4, 7), (9, 10)]:
        assert not np.any(samples(first, end)), (first, end)
    for first, end in [(2, 4), (7, 9)]:
        assert np.max(np.abs(samples(first, end))) > 0.3, (first, end)


def test_only_rests_give_silence():
    assert not np.any(render_melody("r _ _ _".split(), steps_per_quarter=4))


def test_no_clicks_where_notes_meet():
    # Legato steps of different sizes, a repeated pitch, very short notes (1/12 of a quarter at 200 bpm,
    # 25 ms) and notes running into rests: around every boundary the signal is near zero and changes little.
    tokens = "60 _ _ 67 55 _ 55 55 72 r 74 _ _ _ _ 50 62 r _ 64".split()
    tempo, steps_per_quarter = 200, 12
    waveform = render_melody(tokens, steps_per_quarter=steps_per_quarter, tempo=tempo, sample_rate=RATE)
    onsets = [i for i, t in enumerate(tokens) if t != "_"]
    boundaries = [round(seconds(i, steps_per_quarter, tempo) * RATE) for i in onsets[1:]]
    for b in boundaries:
        around = waveform[b - 2 : b + 2]
        assert np.max(np.abs(np.diff(around))) < 0.01, b
        assert np.max(np.abs(around)) < 0.01, b
    # The bound has teeth: inside the notes the signal moves by far more per sample.
    assert np.max(np.abs(np.diff(waveform))) > 0.1


def test_peak_is_normalised_without_clipping():
    loud_and_soft = render_melody("40 _ _ _ 100 _".split(), steps_per_quarter=4)
    assert 0.85 <= np.max(np.abs(loud_and_soft)) <= 1.0
    highest = render_melody(
        "127 _ _ _".split(), steps_per_quarter=4, sample_rate=44100
    )  # 12.5 kHz: only the fundamental fits
    assert 0.85 <= np.max(np.abs(highest)) <= 1.0
    assert dominant_frequency(highest[5000:15000], 44100) == pytest.approx(12543.85, abs=1.0)


# -- WAV files -----------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [22050, 44100])
def test_wav_file_reads_back(tmp_path, sample_rate):
    tokens = "67 _ _ _ 69 _ 71 _ r _ 72 _ _ _".split()  # 14 steps
    path = write_wav(tokens, tmp_path / "tune.wav", steps_per_quarter=4, tempo=100, sample_rate=sample_rate)
    assert path == tmp_path / "tune.wav"
    params, samples = read_wav(path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, sample_rate)
    assert params.nframes == round(seconds(14, 4, 100) * sample_rate)
    assert 0.85 * 32767 <= np.max(np.abs(samples.astype(np.int32))) < 32767
    assert [p.name for p in tmp_path.iterdir()] == ["tune.wav"]  # no temporary file left


def test_wav_file_is_replaced_whole(tmp_path):
    path = tmp_path / "tune.wav"
    write_wav("60 _ _ _ _ _ _ _".split(), path, steps_per_quarter=4)
    write_wav("60 _".split(), path, steps_per_quarter=4)
    params, _ = read_wav(path)
    assert params.nframes == round(seconds(2, 4, 120) * params.framerate)


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "fragment"),
    [
        ([], "empty melody"),
        (["M:6/8", "K:Dmaj"], "only a header"),
        (["60", "x"], "'x'"),
        (["_", "60"], "hold cannot start"),
        (["200"], "outside 0..127"),
    ],
)
def test_bad_melodies_are_named(tmp_path, tokens, fragment):
    with pytest.raises(ValueError, match=fragment):
        write_wav(tokens, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


def test_a_string_is_not_a_melody():
    with pytest.raises(TypeError, match="split"):
        render_melody("60 _ 62 _")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"tempo": 0}, "tempo 0"),
        ({"tempo": -120}, "tempo -120"),
        ({"tempo": math.nan}, "tempo nan"),
        ({"steps_per_quarter": 0}, "steps_per_quarter 0"),
        ({"sample_rate": 100}, "sample_rate 100"),
        ({"sample_rate": 22050.5}, "sample_rate 22050.5"),
        ({"sample_rate": 22050, "tokens": "60 125"}, "pitch 125 .* too high for sample_rate 22050"),
    ],
)
def test_bad_settings_are_named(options, fragment):
    options = dict(options)  # the parameters are shared between runs: leave them whole
    tokens = options.pop("tokens", "60 _").split()
    with pytest.raises(ValueError, match=fragment):
        render_melody(tokens, **options)


def test_hours_of_audio_are_refused():
    # At 4 quarters per minute (1 is below the tempos a MIDI file stores), 241 quarters last 60.25 minutes.
    with pytest.raises(ValueError, match="at most 3600 s"):
        render_melody(["60", *["_"] * 240], steps_per_quarter=1, tempo=4)


@pytest.mark.parametrize("tempo", [3.6, 300])
def test_tempos_midi_can_store_render(tempo):
    waveform = render_melody("60 _ 62 _".split(), steps_per_quarter=4, tempo=tempo, sample_rate=8000)
    assert len(waveform) == round(seconds(4, 4, tempo) * 8000)


@pytest.mark.parametrize("tempo", [3.5, 1e12])
def test_tempos_midi_cannot_store_write_no_wav(tmp_path, tempo):
    # 1e12 rendered no samples at all: a WAV file of 44 header bytes, written without a word.
    expected = rf"tempo {re.escape(repr(tempo))}: expected 3\.576279 to 60,000,000 quarter notes per minute"
    with pytest.raises(ValueError, match=expected):
        write_wav(["60", "_"], tmp_path / "x.wav", tempo=tempo)
    assert not (tmp_path / "x.wav").exists()


def test_a_tempo_too_fast_for_the_sample_rate_writes_no_wav(tmp_path):
    # A MIDI file stores 1,000,000 quarters per minute, but a step lasts 0.22 samples at 44100 Hz.
    with pytest.raises(ValueError, match=r"tempo 1e\+06 is too fast for sample_rate 44100: a note of 1 step"):
        write_wav(["60", "62", "_", "_", "_", "_"], tmp_path / "x.wav", tempo=1e6, sample_rate=44100)
    with pytest.raises(ValueError, match=r"tempo 6e\+07 is too fast for sample_rate 8000: the melody would last"):
        write_wav(["r", "_"], tmp_path / "x.wav", tempo=6e7, sample_rate=8000)
    assert not (tmp_path / "x.wav").exists()


def test_paths_that_cannot_be_written_are_named(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        write_wav(["60"], tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.*does not exist"):
        write_wav(["60"], tmp_path / "missing" / "x.wav")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="notes.txt is not a folder"):
        write_wav(["60"], a_file / "x.wav")


def test_an_os_refusal_names_the_target_not_the_temporary_file():
    target = Path("/proc/lstmininet_test.wav")  # /proc takes no new files, not even from root
    if not target.parent.is_dir():
        pytest.skip("no /proc here")
    with pytest.raises(OSError, match="cannot write the WAV file") as caught:
        write_wav(["60"], target)
    assert caught.value.filename == str(target)


# -- the command line -------------------------------------------------------------


@pytest.fixture(scope="module")
def melody_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth_model")
    data = folder / "Melody.txt"
    data.write_text("60 _ 62 _ 64 _ _ _ r _ 67 _ 65 _ 64 _ 62 _ 60 _ _ _\n" * 3, encoding="utf-8")
    model = folder / "tiny.lmn"
    assert main(["train", str(data), "--out", str(model), "--epochs", "1", "--hidden", "8", "--quiet"]) == 0
    return model


def test_generate_wav_numbers_the_files_like_midi(melody_model, tmp_path, capsys):
    argv = ["generate", melody_model, "--count", "2", "--seed", "3", "--length", "24", "--primer", "60 _ 62 _"]
    code = main([str(a) for a in [*argv, "--tempo", "150", "--wav", tmp_path / "out.wav"]])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [line for line in out.strip().splitlines() if not line.startswith("#")]  # after the grid line
    assert len(lines) == 2
    assert "out_1.wav" in err and "numbered" in err
    for index, line in enumerate(lines, start=1):
        params, _ = read_wav(tmp_path / f"out_{index}.wav")
        steps = len([t for t in line.split() if not t.startswith(("M:", "K:"))])
        assert params.nframes == round(seconds(steps, 4, 150) * params.framerate), line
    assert not (tmp_path / "out.wav").exists()


def test_generate_single_wav_keeps_the_given_name(melody_model, tmp_path, capsys):
    code = main(["generate", str(melody_model), "--seed", "1", "--length", "16", "--wav", str(tmp_path / "one.wav")])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert read_wav(tmp_path / "one.wav")[0].nchannels == 1


def test_generate_wav_with_a_bad_tempo_is_a_one_line_error(melody_model, tmp_path, capsys):
    code = main(["generate", str(melody_model), "--tempo", "0", "--wav", str(tmp_path / "x.wav")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("lstmininet: error: tempo 0")
    assert not (tmp_path / "x.wav").exists()


def test_generate_wav_with_a_tempo_midi_cannot_store_is_a_one_line_error(melody_model, tmp_path, capsys):
    argv = ["generate", melody_model, "--seed", "1", "--length", "16", "--primer", "60 _ 62 _", "--tempo", "1e12"]
    code = main([str(a) for a in [*argv, "--wav", tmp_path / "fast.wav"]])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("lstmininet: error: tempo 1000000000000.0: expected 3.576279")
    assert not (tmp_path / "fast.wav").exists()


def test_generate_wav_refuses_a_text_model(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("abcabcabc abc\n" * 20, encoding="utf-8")
    model = tmp_path / "chars.lmn"
    train = ["train", text, "--text", "--out", model, "--seq-len", "8", "--epochs", "1", "--hidden", "8", "--quiet"]
    assert main([str(a) for a in train]) == 0
    code = main(["generate", str(model), "--primer", "ab", "--wav", str(tmp_path / "x.wav")])
    _, err = capsys.readouterr()
    assert code == 2
    assert "--wav" in err and "melody model" in err
    assert not (tmp_path / "x.wav").exists()
